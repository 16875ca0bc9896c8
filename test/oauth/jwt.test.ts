import {
  CompactSign,
  createLocalJWKSet,
  decodeProtectedHeader,
  importJWK,
  jwtVerify,
  SignJWT,
  type JWTPayload,
} from 'jose';
import { sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { keysSchema } from '../../src/config/tokens.js';
import { Jwt } from '../../src/oauth/jwt.js';
import { SigningKeys } from '../../src/oauth/keys.js';
import { MemoryStore } from '../../src/store/memory.js';

/**
 * The broker verifies its own tokens with node:crypto (src/oauth/jwt.ts), not jose: every check
 * jose made is written out there, and each has a case here. Forged tokens are signed with the
 * broker's own private key through jose, so only the check under test can refuse them.
 */
const ISSUER = 'http://127.0.0.1:4000';
const now = () => Math.floor(Date.now() / 1000);

describe.each(['RS256', 'ES256', 'EdDSA'] as const)('own JWTs with %s', (algorithm) => {
  let keys: SigningKeys;
  let jwt: Jwt;
  let other: SigningKeys;
  const claims = (): JWTPayload => ({ iss: ISSUER, sub: 'u1', aud: 'web', iat: now(), exp: now() + 60, jti: 'j1' });
  /** Signed with our current private key by jose, with any header. */
  const forge = async (payload: JWTPayload, header: Record<string, unknown>, from = keys) => {
    const key = from.current();
    return new SignJWT(payload)
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header } as never)
      .sign(await importJWK(key.privateJwk, key.alg));
  };
  /** Signed with node:crypto and any header at all (jose will not sign an unknown crit). */
  const raw = (payload: JWTPayload, header: Record<string, unknown>) => {
    const key = keys.current();
    const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${b64({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })}.${b64(payload)}`;
    const signer = key.alg === 'ES256' ? { key: key.privateKey, dsaEncoding: 'ieee-p1363' as const } : key.privateKey;
    return `${input}.${sign(key.alg === 'EdDSA' ? null : 'sha256', Buffer.from(input), signer).toString('base64url')}`;
  };
  const refused = (token: string, typ: 'JWT' | 'at+jwt' = 'at+jwt', options = {}) =>
    expect(() => jwt.verifyNow(token, typ, options)).toThrow();

  beforeAll(async () => {
    keys = new SigningKeys(new MemoryStore(), keysSchema.parse({ algorithm }), 900);
    await keys.init();
    jwt = new Jwt(keys, ISSUER);
    other = new SigningKeys(new MemoryStore(), keysSchema.parse({ algorithm }), 900);
    await other.init();
  });

  it('signs a JWS that jose verifies against the published JWKS, with the header {alg, kid, typ}', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    expect(decodeProtectedHeader(token)).toEqual({ alg: algorithm, kid: keys.current().kid, typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), { issuer: ISSUER, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'u1', jti: 'j1' });
  });

  it('verifies what jose signs with the same key, and what it signs itself', async () => {
    expect(jwt.verifyNow(await forge(claims(), {}), 'at+jwt').payload).toMatchObject({ sub: 'u1' });
    expect(jwt.verifyNow(await jwt.sign(claims(), 'JWT'), 'JWT').payload).toMatchObject({ sub: 'u1' });
    // typ compares as RFC 7515 §4.1.9 says: case-insensitive, the application/ prefix optional.
    expect(jwt.verifyNow(await forge(claims(), { typ: 'application/AT+JWT' }), 'at+jwt').payload).toMatchObject({
      sub: 'u1',
    });
  });

  it('refuses alg none (RFC 8725 §3.1)', async () => {
    const [, body] = (await jwt.sign(claims(), 'at+jwt')).split('.');
    const head = Buffer.from(JSON.stringify({ alg: 'none', kid: keys.current().kid, typ: 'at+jwt' })).toString(
      'base64url',
    );
    expect(() => jwt.verifyNow(`${head}.${body}.`, 'at+jwt')).toThrow();
    expect(() => jwt.verifyNow(`${head}.${body}.AAAA`, 'at+jwt')).toThrow();
  });

  it('refuses an alg other than the key’s, and one that is not ours', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    const [, body, signature] = token.split('.');
    for (const alg of ['HS256', 'RS512', 'PS256', algorithm === 'ES256' ? 'RS256' : 'ES256']) {
      const head = Buffer.from(JSON.stringify({ alg, kid: keys.current().kid, typ: 'at+jwt' })).toString('base64url');
      refused(`${head}.${body}.${signature}`);
    }
  });

  it('refuses a kid we do not publish, no kid, and a token signed by a key of another issuer', async () => {
    refused(await forge(claims(), { kid: 'not-ours' }));
    refused(await forge(claims(), { kid: undefined }));
    refused(await forge(claims(), {}, other));
    // Another key under our kid: the signature fails.
    refused(await forge(claims(), { kid: keys.current().kid }, other));
  });

  it('refuses a tampered payload, header or signature', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    const [head, body, signature] = token.split('.') as [string, string, string];
    const changed = Buffer.from(JSON.stringify({ ...claims(), sub: 'admin' })).toString('base64url');
    refused(`${head}.${changed}.${signature}`);
    const otherHead = Buffer.from(JSON.stringify({ alg: algorithm, kid: keys.current().kid, typ: 'JWT' })).toString(
      'base64url',
    );
    refused(`${otherHead}.${body}.${signature}`, 'JWT');
    const flipped = Buffer.from(signature, 'base64url');
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    refused(`${head}.${body}.${flipped.toString('base64url')}`);
    refused(`${head}.${body}.${signature.slice(0, -4)}`);
    // Not the compact serialization of RFC 7515 §7.1.
    refused(`${head}.${body}`);
    refused(`${head}.${body}.${signature}.x`);
    refused(`${head}.${body}.${signature}=`);
    refused(`${head}.${body}.${signature.slice(0, 10)}+${signature.slice(11)}`);
    refused(`${Buffer.from('[1]').toString('base64url')}.${body}.${signature}`);
  });

  it('refuses a crit or b64 header (RFC 7515 §4.1.11, RFC 7797): we never issue them', async () => {
    expect(jwt.verifyNow(raw(claims(), {}), 'at+jwt').payload).toMatchObject({ sub: 'u1' });
    refused(raw(claims(), { crit: ['exp'], exp: 1 }));
    refused(raw(claims(), { b64: true, crit: ['b64'] }));
    refused(raw(claims(), { b64: false, crit: ['b64'] }));
  });

  it('refuses an expired token, exp equal to now, and one not yet valid; ignoreExpiry lets exp pass', async () => {
    const expired = await jwt.sign({ ...claims(), exp: now() - 1 }, 'at+jwt');
    refused(expired);
    refused(await jwt.sign({ ...claims(), exp: now() }, 'at+jwt'));
    refused(await jwt.sign({ ...claims(), nbf: now() + 60 }, 'at+jwt'));
    expect(jwt.verifyNow(expired, 'at+jwt', { ignoreExpiry: true }).payload).toMatchObject({ sub: 'u1' });
    // ignoreExpiry skips exp only: a past nbf still passes, a future one is still refused.
    const expiredWithNbf = await jwt.sign({ ...claims(), nbf: now() - 120, exp: now() - 1 }, 'at+jwt');
    expect(jwt.verifyNow(expiredWithNbf, 'at+jwt', { ignoreExpiry: true }).payload).toMatchObject({ sub: 'u1' });
    const early = await jwt.sign({ ...claims(), nbf: now() + 60 }, 'at+jwt');
    expect(() => jwt.verifyNow(early, 'at+jwt', { ignoreExpiry: true })).toThrow();
  });

  it('refuses NumericDate claims that are not numbers (RFC 7519 §2)', async () => {
    refused(await jwt.sign({ ...claims(), exp: '9999999999' as never }, 'at+jwt'));
    refused(await jwt.sign({ ...claims(), iat: 'now' as never }, 'at+jwt'));
    refused(await jwt.sign({ ...claims(), nbf: '0' as never }, 'at+jwt'));
  });

  it('refuses the wrong typ (RFC 9068 §4): an ID token is not an access token, nor the reverse', async () => {
    refused(await jwt.sign(claims(), 'JWT'), 'at+jwt');
    refused(await jwt.sign(claims(), 'at+jwt'), 'JWT');
    refused(await forge(claims(), { typ: undefined }), 'at+jwt');
    refused(await forge(claims(), { typ: 'logout+jwt' }), 'at+jwt');
  });

  it('refuses another issuer, or none', async () => {
    refused(await jwt.sign({ ...claims(), iss: 'http://127.0.0.1:4001' }, 'at+jwt'));
    refused(await jwt.sign({ ...claims(), iss: undefined }, 'at+jwt'));
    refused(await jwt.sign({ ...claims(), iss: [ISSUER] as never }, 'at+jwt'));
  });

  it('checks aud when an audience is asked for', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    expect(jwt.verifyNow(token, 'at+jwt', { audience: 'web' }).payload).toMatchObject({ aud: 'web' });
    refused(token, 'at+jwt', { audience: 'api' });
    const many = await jwt.sign({ ...claims(), aud: ['api', 'web'] }, 'at+jwt');
    expect(jwt.verifyNow(many, 'at+jwt', { audience: 'web' }).payload).toMatchObject({ sub: 'u1' });
    refused(await jwt.sign({ ...claims(), aud: undefined }, 'at+jwt'), 'at+jwt', { audience: 'web' });
  });

  it('refuses a payload that is not a JSON object', async () => {
    const key = keys.current();
    const arrayPayload = await new CompactSign(new TextEncoder().encode('[1]'))
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .sign(await importJWK(key.privateJwk, key.alg));
    refused(arrayPayload);
  });
});
