import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Users } from '../../src/identity/users.js';
import type { Store } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { ensureBuilt } from '../support/built.js';
import { usersCli } from '../support/cli.js';
import { loginWithDev } from '../support/dev-login.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';

const SECRET = 'trusted-secret-0123456789abcdef';
const WEB_SECRET = 'web-secret-0123456789abcdef';
const WEB_REDIRECT = 'http://127.0.0.1:5000/cb';
const dir = mkdtempSync(join(tmpdir(), 'lb-users-admin-'));

const users = usersCli;

/** A relying party's back-channel logout endpoint: counts the logout tokens it gets. */
function receiver(): { server: Server; received: string[]; url: () => string } {
  const received: string[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    received.push(new URLSearchParams(body).get('logout_token') ?? '');
    res.end();
  });
  return { server, received, url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function eventually(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(() => ensureBuilt());

describe.skipIf(!redisServerAvailable())('login-broker users: list, show, disable, enable, unlink, sessions', () => {
  let redis: RedisServer;
  let app: RunningApp;
  let store: Store;
  let configFile: string;
  const rp = receiver();

  beforeAll(async () => {
    await new Promise<void>((r) => rp.server.listen(0, '127.0.0.1', r));
    redis = await startRedisServer();
    const raw = {
      store: { redis: redis.url, prefix: 'adm:' },
      clients: [
        {
          client_id: 'trusted',
          client_secret: SECRET,
          grant_types: ['password', 'refresh_token'],
          scope: 'openid email profile offline_access',
          first_party: true,
        },
        {
          client_id: 'web',
          client_secret: WEB_SECRET,
          redirect_uris: [WEB_REDIRECT],
          first_party: true,
          backchannel_logout_uri: `${rp.url()}/logout`,
        },
      ],
      providers: [{ id: 'dev', use: 'dev' }],
      password_grant: { local: { scrypt: { cost: 4096 } } },
      // The CLI records deliveries; the broker's scan of the due-list sends them.
      backchannel_logout: { scan_interval_ms: 200 },
    };
    configFile = join(dir, 'broker.yaml');
    writeFileSync(configFile, JSON.stringify({ issuer: 'http://127.0.0.1:4999', ...raw }));
    store = await openRedisStore(redis.url, { prefix: 'adm:' });
    app = await startApp(raw, { store });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
    rp.server.closeAllConnections();
    await new Promise((r) => rp.server.close(r));
  });

  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const token = async (form: Record<string, string>) => {
    const response = await fetch(`${app.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('trusted', SECRET) },
      body: new URLSearchParams(form),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  const login = (username: string, password: string) =>
    token({ grant_type: 'password', username, password, scope: 'openid email offline_access' });
  const refresh = (refreshToken: string) => token({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const introspect = async (value: string, client = ['trusted', SECRET] as const) => {
    const response = await fetch(`${app.url}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(...client) },
      body: new URLSearchParams({ token: value }),
    });
    return ((await response.json()) as { active: boolean }).active;
  };
  const userinfo = (accessToken: string) =>
    fetch(`${app.url}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
  const addAccount = async (name: string, email: string) => {
    const added = await users(
      ['add', name, '--email', email, '--email-verified'],
      configFile,
      `${name} password 1234\n`,
    );
    expect(added.status).toBe(0);
  };
  const userIdOf = async (accessToken: string) => {
    const info = await userinfo(accessToken);
    expect(info.status).toBe(200);
    return ((await info.json()) as { sub: string }).sub;
  };

  /** A browser login through the dev provider for the `web` client: the callback URL and tokens. */
  async function browserLogin(ua: UserAgent, username: string) {
    const config = await oidc.discovery(new URL(app.url), 'web', WEB_SECRET, oidc.ClientSecretBasic(WEB_SECRET), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEB_REDIRECT,
      scope: 'openid',
      provider: 'dev',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await loginWithDev(ua, url, { username });
    return { callback, tokens: () => oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier }) };
  }

  /** The dev provider's form posts to its callback: the page the broker answers there. */
  async function refusedLogin(ua: UserAgent, username: string): Promise<Response> {
    const config = await oidc.discovery(new URL(app.url), 'web', WEB_SECRET, oidc.ClientSecretBasic(WEB_SECRET), {
      execute: [oidc.allowInsecureRequests],
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEB_REDIRECT,
      scope: 'openid',
      provider: 'dev',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const form = location(await ua.get(url));
    expect(form.pathname).toMatch(/\/upstream\/dev\/login$/);
    const html = await (await ua.get(form)).text();
    const action = new URL(formAction(html), form);
    return ua.postForm(
      action,
      { state: formValue(html, 'state'), username },
      { origin: action.origin, 'sec-fetch-site': 'same-origin' },
    );
  }

  it('lists users a page at a time and shows one by id, verified email or provider:subject', async () => {
    await addAccount('lena', 'lena@example.org');
    await addAccount('mark', 'mark@example.org');
    const lena = await userIdOf((await login('lena', 'lena password 1234')).body.access_token!);
    const mark = await userIdOf((await login('mark', 'mark password 1234')).body.access_token!);

    const all = await users(['list', '--json'], configFile);
    expect(all.stderr).toBe('');
    expect(all.status).toBe(0);
    const listed = JSON.parse(all.stdout) as { users: { id: string; email: string }[]; total: number };
    expect(listed.users.map((u) => u.id)).toEqual(expect.arrayContaining([lena, mark]));
    expect(listed.users.find((u) => u.id === lena)?.email).toBe('lena@example.org');

    const first = JSON.parse((await users(['list', '--json', '--limit', '1'], configFile)).stdout);
    expect(first.users).toHaveLength(1);
    expect(first.next).toBe(first.users[0].id);
    const second = JSON.parse(
      (await users(['list', '--json', '--limit', '1', '--after', first.next], configFile)).stdout,
    );
    expect(second.users).toHaveLength(1);
    expect(second.users[0].id > first.users[0].id).toBe(true);
    expect((await users(['list'], configFile)).stdout).toContain(`${listed.total} user(s)`);

    const shown = await users(['show', lena, '--json'], configFile);
    expect(shown.status).toBe(0);
    const detail = JSON.parse(shown.stdout);
    expect(detail.user).toMatchObject({ id: lena, profile: { email: 'lena@example.org' } });
    expect(detail.audit.map((a: { action: string }) => a.action)).toContain('create');
    const [identity] = detail.user.identities as { provider: string; subject: string }[];
    const byEmail = JSON.parse((await users(['show', 'lena@example.org', '--json'], configFile)).stdout);
    expect(byEmail.user.id).toBe(lena);
    const bySubject = await users(['show', `${identity!.provider}:${identity!.subject}`], configFile);
    expect(bySubject.stdout).toContain(`user ${lena}`);
    expect(bySubject.stdout).toContain('recent audit:');

    const missing = await users(['show', 'nobody-at-all'], configFile);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no user');
    expect((await users(['show'], configFile)).status).toBe(2);
    expect((await users(['list', '--limit', '0'], configFile)).status).toBe(2);
  });

  it("a disabled user's tokens are dead everywhere and logins refused; enabling restores logins only", async () => {
    await addAccount('nina', 'nina@example.org');
    const before = await login('nina', 'nina password 1234');
    expect(before.status).toBe(200);
    const { access_token: access, refresh_token: refreshToken } = before.body;
    expect(refreshToken).toEqual(expect.any(String));
    const id = await userIdOf(access!);
    expect(await introspect(access!)).toBe(true);
    expect(await introspect(refreshToken!)).toBe(true);

    const disabled = await users(['disable', id], configFile);
    expect(disabled.stderr).toBe('');
    expect(disabled.status).toBe(0);
    expect(disabled.stdout).toContain(`disabled ${id}`);

    // RFC 7662 §2.2: inactive; RFC 6750 §3.1: invalid_token; RFC 6749 §5.2: invalid_grant.
    expect(await introspect(access!)).toBe(false);
    expect(await introspect(refreshToken!)).toBe(false);
    const info = await userinfo(access!);
    expect(info.status).toBe(401);
    expect(info.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await refresh(refreshToken!)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const refused = await login('nina', 'nina password 1234');
    expect(refused).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(refused.body.error_description).toContain('disabled');
    const shown = JSON.parse((await users(['show', id, '--json'], configFile)).stdout);
    expect(shown.user.disabled_at).toEqual(expect.any(Number));
    expect(shown.audit.map((a: { action: string }) => a.action)).toContain('disable');

    const enabled = await users(['enable', id], configFile);
    expect(enabled.status).toBe(0);
    const after = await login('nina', 'nina password 1234');
    expect(after.status).toBe(200);
    expect(await introspect(after.body.access_token!)).toBe(true);
    expect((await userinfo(after.body.access_token!)).status).toBe(200);
    expect((await refresh(after.body.refresh_token!)).status).toBe(200);
    // Not the old tokens.
    expect(await introspect(access!)).toBe(false);
    expect((await userinfo(access!)).status).toBe(401);
    expect(await refresh(refreshToken!)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it("a disabled user's browser login ends on a page; disabling ends their sessions with back-channel logout", async () => {
    const ua = new UserAgent();
    const { tokens } = await browserLogin(ua, 'olga');
    const issued = await tokens();
    const id = await userIdOf(issued.access_token);
    const told = rp.received.length;

    const disabled = await users(['disable', id], configFile);
    expect(disabled.status).toBe(0);
    expect(disabled.stdout).toContain('1 session(s) ended');
    expect(disabled.stdout).toContain('1 back-channel logout(s) recorded');
    await eventually(() => rp.received.length > told);

    // The session is gone: the same browser is sent to log in again, and the callback refuses.
    const page = await refusedLogin(ua, 'olga');
    expect(page.status).toBe(403);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('this account is disabled');
    expect(issued.refresh_token && (await refresh(issued.refresh_token)).status).not.toBe(200);

    expect((await users(['enable', id], configFile)).status).toBe(0);
    const restored = await browserLogin(ua, 'olga');
    expect(restored.callback.searchParams.get('code')).toEqual(expect.any(String));
  });

  it('sessions revoke ends every session of a user and revokes their non-offline refresh tokens', async () => {
    const [ua1, ua2] = [new UserAgent(), new UserAgent()];
    const first = await (await browserLogin(ua1, 'pete')).tokens();
    await (await browserLogin(ua2, 'pete')).tokens();
    const id = await userIdOf(first.access_token);
    expect(first.refresh_token).toEqual(expect.any(String));
    const told = rp.received.length;

    const revoked = await users(['sessions', 'revoke', id], configFile);
    expect(revoked.stderr).toBe('');
    expect(revoked.status).toBe(0);
    expect(revoked.stdout).toContain('2 session(s) ended, 2 grant(s) revoked, 2 back-channel logout(s) recorded');
    await eventually(() => rp.received.length >= told + 2);

    const web = { client_id: 'web', secret: WEB_SECRET };
    const response = await fetch(`${app.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(web.client_id, web.secret) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }),
    });
    expect(response.status).toBe(400);
    // No session any more: /authorize sends the browser to log in instead of issuing a code.
    const config = await oidc.discovery(new URL(app.url), 'web', WEB_SECRET, oidc.ClientSecretBasic(WEB_SECRET), {
      execute: [oidc.allowInsecureRequests],
    });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: WEB_REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const next = location(await ua1.get(url));
    expect(next.searchParams.get('code')).toBeNull();
    // The user is not disabled: a new login works.
    expect((await browserLogin(ua1, 'pete')).callback.searchParams.get('code')).toEqual(expect.any(String));
  });

  it('unlink refuses the last way to sign in and names unknown users; usage errors exit 2', async () => {
    await addAccount('quinn', 'quinn@example.org');
    const id = await userIdOf((await login('quinn', 'quinn password 1234')).body.access_token!);
    const shown = JSON.parse((await users(['show', id, '--json'], configFile)).stdout);
    const provider = shown.user.identities[0].provider as string;
    const last = await users(['unlink', id, provider], configFile);
    expect(last.status).toBe(1);
    expect(last.stderr).toContain('only sign-in method');
    // With a second identity linked, the first can go.
    await new Users(store).link(id, { provider: 'dev', issuer: app.url, subject: 'quinn-dev', email_verified: false });
    const unlinked = await users(['unlink', id, 'dev'], configFile);
    expect(unlinked.stderr).toBe('');
    expect(unlinked.stdout).toBe(`unlinked dev:quinn-dev from ${id}\n`);
    const after = JSON.parse((await users(['show', id, '--json'], configFile)).stdout);
    expect(after.user.identities.map((i: { provider: string }) => i.provider)).toEqual([provider]);
    expect(after.audit.map((a: { action: string }) => a.action)).toEqual(expect.arrayContaining(['link', 'unlink']));
    const none = await users(['unlink', id, 'nowhere'], configFile);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no identity at nowhere');
    expect((await users(['disable', 'no-such-user'], configFile)).status).toBe(1);
    expect((await users(['sessions', 'end', id], configFile)).status).toBe(2);
    expect((await users(['disable', id, '--json'], configFile)).status).toBe(2);
    expect((await users(['add', 'x', '--json'], configFile, 'a long enough password\n')).status).toBe(2);
  });
});
