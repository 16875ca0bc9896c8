import * as oidc from 'openid-client';
import nock from 'nock';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalAccounts } from '../../src/identity/local-accounts.js';
import { useBroker } from '../support/broker-fixture.js';
import type { RunningApp } from '../support/app.js';
import { PASSWORD_CLIENTS, TRUSTED_SECRET } from '../support/password.js';

/**
 * Upstream ROPC. oidc-provider 8 does not serve the password grant (it was left out, as RFC 9700
 * §2.4 says), so the upstream here is a nock'd OpenID provider: discovery, JWKS, a token endpoint
 * that answers grant_type=password with a signed ID token, and userinfo.
 */
const ISSUER = 'https://idp.example';
const UPSTREAM_SECRET = 'upstream-secret-0123456789';

let signingKey: CryptoKey;
let publicJwk: Record<string, unknown>;
let tokenCalls: URLSearchParams[] = [];
let tokenAuth: (string | undefined)[] = [];
/** What the token endpoint does next: 'ok', or a failure mode. */
let mode: 'ok' | 'down' | 'wrong-aud' | 'wrong-iss' = 'ok';

async function idToken(sub: string, overrides: Record<string, unknown> = {}) {
  return new SignJWT({ email: `${sub}@corp.example`, email_verified: true, name: `User ${sub}`, ...overrides })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setIssuer((overrides.iss as string) ?? ISSUER)
    .setAudience((overrides.aud as string) ?? 'broker')
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(signingKey);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  signingKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  nock(ISSUER)
    .persist()
    .get('/.well-known/openid-configuration')
    .reply(200, {
      issuer: ISSUER,
      authorization_endpoint: `${ISSUER}/authorize`,
      token_endpoint: `${ISSUER}/token`,
      userinfo_endpoint: `${ISSUER}/userinfo`,
      jwks_uri: `${ISSUER}/jwks`,
      grant_types_supported: ['authorization_code', 'password'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
    })
    .get('/jwks')
    .reply(200, () => ({ keys: [publicJwk] }))
    .post('/token')
    .reply(async function (_uri, body) {
      const form = new URLSearchParams(body as string);
      tokenCalls.push(form);
      tokenAuth.push(this.req.headers.authorization as string | undefined);
      if (mode === 'down') return [503, 'busy'];
      const username = form.get('username')!;
      if (form.get('grant_type') !== 'password' || form.get('password') !== `pw-of-${username}`) {
        return [400, { error: 'invalid_grant', error_description: 'Wrong email or password.' }];
      }
      const claims =
        mode === 'wrong-aud' ? { aud: 'someone-else' } : mode === 'wrong-iss' ? { iss: 'https://evil.example' } : {};
      return [
        200,
        {
          access_token: `upstream-at-${username}`,
          token_type: 'Bearer',
          expires_in: 300,
          id_token: await idToken(`u-${username}`, claims),
        },
      ];
    })
    .get('/userinfo')
    .reply(function () {
      const at = String(this.req.headers.authorization ?? '').replace(/^Bearer upstream-at-/, '');
      return [200, { sub: `u-${at}`, preferred_username: at, locale: 'en' }];
    });
});

afterAll(() => {
  nock.cleanAll();
});

beforeEach(() => {
  tokenCalls = [];
  tokenAuth = [];
  mode = 'ok';
});

