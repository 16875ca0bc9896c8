import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLIENT_CACHE_MS } from '../../../src/oauth/clients.js';
import { setClock } from '../../../src/lib/clock.js';
import { startApp, type RunningApp } from '../../support/app.js';
import { pkceAuthorization } from '../../support/app-client.js';
import { loginWithDev } from '../../support/dev-login.js';
import {
  openRedisStore,
  redisServerAvailable,
  startRedisServer,
  type RedisServer,
} from '../../support/redis-server.js';
import { startRoundRobin, type RoundRobin } from '../../support/round-robin.js';
import { formAction, formValue, location, UserAgent } from '../../support/user-agent.js';

/**
 * Dynamic client registration end to end (docs/security.md S-REG-01 to S-REG-05): RFC 7591
 * registration on one broker instance, a code + PKCE login with the new client on another
 * sharing the Redis; RFC 7592 read, update and delete; the open policy's refusals; the rate limit
 * per IP; Client ID Metadata Document clients against a loopback metadata server.
 */

const IAT = 'initial-access-token-0123456789abcdef';
const sha256hex = (text: string) => createHash('sha256').update(text).digest('hex');
const REDIRECT = 'http://127.0.0.1:5010/cb';

const available = redisServerAvailable();

const same = (url: URL) => ({ 'sec-fetch-site': 'same-origin', origin: url.origin });

/** A code + PKCE login as the app, with the consent a registered client always gets. */
async function login(config: oidc.Configuration, scope = 'openid profile', redirect = REDIRECT) {
  const ua = new UserAgent();
  // offline_access needs prompt=consent (OIDC Core §11).
  const prompt: Record<string, string> = scope.includes('offline_access') ? { prompt: 'consent' } : {};
  const { url, checks } = await pkceAuthorization(config, {
    redirect_uri: redirect,
    scope,
    provider: 'dev',
    ...prompt,
  });
  const consent = await loginWithDev(ua, url, { username: 'agent-user' });
  expect(consent.pathname).toMatch(/\/interaction\/.+\/consent$/);
  const html = await (await ua.get(consent)).text();
  // Every client here named itself: the page says so, and where the user goes back to.
  expect(html).toContain('This app registered itself');
  expect(html).toContain(`you go back to <strong>${new URL(redirect).host}</strong>`);
  if (config.clientMetadata().client_id.startsWith('http')) {
    expect(html).toContain(`described at <strong>${new URL(config.clientMetadata().client_id).host}</strong>`);
  }
  const action = new URL(formAction(html), consent);
  const allowed = await ua.postForm(action, { decision: 'allow', csrf: formValue(html, 'csrf') }, same(action));
  expect(allowed.status).toBe(303);
  const callback = location(allowed);
  expect(callback.origin + callback.pathname).toBe(redirect);
  return oidc.authorizationCodeGrant(config, callback, checks);
}

