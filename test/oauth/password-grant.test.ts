import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { LocalAccounts } from '../../src/identity/local-accounts.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { PASSWORD_CLIENTS, THIRD_SECRET, TRUSTED_SECRET } from '../support/password.js';
import type { RunningApp } from '../support/app.js';

const LOCAL = { id: 'local', min_password_length: 12 };
const PASSWORD = 'correct horse battery staple';

function accounts(app: RunningApp): LocalAccounts {
  return new LocalAccounts(app.store, app.config.password_grant.local!, app.config.issuer);
}

const discover = (app: RunningApp, clientId = 'trusted', secret = TRUSTED_SECRET) =>
  oidc.discovery(new URL(app.url), clientId, secret, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  });

/** A raw token request, for the answers openid-client would turn into exceptions. */
async function tokenRequest(
  app: RunningApp,
  body: Record<string, string>,
  clientId = 'trusted',
  secret: string | null = TRUSTED_SECRET,
) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (secret) headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  const form = new URLSearchParams({ grant_type: 'password', ...(secret ? {} : { client_id: clientId }), ...body });
  const response = await fetch(`${app.url}/token`, { method: 'POST', headers, body: form });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

for (const kind of STORE_KINDS) {
  describe(`password grant with local accounts, ${kind} store`, () => {
    const broker = useBroker(kind, {
      clients: PASSWORD_CLIENTS,
      password_grant: { local: LOCAL, lockout: { username_failures: 1000, ip_failures: 10_000 } },
    });

    it(
      'logs in with openid-client: access token, ID token with openid, refresh token; same user ' + 'every time',
      async () => {
        const app = broker();
        await accounts(app).add({
          username: 'Alice',
          password: PASSWORD,
          email: 'alice@example.org',
          emailVerified: true,
          name: 'Alice Liddell',
        });
        const config = await discover(app);
        expect(config.serverMetadata().grant_types_supported).toContain('password');
        const tokens = await oidc.genericGrantRequest(config, 'password', {
          username: 'alice',
          password: PASSWORD,
          scope: 'openid profile email',
        });
        expect(tokens.token_type).toBe('bearer');
        expect(tokens.scope).toBe('openid profile email');
        expect(tokens.refresh_token).toEqual(expect.any(String));
        const claims = tokens.claims()!;
        expect(claims.iss).toBe(app.url);
        expect(claims.aud).toBe('trusted');
        expect(claims.auth_time).toEqual(expect.any(Number));
        expect(claims).toMatchObject({
          email: 'alice@example.org',
          email_verified: true,
          name: 'Alice Liddell',
          preferred_username: 'alice',
        });
        // sub is the broker's opaque user id: not the username, not the email, not the account id.
        expect(claims.sub).not.toMatch(/alice/i);
        const at = decodeJwt(tokens.access_token);
        expect(at).toMatchObject({ sub: claims.sub, client_id: 'trusted', scope: 'openid profile email' });

        const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        expect(userinfo.email).toBe('alice@example.org');

        // The email logs in too, case-insensitively, as the same user.
        const again = await oidc.genericGrantRequest(config, 'password', {
          username: 'ALICE@example.org',
          password: PASSWORD,
          scope: 'openid',
        });
        expect(again.claims()!.sub).toBe(claims.sub);
        expect(again.claims()!.email).toBeUndefined();

        // The refresh token works like any other.
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        expect(refreshed.claims()!.sub).toBe(claims.sub);
      },
    );

    it('issues no ID token without openid, and honours offline_access', async () => {
      const app = broker();
      await accounts(app).add({ username: 'bob', password: PASSWORD });
      const answer = await tokenRequest(app, { username: 'bob', password: PASSWORD, scope: 'profile offline_access' });
      expect(answer.status).toBe(200);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expect(answer.body.id_token).toBeUndefined();
      expect(answer.body.refresh_token).toEqual(expect.any(String));
      expect(answer.body.scope).toBe('profile offline_access');
      const bad = await tokenRequest(app, { username: 'bob', password: PASSWORD, scope: 'openid api:write' });
      expect(bad).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    });

    it('answers an unknown user and a wrong password alike, and never logs the password', async () => {
      const app = broker();
      await accounts(app).add({ username: 'carol', password: PASSWORD });
      const unknown = await tokenRequest(app, {
        username: 'nobody',
        password: 'guess-1-unknown-user',
        scope: 'openid',
      });
      const wrong = await tokenRequest(app, { username: 'carol', password: 'guess-2-wrong-password', scope: 'openid' });
      expect(unknown.status).toBe(400);
      expect(wrong.status).toBe(400);
      expect(unknown.body).toEqual(wrong.body);
      expect(unknown.body.error).toBe('invalid_grant');
      const logs = JSON.stringify(app.logs);
      expect(logs).toContain('password grant failed');
      for (const secret of ['guess-1-unknown-user', 'guess-2-wrong-password', PASSWORD])
        expect(logs).not.toContain(secret);
      // The login is logged as a short hash, not as typed (it may be a mistyped password).
      expect(logs).not.toContain('nobody');
      // Missing parameters are the client's error.
      expect(await tokenRequest(app, { username: 'carol' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
      });
      expect(await tokenRequest(app, { username: 'carol', password: PASSWORD, provider: 'elsewhere' })).toMatchObject({
        status: 400,
        body: { error: 'invalid_request' },
      });
    });

    it(
      'refuses clients that may not use it: public, third-party, first-party without the grant ' + '(S-LEG-02)',
      async () => {
        const app = broker();
        await accounts(app).add({ username: 'dave', password: PASSWORD });
        const body = { username: 'dave', password: PASSWORD, scope: 'openid' };
        expect(await tokenRequest(app, body, 'spa', null)).toMatchObject({
          status: 400,
          body: { error: 'unauthorized_client' },
        });
        expect(await tokenRequest(app, body, 'third', THIRD_SECRET)).toMatchObject({
          status: 400,
          body: { error: 'unauthorized_client' },
        });
        expect(await tokenRequest(app, body, 'web', SECRETS.web)).toMatchObject({
          status: 400,
          body: { error: 'unauthorized_client' },
        });
        // A wrong client secret is invalid_client before anything else.
        expect((await tokenRequest(app, body, 'trusted', 'not-the-secret-0123456789')).status).toBe(401);
      },
    );

    it('takes similar time for an unknown user and a wrong password (the KDF runs against a dummy hash)', async () => {
      const app = broker();
      await accounts(app).add({ username: 'erin', password: PASSWORD });
      const unknown: number[] = [];
      const wrong: number[] = [];
      const time = async (username: string) => {
        const started = process.hrtime.bigint();
        const answer = await tokenRequest(app, { username, password: 'not-the-password', scope: 'openid' });
        expect(answer.status).toBe(400);
        return Number(process.hrtime.bigint() - started) / 1e6;
      };
      await time('warm-up');
      // Interleaved pairs, and the median of the pair ratios: robust to load drifting during the run.
      for (let i = 0; i < 12; i++) {
        unknown.push(await time(`ghost-${i}`));
        wrong.push(await time('erin'));
      }
      const ratio = median(unknown.map((u, i) => u / wrong[i]!));
      console.log(
        `[password grant, ${kind}] median ms unknown user ${median(unknown).toFixed(1)}, wrong ` +
          `password ${median(wrong).toFixed(1)}, ratio ${ratio.toFixed(2)}`,
      );
      // Generous (the suite runs in parallel on shared cores): without the dummy KDF the unknown
      // user would answer in a few milliseconds, a ratio far below 0.5.
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });
  });

  describe(`password grant lockout, ${kind} store`, () => {
    const broker = useBroker(kind, {
      clients: PASSWORD_CLIENTS,
      password_grant: {
        local: { ...LOCAL, scrypt: { cost: 1024 } },
        lockout: { username_failures: 3, ip_failures: 1000, window_s: 30, lock_s: 1, max_lock_s: 2 },
      },
    });

    it('locks a username after N failures, releases it after the lock, and doubles the next lock', async () => {
      const app = broker();
      await accounts(app).add({ username: 'frank', password: PASSWORD });
      const attempt = (password: string, username = 'frank') =>
        tokenRequest(app, { username, password, scope: 'openid' });
      for (let i = 0; i < 3; i++) expect((await attempt(`wrong-${i}`)).body.error).toBe('invalid_grant');
      // Locked: even the right password is refused, with Retry-After.
      const locked = await attempt(PASSWORD);
      expect(locked).toMatchObject({
        status: 400,
        body: { error: 'invalid_grant', error_description: expect.stringContaining('too many') },
      });
      expect(locked.headers.get('retry-after')).toBe('1');
      // Another username from the same address is not locked.
      await accounts(app).add({ username: 'grace', password: PASSWORD });
      expect((await attempt(PASSWORD, 'grace')).status).toBe(200);

      await new Promise((r) => setTimeout(r, 1100));
      expect((await attempt(PASSWORD)).status).toBe(200);

      // A success clears the count; three more failures lock again, twice as long.
      for (let i = 0; i < 3; i++) await attempt(`again-${i}`);
      const second = await attempt(PASSWORD);
      expect(second.headers.get('retry-after')).toBe('2');
      expect(JSON.stringify(app.logs)).toContain('too many failed attempts');
    });

    it('locks unknown usernames exactly like known ones (no enumeration through the lock)', async () => {
      const app = broker();
      for (let i = 0; i < 3; i++) await tokenRequest(app, { username: 'nobody-here', password: `x-${i}` });
      const locked = await tokenRequest(app, { username: 'nobody-here', password: 'x' });
      expect(locked.body.error_description).toContain('too many');
    });

    it('a parallel burst of guesses cannot get past the limit', async () => {
      const app = broker();
      await accounts(app).add({ username: 'heidi', password: PASSWORD });
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => tokenRequest(app, { username: 'heidi', password: `burst-${i}` })),
      );
      const checked = answers.filter((a) => !String(a.body.error_description).includes('too many'));
      expect(checked.length).toBeLessThanOrEqual(3);
      expect(answers.every((a) => a.body.error === 'invalid_grant')).toBe(true);
    });
  });
}