describe('password grant forwarded to an upstream OpenID provider (password_grant: true)', () => {
  const broker = useBroker('memory', {
    clients: PASSWORD_CLIENTS,
    providers: [
      { id: 'dev', use: 'dev' },
      {
        id: 'corp',
        use: 'oidc',
        issuer: ISSUER,
        client_id: 'broker',
        client_secret: UPSTREAM_SECRET,
        password_grant: true,
      },
    ],
    password_grant: { local: { scrypt: { cost: 1024 } }, lockout: { username_failures: 50 } },
  });

  const discover = (app: RunningApp) =>
    oidc.discovery(new URL(app.url), 'trusted', TRUSTED_SECRET, oidc.ClientSecretBasic(TRUSTED_SECRET), {
      execute: [oidc.allowInsecureRequests],
    });

  async function raw(app: RunningApp, body: Record<string, string>) {
    const response = await fetch(`${app.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`trusted:${TRUSTED_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'password', ...body }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it(
    'forwards the credentials, verifies the ID token, reads userinfo and maps the identity to a ' + 'broker user',
    async () => {
      const app = broker();
      const config = await discover(app);
      const tokens = await oidc.genericGrantRequest(config, 'password', {
        username: 'kim',
        password: 'pw-of-kim',
        scope: 'openid profile email',
        provider: 'corp',
      });
      const claims = tokens.claims()!;
      expect(claims).toMatchObject({
        iss: app.url,
        aud: 'trusted',
        email: 'u-kim@corp.example',
        email_verified: true,
        preferred_username: 'kim',
        locale: 'en',
      });
      expect(claims.sub).not.toContain('kim');
      // The upstream got the password grant with the broker's own client credentials; its tokens stay upstream.
      expect(tokenCalls).toHaveLength(1);
      expect(Object.fromEntries(tokenCalls[0]!)).toMatchObject({
        grant_type: 'password',
        username: 'kim',
        password: 'pw-of-kim',
        scope: 'openid email profile',
      });
      const basic = Buffer.from(tokenAuth[0]!.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':')
        .map(decodeURIComponent);
      expect(basic).toEqual(['broker', UPSTREAM_SECRET]);
      expect(JSON.stringify(tokens)).not.toContain('upstream-at');
      // The same upstream account is the same broker user next time.
      const again = await oidc.genericGrantRequest(config, 'password', {
        username: 'kim',
        password: 'pw-of-kim',
        scope: 'openid',
        provider: 'corp',
      });
      expect(again.claims()!.sub).toBe(claims.sub);
    },
  );

  it('needs provider= when several sources are enabled; the local source still works', async () => {
    const app = broker();
    expect(await raw(app, { username: 'kim', password: 'pw-of-kim' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    const local = new LocalAccounts(app.store, app.config.password_grant.local!, app.config.issuer);
    await local.add({ username: 'kim', password: 'a local password' });
    const answer = await raw(app, {
      username: 'kim',
      password: 'a local password',
      provider: 'local',
      scope: 'openid',
    });
    expect(answer.status).toBe(200);
    expect(tokenCalls).toHaveLength(0);
  });

  it(
    'answers an upstream refusal with the same invalid_grant as a local one, and never logs the ' + 'password',
    async () => {
      const app = broker();
      const upstream = await raw(app, { username: 'kim', password: 'wrong-upstream-pw', provider: 'corp' });
      const local = await raw(app, { username: 'kim', password: 'wrong-local-pw', provider: 'local' });
      expect(upstream.status).toBe(400);
      expect(upstream.body).toEqual(local.body);
      const logs = JSON.stringify(app.logs);
      expect(logs).not.toContain('wrong-upstream-pw');
      expect(logs).not.toContain('Wrong email or password');
      expect(logs).toContain('the provider answered invalid_grant');
    },
  );

  it('refuses an ID token for another audience or from another issuer', async () => {
    const app = broker();
    for (const failure of ['wrong-aud', 'wrong-iss'] as const) {
      mode = failure;
      expect(await raw(app, { username: 'kim', password: 'pw-of-kim', provider: 'corp' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant' },
      });
    }
  });

  it('answers 503 temporarily_unavailable when the upstream is down', async () => {
    const app = broker();
    mode = 'down';
    expect(await raw(app, { username: 'kim', password: 'pw-of-kim', provider: 'corp' })).toMatchObject({
      status: 503,
      body: { error: 'temporarily_unavailable' },
    });
  });

  it('does not count attempts the upstream never checked toward the per-IP lock', async () => {
    const app = broker();
    mode = 'down';
    // More than lockout.ip_failures (default 20) from this address, none of them a failed check.
    for (let i = 0; i < 25; i++) {
      expect((await raw(app, { username: `outage-${i}`, password: 'pw', provider: 'corp' })).status).toBe(503);
    }
    mode = 'ok';
    const answer = await raw(app, { username: 'kim', password: 'pw-of-kim', provider: 'corp', scope: 'openid' });
    expect(answer.status).toBe(200);
  });
});
