import { generateKeyPair, exportPKCS8, exportJWK, jwtVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi, afterEach } from 'vitest';
import { keysSchema } from '../../src/config/tokens.js';
import { Jwt } from '../../src/oauth/jwt.js';
import { SigningKeys } from '../../src/oauth/keys.js';
import { MemoryStore, createMemoryBacking } from '../../src/store/memory.js';

const ISSUER = 'http://127.0.0.1:4000';
afterEach(() => vi.useRealTimers());

describe('signing keys', () => {
  it('generates one key on first start and shares it through the store', async () => {
    const backing = createMemoryBacking();
    const a = new SigningKeys(new MemoryStore({ backing }), keysSchema.parse({}), 900);
    const b = new SigningKeys(new MemoryStore({ backing }), keysSchema.parse({}), 900);
    await Promise.all([a.init(), b.init()]);
    expect(a.jwks().keys).toHaveLength(1);
    expect(b.current().kid).toBe(a.current().kid);
  });

  it('publishes the next key before it signs; old tokens still verify; retired keys leave later', async () => {
    const store = new MemoryStore();
    const keys = new SigningKeys(store, keysSchema.parse({ publish_ahead_s: 3600 }), 900);
    await keys.init();
    const jwt = new Jwt(keys, ISSUER);
    const before = await jwt.sign({ iss: ISSUER, sub: 'u1', exp: Math.floor(Date.now() / 1000) + 600 }, 'JWT');
    const firstKid = keys.current().kid;

    await keys.rotate();
    expect(keys.jwks().keys.map((k) => k.kid)).toHaveLength(2);
    // Published ahead: the old key still signs.
    expect(keys.current().kid).toBe(firstKid);

    vi.useFakeTimers({ now: Date.now() + 3601_000, toFake: ['Date'] });
    const secondKid = keys.current().kid;
    expect(secondKid).not.toBe(firstKid);
    const after = await jwt.sign({ iss: ISSUER, sub: 'u2', exp: Math.floor(Date.now() / 1000) + 600 }, 'JWT');
    expect(decodeProtectedHeader(after).kid).toBe(secondKid);
    // A token signed before the rotation still verifies against the published JWKS.
    const jwks = createLocalJWKSet(keys.jwks());
    await expect(
      jwtVerify(before, jwks, { issuer: ISSUER, currentDate: new Date(Date.now() - 3601_000) }),
    ).resolves.toBeDefined();
    await expect(jwtVerify(after, jwks, { issuer: ISSUER })).resolves.toBeDefined();

    // Once the new key has signed for longer than any token lives, the next rotation drops the old one.
    vi.setSystemTime(Date.now() + 1000_000);
    await keys.rotate();
    const kids = keys.jwks().keys.map((k) => k.kid);
    expect(kids).not.toContain(firstKid);
    expect(kids).toContain(secondKid);
  });

  it('rotates on its own when the newest key is older than rotation_days', async () => {
    const store = new MemoryStore();
    const keys = new SigningKeys(store, keysSchema.parse({ rotation_days: 1, publish_ahead_s: 0 }), 900);
    await keys.init();
    const first = keys.current().kid;
    vi.useFakeTimers({ now: Date.now() + 2 * 86_400_000, toFake: ['Date'] });
    await keys.rotateIfDue();
    expect(keys.current().kid).not.toBe(first);
  });

  it.each(['ES256', 'EdDSA', 'RS256'] as const)('signs and verifies with %s', async (algorithm) => {
    const keys = new SigningKeys(new MemoryStore(), keysSchema.parse({ algorithm }), 900);
    await keys.init();
    const jwt = new Jwt(keys, ISSUER);
    const token = await jwt.sign({ iss: ISSUER, sub: 'x', exp: Math.floor(Date.now() / 1000) + 60 }, 'at+jwt');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: algorithm, typ: 'at+jwt' });
    await expect(jwt.verify(token, 'at+jwt')).resolves.toMatchObject({ sub: 'x' });
    // The typ header is checked: an access token is not accepted as an ID token and vice versa.
    await expect(jwt.verify(token, 'JWT')).rejects.toThrow();
  });

  it('loads PEM and JWK key files; the first signs, all are published', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lb-keys-'));
    const { privateKey: one } = await generateKeyPair('ES256', { extractable: true });
    const { privateKey: two } = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(join(dir, 'one.pem'), await exportPKCS8(one));
    writeFileSync(join(dir, 'two.jwk'), JSON.stringify({ ...(await exportJWK(two)), kid: 'second' }));
    const keys = new SigningKeys(
      new MemoryStore(),
      keysSchema.parse({ algorithm: 'ES256', files: [join(dir, 'one.pem'), join(dir, 'two.jwk')] }),
      900,
    );
    await keys.init();
    expect(keys.jwks().keys.map((k) => k.kid)).toEqual([keys.current().kid, 'second']);
    for (const key of keys.jwks().keys) expect(key).not.toHaveProperty('d');
    await expect(keys.rotate()).rejects.toThrow(/replacing the files/);
  });
});