describe.runIf(available)('dynamic client registration on two instances sharing Redis', () => {
  let redis: RedisServer;
  let balancer: RoundRobin;
  let a: RunningApp;
  let b: RunningApp;
  let docs: Server;
  let docsBase: string;
  const documents = new Map<string, { status?: number; headers?: Record<string, string>; body: string }>();

  beforeAll(async () => {
    redis = await startRedisServer();
    balancer = await startRoundRobin([]);
    docs = createServer((req, res) => {
      const doc = documents.get(req.url ?? '');
      if (!doc) return void res.writeHead(404).end();
      res.writeHead(doc.status ?? 200, { 'content-type': 'application/json', ...doc.headers }).end(doc.body);
    });
    await new Promise<void>((resolve) => docs.listen(0, '127.0.0.1', resolve));
    docsBase = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
    const config = {
      issuer: balancer.url,
      providers: [{ id: 'dev', use: 'dev' }],
      registration: {
        enabled: true,
        open: true,
        initial_access_tokens: [{ name: 'partner', sha256: sha256hex(IAT) }],
        unused_client_ttl_s: 3600,
        client_id_metadata_documents: true,
      },
    };
    a = await startApp(config, { store: await openRedisStore(redis.url) });
    b = await startApp(config, { store: await openRedisStore(redis.url) });
    balancer.backends.push(b.url);
    balancer.served.push(0);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await balancer?.close();
    await new Promise<void>((resolve) => (docs ? docs.close(() => resolve()) : resolve()));
    await redis?.stop();
  });

  /** POST /register on instance A. */
  const register = (body: unknown, headers: Record<string, string> = {}, base = a.url) =>
    fetch(`${base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  /** The client as openid-client sees it, every request to instance B (through the issuer's URL). */
  async function clientOnB(clientId: string, secret?: string): Promise<oidc.Configuration> {
    return oidc.discovery(
      new URL(balancer.url),
      clientId,
      secret,
      secret ? oidc.ClientSecretBasic(secret) : oidc.None(),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
  }

  it('advertises registration_endpoint and metadata documents in discovery', async () => {
    const meta = (await (await fetch(`${a.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(meta.registration_endpoint).toBe(`${balancer.url}/register`);
    expect(meta.client_id_metadata_document_supported).toBe(true);
  });

  it('registers with openid-client (RFC 7591) on A, then signs in with code + PKCE on B', async () => {
    balancer.backends[0] = a.url;
    const registered = await oidc.dynamicClientRegistration(
      new URL(balancer.url),
      { redirect_uris: [REDIRECT], client_name: 'MCP Agent', token_endpoint_auth_method: 'none' },
      oidc.None(),
      { execute: [oidc.allowInsecureRequests] },
    );
    balancer.backends[0] = b.url;
    const metadata = registered.clientMetadata();
    expect(metadata.client_id).toEqual(expect.any(String));
    expect(metadata.registration_access_token).toEqual(expect.any(String));
    expect(metadata.registration_client_uri).toBe(`${balancer.url}/register/${metadata.client_id}`);
    const tokens = await login(await clientOnB(metadata.client_id));
    expect(tokens.claims()?.aud).toBe(metadata.client_id);
    // Used once: the unused expiry is over (S-REG-03), the client stays.
    await expect.poll(() => b.store.ttl(`client:{c:${metadata.client_id}}`)).toBeNull();
    expect(await b.store.get(`client:{c:${metadata.client_id}}`)).toEqual(expect.any(String));
  });

  it('answers RFC 7591 §3.2.1 with a secret for a confidential client of an initial access token', async () => {
    const res = await register(
      {
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'client_credentials'],
        scope: 'openid api:read',
      },
      { authorization: `Bearer ${IAT}` },
    );
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_endpoint_auth_method: 'client_secret_basic',
      client_secret_expires_at: 0,
      grant_types: ['authorization_code', 'client_credentials'],
    });
    expect(body.client_secret).toEqual(expect.any(String));
    expect(body.client_id_issued_at).toEqual(expect.any(Number));
    // The secret works at once on the other instance.
    const config = await clientOnB(body.client_id as string, body.client_secret as string);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('refuses a wrong initial access token (401 invalid_token), even though registration is open', async () => {
    const res = await register({ redirect_uris: [REDIRECT] }, { authorization: 'Bearer wrong-token' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it.each([
    ['client_credentials', { grant_types: ['client_credentials'] }, 'invalid_client_metadata', 'grant_types'],
    ['password', { grant_types: ['authorization_code', 'password'] }, 'invalid_client_metadata', 'grant_types'],
    ['implicit', { response_types: ['id_token token'] }, 'invalid_client_metadata', 'response_types'],
    [
      'a secret',
      { token_endpoint_auth_method: 'client_secret_basic' },
      'invalid_client_metadata',
      'token_endpoint_auth_method',
    ],
    ['first_party', { first_party: true }, 'invalid_client_metadata', 'first_party'],
    ['an http redirect URI', { redirect_uris: ['http://app.example/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    ['localhost', { redirect_uris: ['http://localhost:8080/cb'] }, 'invalid_redirect_uri', 'redirect_uris'],
    [
      'a device code grant',
      { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] },
      'invalid_client_metadata',
      'grant_types',
    ],
    [
      'a back-channel logout URI',
      { backchannel_logout_uri: 'https://a.example/bcl' },
      'invalid_client_metadata',
      'backchannel_logout_uri',
    ],
  ])('the open policy refuses %s', async (_name, extra, error, field) => {
    const res = await register({ redirect_uris: [REDIRECT], ...extra });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe(error);
    expect(body.error_description.startsWith(field)).toBe(true);
  });

  it('refuses a body that is not JSON', async () => {
    const form = await fetch(`${a.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'redirect_uris=x',
    });
    expect(form.status).toBe(415);
    const broken = await fetch(`${a.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(broken.status).toBe(400);
    // Over the 64 KiB a registration may take: 413, nothing registered.
    const huge = await register({ redirect_uris: [REDIRECT], client_name: 'x'.repeat(70 * 1024) });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error_description: string }).error_description).toContain('exceeds');
  });

  it('RFC 7592: read, update (the token rotates) and delete, with wrong and right tokens', async () => {
    const created = (await (await register({ redirect_uris: [REDIRECT], client_name: 'Before' })).json()) as Record<
      string,
      string
    >;
    const uri = `${a.url}/register/${created.client_id}`;
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    // Wrong token, no token, another client's path: 401.
    expect((await fetch(uri, { headers: bearer('nope') })).status).toBe(401);
    expect((await fetch(uri)).status).toBe(401);
    expect(
      (await fetch(`${a.url}/register/someone-else`, { headers: bearer(created.registration_access_token!) })).status,
    ).toBe(401);
    // Read, on the other instance.
    const read = await fetch(`${b.url}/register/${created.client_id}`, {
      headers: bearer(created.registration_access_token!),
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({
      client_id: created.client_id,
      client_name: 'Before',
      redirect_uris: [REDIRECT],
    });
    // Update: full replacement; a server-only field or another id is refused.
    const put = (token: string, body: unknown) =>
      fetch(uri, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...bearer(token) },
        body: JSON.stringify(body),
      });
    const next = { client_id: created.client_id, redirect_uris: ['http://127.0.0.1:5011/cb'], client_name: 'After' };
    expect((await put('nope', next)).status).toBe(401);
    expect((await put(created.registration_access_token!, { ...next, client_id: 'other' })).status).toBe(400);
    expect((await put(created.registration_access_token!, { ...next, registration_access_token: 'x' })).status).toBe(
      400,
    );
    const bad = await put(created.registration_access_token!, { ...next, grant_types: ['client_credentials'] });
    expect(bad.status).toBe(400);
    const updated = await put(created.registration_access_token!, next);
    expect(updated.status).toBe(200);
    const after = (await updated.json()) as Record<string, unknown>;
    expect(after).toMatchObject({ client_name: 'After', redirect_uris: ['http://127.0.0.1:5011/cb'] });
    expect(after.registration_access_token).toEqual(expect.any(String));
    expect(after.registration_access_token).not.toBe(created.registration_access_token);
    // The old token is dead, the new one works.
    expect((await fetch(uri, { headers: bearer(created.registration_access_token!) })).status).toBe(401);
    const token = after.registration_access_token as string;
    expect((await fetch(uri, { headers: bearer(token) })).status).toBe(200);
    // Delete: wrong token refused; then the client and its token are gone.
    expect((await fetch(uri, { method: 'DELETE', headers: bearer('nope') })).status).toBe(401);
    expect((await fetch(uri, { method: 'DELETE', headers: bearer(token) })).status).toBe(204);
    expect((await fetch(uri, { headers: bearer(token) })).status).toBe(401);
  });

  it('RFC 7592 §2.2: a confidential client keeps its secret across an update; a wrong secret is refused', async () => {
    balancer.backends[0] = a.url;
    const registered = await oidc.dynamicClientRegistration(
      new URL(balancer.url),
      { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_post' },
      undefined,
      { execute: [oidc.allowInsecureRequests], initialAccessToken: IAT },
    );
    balancer.backends[0] = b.url;
    const created = registered.clientMetadata() as Record<string, string>;
    expect(created.client_secret).toEqual(expect.any(String));
    const put = (body: Record<string, unknown>) =>
      fetch(`${a.url}/register/${created.client_id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${created.registration_access_token}` },
        body: JSON.stringify({
          client_id: created.client_id,
          redirect_uris: [REDIRECT],
          token_endpoint_auth_method: 'client_secret_post',
          ...body,
        }),
      });
    const wrong = await put({ client_secret: 'a-secret-the-client-chose-itself' });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error_description: string }).error_description).toMatch(/^client_secret:/);
    const updated = await put({ client_secret: created.client_secret, client_name: 'Renamed' });
    expect(updated.status).toBe(200);
    const body = (await updated.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ client_name: 'Renamed', client_secret_expires_at: 0 });
    expect(body).not.toHaveProperty('client_secret');
    // The old secret still authenticates (on the instance that made the change).
    const config = new oidc.Configuration(
      (await clientOnB(created.client_id!)).serverMetadata(),
      created.client_id!,
      created.client_secret,
      oidc.ClientSecretPost(created.client_secret),
    );
    oidc.allowInsecureRequests(config);
    const info = await oidc.tokenIntrospection(config, 'not-a-token');
    expect(info.active).toBe(false);
  });

  it('deleting a client ends its tokens (RFC 7592 §2.3)', async () => {
    const created = (await (
      await register({ redirect_uris: [REDIRECT], scope: 'openid profile offline_access' })
    ).json()) as Record<string, string>;
    const config = await clientOnB(created.client_id!);
    const tokens = await login(config, 'openid profile offline_access');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const res = await fetch(`${a.url}/register/${created.client_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${created.registration_access_token}` },
    });
    expect(res.status).toBe(204);
    const userinfo = (base: string) =>
      fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    // At once on the instance that deleted it; on the other within its client cache's time.
    expect((await userinfo(a.url)).status).toBe(401);
    const start = Date.now();
    setClock(() => start + CLIENT_CACHE_MS + 1000);
    try {
      expect((await userinfo(b.url)).status).toBe(401);
      const refreshed = await fetch(`${b.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token!,
          client_id: created.client_id!,
        }),
      });
      expect(refreshed.status).toBe(401);
      expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_client');
    } finally {
      setClock();
    }
  });

  it('gives an openly registered client the unused expiry in the store', async () => {
    const created = (await (await register({ redirect_uris: [REDIRECT] })).json()) as Record<string, string>;
    const ttl = await a.store.ttl(`client:{c:${created.client_id}}`);
    expect(ttl).toBeGreaterThan(3500);
    expect(ttl).toBeLessThanOrEqual(3600);
  });

  describe('Client ID Metadata Documents', () => {
    const docUrl = (path: string) => `${docsBase}${path}`;

    it('signs in a client described by the document at its URL', async () => {
      documents.set('/agent.json', {
        headers: { 'cache-control': 'max-age=300' },
        body: JSON.stringify({ client_id: docUrl('/agent.json'), client_name: 'Doc Agent', redirect_uris: [REDIRECT] }),
      });
      const tokens = await login(await clientOnB(docUrl('/agent.json')));
      expect(tokens.claims()?.aud).toBe(docUrl('/agent.json'));
    });

    /** /authorize with a document client: the error page's text, or the redirect it made. */
    async function authorizePage(clientId: string): Promise<{ status: number; text: string }> {
      const url = new URL(`${b.url}/authorize`);
      url.search = new URLSearchParams({
        client_id: clientId,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }).toString();
      const res = await fetch(url, { redirect: 'manual' });
      return { status: res.status, text: await res.text() };
    }

    it.each([
      ['a redirect', '/moved.json', { status: 302, headers: { location: '/agent.json' }, body: '' }, 'redirect'],
      [
        'a wrong client_id',
        '/wrong.json',
        { body: JSON.stringify({ client_id: 'https://x.example/c', redirect_uris: [REDIRECT] }) },
        'not its URL',
      ],
      ['an oversize document', '/big.json', { body: JSON.stringify({ pad: 'x'.repeat(10_000) }) }, 'larger than'],
      [
        'a confidential client',
        '/secret.json',
        {
          body: JSON.stringify({
            client_id: '',
            redirect_uris: [REDIRECT],
            token_endpoint_auth_method: 'client_secret_basic',
          }),
        },
        'token_endpoint_auth_method',
      ],
    ])('refuses %s', async (_name, path, doc, why) => {
      documents.set(path, { ...doc, body: doc.body.replace('"client_id":""', `"client_id":"${docUrl(path)}"`) });
      const page = await authorizePage(docUrl(path));
      expect(page.status).toBe(400);
      expect(page.text).toContain(why);
    });

    it.each([
      ['a private address', 'https://10.0.0.1/client.json', 'private'],
      ['the cloud metadata address', 'https://169.254.169.254/client.json', 'linkLocal'],
      ['plain http off loopback', 'http://client.example/client.json', 'https'],
    ])('refuses %s without connecting', async (_name, clientId, why) => {
      const page = await authorizePage(clientId);
      expect(page.status).toBe(400);
      expect(page.text).toContain(why);
    });
  });
});

describe('registration limits and expiry (memory store)', () => {
  it('counts registrations per client IP (rate_limits.registrations)', async () => {
    const app = await startApp({
      providers: [{ id: 'dev', use: 'dev' }],
      trust_proxy: true,
      registration: { enabled: true, open: true },
      rate_limits: { registrations: { limit: 2, window_s: 3600 } },
    });
    try {
      const post = (ip: string) =>
        fetch(`${app.url}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
          body: JSON.stringify({ redirect_uris: [REDIRECT] }),
        });
      expect((await post('203.0.113.1')).status).toBe(201);
      expect((await post('203.0.113.1')).status).toBe(201);
      const third = await post('203.0.113.1');
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toEqual(expect.any(String));
      expect((await post('203.0.113.2')).status).toBe(201);
      // IPv6: one /64 is one registrant, whichever of its addresses it uses.
      expect((await post('2001:db8:1:2::1')).status).toBe(201);
      expect((await post('2001:db8:1:2:aaaa::7')).status).toBe(201);
      expect((await post('2001:db8:1:2:ffff:ffff:ffff:fffe')).status).toBe(429);
      expect((await post('2001:db8:1:3::1')).status).toBe(201);
    } finally {
      await app.close();
    }
  });

  it('removes an openly registered client that redeemed no code within unused_client_ttl_s; one that did stays', async () => {
    const app = await startApp({
      providers: [{ id: 'dev', use: 'dev' }],
      registration: { enabled: true, open: true, unused_client_ttl_s: 60 },
    });
    try {
      const create = async () =>
        (await (
          await fetch(`${app.url}/register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ redirect_uris: [REDIRECT] }),
          })
        ).json()) as Record<string, string>;
      const idle = await create();
      const used = await create();
      const authorize = new URL(`${app.url}/authorize`);
      authorize.search = new URLSearchParams({
        client_id: used.client_id!,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 's',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
      }).toString();
      // An authorization request anyone can send with the id keeps nothing (S-REG-03)...
      expect((await fetch(authorize, { redirect: 'manual' })).status).toBe(303);
      await new Promise((r) => setTimeout(r, 100));
      expect(await app.store.ttl(`client:{c:${used.client_id}}`)).toEqual(expect.any(Number));
      // ...a redeemed authorization code does.
      const config = await oidc.discovery(new URL(app.url), used.client_id!, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      await login(config);
      await expect.poll(() => app.store.ttl(`client:{c:${used.client_id}}`)).toBeNull();
      const read = (c: Record<string, string>) =>
        fetch(`${app.url}/register/${c.client_id}`, {
          headers: { authorization: `Bearer ${c.registration_access_token}` },
        });
      expect((await read(idle)).status).toBe(200);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 61_000);
      expect((await read(idle)).status).toBe(401);
      expect((await read(used)).status).toBe(200);
    } finally {
      vi.useRealTimers();
      await app.close();
    }
  });

  it('serves no /register and advertises none when registration is off', async () => {
    const app = await startApp({ providers: [{ id: 'dev', use: 'dev' }] });
    try {
      const res = await fetch(`${app.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      const meta = (await (await fetch(`${app.url}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >;
      expect(meta).not.toHaveProperty('registration_endpoint');
      expect(meta).not.toHaveProperty('client_id_metadata_document_supported');
    } finally {
      await app.close();
    }
  });
});
