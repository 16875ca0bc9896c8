import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientSchema } from '../../src/config/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { BASE_CONFIG, CLIENTS, SECRETS, useBroker } from '../support/broker-fixture.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * private_key_jwt (RFC 7523 §2.2 and §3, OIDC Core §9) at the token, introspection and
 * revocation endpoints, with inline keys and with keys fetched from a jwks_uri.
 */

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
type Pair = { publicKey: CryptoKey; privateKey: CryptoKey };
// The Ed25519 key is published without alg: openid-client signs with "Ed25519", jose with "EdDSA".
const publicJwk = async (pair: Pair, kid: string, alg: string): Promise<JWK> => ({
  ...(await exportJWK(pair.publicKey)),
  kid,
  ...(alg === 'EdDSA' ? {} : { alg }),
});

const KEYS = {
  RS256: await generateKeyPair('RS256'),
  PS256: await generateKeyPair('PS256'),
  ES256: await generateKeyPair('ES256'),
  EdDSA: await generateKeyPair('EdDSA'),
};
const STRANGER = await generateKeyPair('ES256');
const ROTATED = await generateKeyPair('ES256');
const EXTRACTABLE = await generateKeyPair('ES256', { extractable: true });

/** The loopback server of the remote client's keys; what it serves changes during the tests. */
const served = { keys: [await publicJwk(KEYS.ES256, 'remote-1', 'ES256')] as JWK[], fetches: 0 };
const rotating = { keys: [await publicJwk(KEYS.ES256, 'remote-1', 'ES256')] as JWK[], fetches: 0 };
const jwksServer: Server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/rotating') {
    rotating.fetches++;
    res.end(JSON.stringify({ keys: rotating.keys }));
    return;
  }
  served.fetches++;
  if (req.url === '/slow') return; // never answers: the broker's time limit must end the wait
  if (req.url === '/big') {
    res.end(JSON.stringify({ keys: served.keys, pad: 'x'.repeat(100 * 1024) }));
    return;
  }
  res.end(JSON.stringify({ keys: served.keys }));
});
await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
const jwksBase = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}`;

const jwtClient = (client_id: string, keys: Record<string, unknown>) => ({
  client_id,
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  scope: 'api:read',
  ...keys,
});
const INLINE = jwtClient('inline', {
  jwks: {
    keys: await Promise.all(Object.entries(KEYS).map(([alg, pair]) => publicJwk(pair, `inline-${alg}`, alg))),
  },
});
const REMOTE = jwtClient('remote', { jwks_uri: `${jwksBase}/jwks` });
const BIG = jwtClient('big', { jwks_uri: `${jwksBase}/big` });
const ROTATING = jwtClient('rotating', { jwks_uri: `${jwksBase}/rotating` });
const SLOW = jwtClient('slow', { jwks_uri: `${jwksBase}/slow` });

describe('private_key_jwt client authentication', () => {
  const broker = useBroker('memory', { clients: [...CLIENTS, INLINE, REMOTE, BIG, ROTATING, SLOW] });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        jwksServer.closeAllConnections();
        jwksServer.close(() => resolve());
      }),
  );

  const discover = (clientId: string, key: CryptoKey, kid: string) =>
    oidc.discovery(new URL(broker().url), clientId, undefined, oidc.PrivateKeyJwt({ key, kid }), {
      execute: [oidc.allowInsecureRequests],
    });

  /** An assertion for `client`, with `changes` to its claims (undefined removes one). */
  async function assertion(
    client: string,
    pair: Pair,
    kid: string,
    changes: Record<string, unknown> = {},
    alg = 'ES256',
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: client,
      sub: client,
      aud: broker().config.issuer,
      exp: now + 60,
      iat: now,
      jti: crypto.randomUUID(),
      ...changes,
    };
    for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
    return new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(pair.privateKey);
  }
  const post = async (path: string, form: Record<string, string>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${broker().url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    const body = (await res.json().catch(() => undefined)) as
      | { error?: string; error_description?: string; access_token?: string }
      | undefined;
    return { status: res.status, body };
  };
  const tokenWith = (signed: string, extra: Record<string, string> = {}) =>
    post('/token', {
      grant_type: 'client_credentials',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: signed,
      ...extra,
    });
  const expectInvalidClient = (answer: { status: number; body?: { error?: string; error_description?: string } }) => {
    expect(answer.status).toBe(401);
    expect(answer.body?.error).toBe('invalid_client');
    return answer.body?.error_description ?? '';
  };

  it("openid-client's PrivateKeyJwt authenticates with inline keys, with each of RS256, PS256, ES256, EdDSA", async () => {
    for (const [alg, pair] of Object.entries(KEYS)) {
      const config = await discover('inline', pair.privateKey, `inline-${alg}`);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
      expect(tokens.access_token, alg).toBeTruthy();
    }
  });

  it("openid-client's PrivateKeyJwt authenticates with keys from a jwks_uri, fetched once and cached", async () => {
    const before = served.fetches;
    const config = await discover('remote', KEYS.ES256.privateKey, 'remote-1');
    await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
    await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
    expect(served.fetches - before).toBe(1);
    // Introspection and revocation take the same assertions.
    const { access_token } = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
    expect((await oidc.tokenIntrospection(config, access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, access_token);
    expect((await oidc.tokenIntrospection(config, access_token)).active).toBe(false);
  });

  it('refetches the jwks_uri on an unknown kid, but not more often than the floor', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      expect((await tokenWith(await assertion('rotating', KEYS.ES256, 'remote-1'))).status).toBe(200);
      expect(rotating.fetches).toBe(1);
      // An unknown kid within the floor (60 s) of the last fetch: no fetch, refused.
      rotating.keys = [...rotating.keys, await publicJwk(ROTATED, 'remote-2', 'ES256')];
      vi.setSystemTime(Date.now() + 30_000);
      expect(expectInvalidClient(await tokenWith(await assertion('rotating', ROTATED, 'remote-2')))).toContain(
        'no key',
      );
      expect(rotating.fetches).toBe(1);
      // After the floor: one refetch, and the new key works.
      vi.setSystemTime(Date.now() + 31_000);
      expect((await tokenWith(await assertion('rotating', ROTATED, 'remote-2'))).status).toBe(200);
      expect(rotating.fetches).toBe(2);
      // Known kids never refetch.
      expect((await tokenWith(await assertion('rotating', KEYS.ES256, 'remote-1'))).status).toBe(200);
      expect(rotating.fetches).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a jwks_uri answer over the size limit', async () => {
    const description = expectInvalidClient(await tokenWith(await assertion('big', KEYS.ES256, 'remote-1')));
    expect(description).toContain('could not be read');
    expect(JSON.stringify(broker().logs)).toContain('client JWKS unavailable');
  });

  it('gives up on a jwks_uri that does not answer within its time limit', async () => {
    const started = Date.now();
    const description = expectInvalidClient(await tokenWith(await assertion('slow', KEYS.ES256, 'remote-1')));
    expect(description).toContain('could not be read');
    expect(Date.now() - started).toBeLessThan(4500);
  });

  it('takes aud = the issuer or the URL of the endpoint called, nothing else', async () => {
    const issuer = broker().config.issuer;
    const at = (aud: string) => assertion('inline', KEYS.ES256, 'inline-ES256', { aud });
    expect((await tokenWith(await at(`${issuer}/token`))).status).toBe(200);
    const introspect = (signed: string) =>
      post('/introspect', { token: 'x', client_assertion_type: ASSERTION_TYPE, client_assertion: signed });
    expect((await introspect(await at(`${issuer}/introspect`))).status).toBe(200);
    expectInvalidClient(await introspect(await at(`${issuer}/token`)));
    expect(expectInvalidClient(await tokenWith(await at('https://elsewhere.example/')))).toContain('aud');
  });

  it('uses a jti once, until the assertion expires', async () => {
    const signed = await assertion('inline', KEYS.ES256, 'inline-ES256');
    expect((await tokenWith(signed)).status).toBe(200);
    expect(expectInvalidClient(await tokenWith(signed))).toContain('already used');
  });

  it('refuses assertions whose claims are missing or wrong', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, unknown>][] = [
      ['exp', { exp: undefined }],
      ['jti', { jti: undefined }],
      ['5 minutes', { exp: now + 600 }],
      ['expired', { exp: now - 120, iat: now - 180 }],
      ['iss', { iss: 'web' }],
    ];
    for (const [expected, changes] of cases) {
      const description = expectInvalidClient(
        await tokenWith(await assertion('inline', KEYS.ES256, 'inline-ES256', changes)),
      );
      expect(description, expected).toContain(expected);
    }
  });

  it('refuses a wrong key, an alg it does not allow, and a wrong assertion type', async () => {
    expect(expectInvalidClient(await tokenWith(await assertion('inline', STRANGER, 'inline-ES256')))).toContain(
      'signature',
    );
    const hs256 = await new SignJWT({ jti: 'j', exp: Math.floor(Date.now() / 1000) + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('inline')
      .setSubject('inline')
      .setAudience(broker().config.issuer)
      .sign(new Uint8Array(32));
    expect(expectInvalidClient(await tokenWith(hs256))).toContain('RS256, PS256, ES256, EdDSA');
    const signed = await assertion('inline', KEYS.ES256, 'inline-ES256');
    expectInvalidClient(
      await post('/token', {
        grant_type: 'client_credentials',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer',
        client_assertion: signed,
      }),
    );
    expectInvalidClient(await tokenWith('not-a-jwt'));
  });

  it('refuses two methods at once, a client_id other than sub, and a client registered for another method', async () => {
    const signed = () => assertion('inline', KEYS.ES256, 'inline-ES256');
    const basic = `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`;
    const both = await post(
      '/token',
      { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: await signed() },
      { authorization: basic },
    );
    expect(both.status).toBe(400);
    expect(both.body?.error).toBe('invalid_request');
    expect(expectInvalidClient(await tokenWith(await signed(), { client_id: 'web' }))).toContain('differs');
    // machine has a secret: an assertion, even well formed, is not how it authenticates.
    const machine = await assertion('machine', KEYS.ES256, 'inline-ES256');
    expect(expectInvalidClient(await tokenWith(machine))).toContain('client_secret_basic or client_secret_post');
  });

  it('config: private_key_jwt needs keys, one source of them, public keys only, and no secret', async () => {
    const jwk = await publicJwk(KEYS.ES256, 'k', 'ES256');
    const privateJwk = { ...(await exportJWK(EXTRACTABLE.privateKey)), kid: 'k' };
    const problems = (client: Record<string, unknown>) => {
      const parsed = clientSchema.safeParse(jwtClient('c', client));
      return parsed.success ? '' : JSON.stringify(parsed.error.issues);
    };
    expect(problems({ jwks: { keys: [jwk] } })).toBe('');
    expect(problems({})).toContain('needs jwks or jwks_uri');
    expect(problems({ jwks: { keys: [jwk] }, jwks_uri: 'https://c.example/jwks' })).toContain('not both');
    expect(problems({ jwks: { keys: [privateJwk] } })).toContain('public keys only');
    expect(problems({ jwks_uri: 'http://c.example/jwks' })).toContain('https');
    expect(problems({ jwks: { keys: [jwk] }, client_secret: 'a-long-enough-secret-value' })).toContain(
      'not used with private_key_jwt',
    );
    const secretClient = clientSchema.safeParse({
      client_id: 's',
      client_secret: 'a-long-enough-secret-value',
      grant_types: ['client_credentials'],
      jwks: { keys: [jwk] },
    });
    expect(JSON.stringify(secretClient.error?.issues)).toContain('only used with token_endpoint_auth_method');
  });
});

describe.runIf(redisServerAvailable())('private_key_jwt across instances', () => {
  let redis: RedisServer;
  let brokers: RunningApp[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
    for (let i = 0; i < 2; i++) {
      brokers.push(
        await startApp((issuer) => ({ ...BASE_CONFIG, issuer, clients: [...CLIENTS, INLINE] }), {
          store: await openRedisStore(redis.url),
        }),
      );
    }
  });
  afterAll(async () => {
    for (const broker of brokers) await broker.close();
    brokers = [];
    await redis?.stop();
  });

  it('an assertion used at one instance is refused at another (the jti is in the shared store)', async () => {
    // Both instances are one issuer to the client: the assertion names the first one's.
    const now = Math.floor(Date.now() / 1000);
    const signed = await new SignJWT({ jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'inline-ES256' })
      .setIssuer('inline')
      .setSubject('inline')
      .setAudience([brokers[0]!.config.issuer, brokers[1]!.config.issuer])
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(KEYS.ES256.privateKey);
    const use = (broker: RunningApp) =>
      fetch(`${broker.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: signed,
        }).toString(),
      });
    expect((await use(brokers[0]!)).status).toBe(200);
    const replay = await use(brokers[1]!);
    expect(replay.status).toBe(401);
    expect(((await replay.json()) as { error_description: string }).error_description).toContain('already used');
  });
});