describe('password grant per-IP lockout', () => {
  const broker = useBroker('memory', {
    clients: PASSWORD_CLIENTS,
    password_grant: {
      local: { ...LOCAL, scrypt: { cost: 1024 } },
      lockout: { username_failures: 100, ip_failures: 4, lock_s: 1 },
    },
  });

  it('locks an address that tries many usernames', async () => {
    const app = broker();
    await accounts(app).add({ username: 'ivan', password: PASSWORD });
    for (let i = 0; i < 4; i++)
      expect((await tokenRequest(app, { username: `spray-${i}`, password: 'Winter2026!' })).body.error).toBe(
        'invalid_grant',
      );
    const locked = await tokenRequest(app, { username: 'ivan', password: PASSWORD });
    expect(locked.body.error_description).toContain('too many');
    await new Promise((r) => setTimeout(r, 1100));
    expect((await tokenRequest(app, { username: 'ivan', password: PASSWORD })).status).toBe(200);
  });
});

describe('password grant switched off', () => {
  const broker = useBroker('memory', { clients: PASSWORD_CLIENTS });

  it('is unsupported_grant_type without a password source, even for a client that lists it (S-LEG-01)', async () => {
    const answer = await tokenRequest(broker(), { username: 'a', password: 'b' });
    expect(answer).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
  });
});

describe('password grant configuration', () => {
  const base = { issuer: 'https://login.example.com' };
  it('refuses password for public and third-party clients, and a local id that is also a provider id', () => {
    const publicClient = { client_id: 'p', grant_types: ['password'] };
    const thirdParty = { client_id: 't', client_secret: THIRD_SECRET, grant_types: ['password'] };
    expect(configSchema.safeParse({ ...base, clients: [publicClient] }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, clients: [thirdParty] }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, clients: [{ ...thirdParty, first_party: true }] }).success).toBe(true);
    const clash = configSchema.safeParse({
      ...base,
      providers: [{ id: 'local', use: 'oidc', issuer: 'https://idp.example', client_id: 'x', client_secret: 'y' }],
      password_grant: { local: {} },
    });
    expect(clash.success).toBe(false);
    expect(
      configSchema.safeParse({
        ...base,
        providers: [{ id: 'gh', use: 'github', client_id: 'x', client_secret: 'y', password_grant: true }],
      }).success,
    ).toBe(false);
    expect(configSchema.safeParse({ ...base, password_grant: { local: { scrypt: { cost: 1000 } } } }).success).toBe(
      false,
    );
  });
});
