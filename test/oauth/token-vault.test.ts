import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenVault } from '../../src/identity/token-vault.js';
import { Users } from '../../src/identity/users.js';
import { setClock } from '../../src/lib/clock.js';
import type { Store } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { SECRETS } from '../support/broker-fixture.js';
import { pkceAuthorization } from '../support/app-client.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent, formValue } from '../support/user-agent.js';
import { idpHop, nextHop } from '../support/idp-hops.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET as UPSTREAM_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * The upstream token vault and outbound token exchange (RFC 8693) end to end, on Redis, with
 * oidc-provider 8 as the upstream: it issues rotating refresh tokens and access tokens of 90 s,
 * so with the broker's clock moved past the refresh margin every exchange needs a refresh.
 * docs/security.md S-VAULT-01 to S-VAULT-05.
 */
const REDIRECT = 'http://127.0.0.1:5000/cb';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const OLD_KEY = { id: 'k1', secret: Buffer.alloc(32, 1).toString('base64url') };
const NEW_KEY = { id: 'k2', secret: Buffer.alloc(32, 2).toString('base64url') };
const TP_SECRET = 'partner-secret-0123456789abcdef';
const NATIVE_REDIRECT = 'http://127.0.0.1:5009/native';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const available = redisServerAvailable();

interface Answer {
  access_token?: string;
  token_type?: string;
  expires_in?: number;
  error?: string;
  error_description?: string;
  [key: string]: unknown;
}

describe.skipIf(!available)('token vault and token exchange against oidc-provider, on Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  let idpIssuer: string;
  let broker: RunningApp;
  let store: Store;
  /** Refresh-token requests that reached the upstream's token endpoint. */
  let refreshes = 0;
  let upstreamDown = false;
  const revocations: string[] = [];
  let idp: UpstreamIdp;
  /** Store round trips of the last callback from corp. */
  let callbackTrips = 0;

  const upstreamFetch: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const body = typeof init?.body === 'string' ? init.body : init?.body?.toString();
    if (url.endsWith('/token') && body?.includes('grant_type=refresh_token')) {
      if (upstreamDown) throw new TypeError('fetch failed');
      refreshes++;
    }
    if (url.endsWith('/token/revocation')) revocations.push(new URLSearchParams(body).get('token_type_hint') ?? '');
    return fetch(input, init);
  };

  const brokerConfig = (keys: (typeof OLD_KEY)[]) => (_issuer: string) => ({
    clients: [
      {
        client_id: 'web',
        client_name: 'Web App',
        client_secret: SECRETS.web,
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', EXCHANGE],
        upstream_tokens: ['corp'],
        first_party: true,
      },
      {
        client_id: 'other',
        client_secret: SECRETS.other,
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', EXCHANGE],
        first_party: true,
      },
      {
        client_id: 'tp',
        client_name: 'Partner App',
        client_secret: TP_SECRET,
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', EXCHANGE],
        upstream_tokens: ['corp'],
      },
      {
        client_id: 'mobile',
        token_endpoint_auth_method: 'none',
        grant_types: [EXCHANGE, 'refresh_token'],
        native_providers: ['corp', 'dev'],
        first_party: true,
      },
    ],
    providers: [
      {
        id: 'corp',
        use: 'oidc',
        issuer: idpIssuer,
        client_id: 'broker',
        client_secret: UPSTREAM_SECRET,
        name: 'Corp SSO',
        scopes: ['openid', 'email', 'profile', 'offline_access'],
        store_tokens: true,
        native_client_ids: ['native-app'],
      },
      { id: 'dev', use: 'dev' },
    ],
    token_vault: { keys },
    account: { reauth_max_age_s: 600 },
  });

  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url);
    store = await openRedisStore(redis.url);
    idp = await startUpstreamIdp({
      redirectUri: () => `${broker.url}/callback/corp`,
      brokerClient: { grant_types: ['authorization_code', 'refresh_token'] },
      // The mobile app's own client at the provider (its SDK), and some other app's.
      otherClients: ['native-app', 'stranger'].map((client_id) => ({
        client_id,
        token_endpoint_auth_method: 'none',
        redirect_uris: [NATIVE_REDIRECT],
        grant_types: ['authorization_code'],
      })),
      settings: {
        features: { revocation: { enabled: true } },
        ttl: { AccessToken: 90, RefreshToken: 3600 },
        rotateRefreshToken: true,
        issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
          client.grantTypeAllowed('refresh_token'),
      },
    });
    idpIssuer = idp.issuer;
    broker = await startApp(brokerConfig([OLD_KEY]), { store, upstreamFetch });
  });

  afterEach(() => {
    setClock();
    upstreamDown = false;
  });

  afterAll(async () => {
    setClock();
    await broker?.close();
    await idp?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  /** Follows the browser through both servers until it lands on the app's redirect URI. */
  async function walk(
    start: URL,
    account: string,
    brokerUa = new UserAgent(),
    until = (url: URL) => url.origin + url.pathname === REDIRECT,
  ): Promise<URL> {
    const agents = new Map<string, UserAgent>([
      [new URL(broker.url).origin, brokerUa],
      [idpIssuer, new UserAgent()],
    ]);
    let url = start;
    for (let step = 0; step < 20; step++) {
      if (until(url)) return url;
      const ua = agents.get(url.origin);
      if (!ua) throw new Error(`unexpected hop to ${url.origin}`);
      const before = store.roundTrips;
      const res = await idpHop(ua, url, idpIssuer, account);
      if (url.pathname === '/callback/corp') callbackTrips = store.roundTrips - before;
      url = await nextHop(res, url);
    }
    throw new Error('too many hops');
  }

  async function appConfig(clientId = 'web', secret = SECRETS.web, base = broker.url) {
    return oidc.discovery(new URL(base), clientId, secret, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
    });
  }

  /** Signs `account` in to the app through corp; returns the app's tokens and the broker browser. */
  async function signIn(account: string, clientId = 'web', secret = SECRETS.web) {
    const config = await appConfig(clientId, secret);
    const auth = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', provider: 'corp' });
    const ua = new UserAgent();
    const callback = await walk(auth.url, account, ua);
    const tokens = await oidc.authorizationCodeGrant(config, callback, auth.checks);
    return { tokens, ua, sub: tokens.claims()!.sub };
  }

  async function exchange(
    subjectToken: string,
    extra: Record<string, string> = {},
    base = broker.url,
    credentials = `web:${SECRETS.web}`,
  ) {
    const response = await fetch(`${base}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: AT_TYPE,
        requested_token_type: AT_TYPE,
        audience: 'corp',
        ...extra,
      }).toString(),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Answer };
  }

  /** The stored entry, opened with the test's own copy of the keys. */
  async function storedEntry(userId: string, subject: string) {
    const vault = new TokenVault(store, { keys: [NEW_KEY, OLD_KEY] });
    const [found] = await vault.read(userId, [{ provider: 'corp', subject }]);
    return found;
  }

  /** Every string value in Redis. */
  async function redisText(): Promise<string> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const values: string[] = [];
    for (const key of keys) {
      const type = await raw.type(key);
      if (type === 'string') values.push(key, (await raw.get(key)) ?? '');
      else if (type === 'set') values.push(key, ...(await raw.smembers(key)));
      else if (type === 'hash') values.push(key, JSON.stringify(await raw.hgetall(key)));
      else values.push(key, type);
    }
    return values.join('\n');
  }

  const moveClock = (seconds: number) => {
    const offset = seconds * 1000;
    setClock(() => Date.now() + offset);
  };

  it('keeps the upstream tokens at login, encrypted, and hands the access token to the app (RFC 8693 §2.2.1)', async () => {
    const { tokens, sub } = await signIn('alice');
    const entry = await storedEntry(sub, 'alice');
    expect(entry?.entry.tokens.refreshToken).toBeTruthy();
    expect(entry?.raw.startsWith('v1.k1.')).toBe(true);

    const before = refreshes;
    const answer = await exchange(tokens.access_token);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toContain('no-store');
    expect(answer.body).toMatchObject({
      access_token: entry!.entry.tokens.accessToken,
      issued_token_type: AT_TYPE,
      token_type: 'Bearer',
      scope: expect.stringContaining('openid'),
    });
    expect(answer.body.expires_in).toBeGreaterThan(60);
    expect(answer.body.expires_in).toBeLessThanOrEqual(90);
    expect(refreshes).toBe(before); // fresh: no refresh

    // What the README shows an app doing, with openid-client.
    const viaClient = await oidc.genericGrantRequest(await appConfig(), EXCHANGE, {
      subject_token: tokens.access_token,
      subject_token_type: AT_TYPE,
      requested_token_type: AT_TYPE,
      audience: 'corp',
    });
    expect(viaClient.access_token).toBe(answer.body.access_token);
    expect(viaClient.issued_token_type).toBe(AT_TYPE);

    // The token works at the provider.
    const userinfo = await fetch(`${idpIssuer}/me`, {
      headers: { authorization: `Bearer ${answer.body.access_token}` },
    });
    expect(userinfo.status).toBe(200);

    // Neither Redis nor a log line holds an upstream token in clear.
    const text = await redisText();
    expect(text).toContain('vault:{');
    for (const secret of [entry!.entry.tokens.accessToken, entry!.entry.tokens.refreshToken!]) {
      expect(text).not.toContain(secret);
      expect(JSON.stringify(broker.logs)).not.toContain(secret);
    }
  });

  it('refreshes an about-to-expire token once for 20 concurrent requests on two instances; rotation kept', async () => {
    const { tokens, sub } = await signIn('bob');
    const first = await storedEntry(sub, 'bob');
    // A second instance on the same Redis and issuer, whose keys were rotated (k2 first, k1 still decrypts).
    const second = await startApp(
      { ...brokerConfig([NEW_KEY, OLD_KEY])(''), issuer: broker.url },
      { store: await openRedisStore(redis.url), upstreamFetch },
    );
    try {
      moveClock(40); // 90 s tokens: less than 60 s left
      const before = refreshes;
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => exchange(tokens.access_token, {}, i % 2 ? second.url : broker.url)),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
      expect(refreshes - before).toBe(1);
      const issued = new Set(answers.map((a) => a.body.access_token));
      expect(issued.size).toBe(1);
      expect(issued.has(first!.entry.tokens.accessToken)).toBe(false);

      const after = await storedEntry(sub, 'bob');
      expect(after!.entry.tokens.accessToken).toBe(answers[0]!.body.access_token);
      // oidc-provider rotates refresh tokens: the new one replaced the old one.
      expect(after!.entry.tokens.refreshToken).toBeTruthy();
      expect(after!.entry.tokens.refreshToken).not.toBe(first!.entry.tokens.refreshToken);
      // Whichever instance refreshed wrote it; both read it (key rotation: old and new keys).
      expect(after!.raw).toMatch(/^v1\.k[12]\./);
      const again = await exchange(tokens.access_token, {}, second.url);
      expect(again.body.access_token).toBe(after!.entry.tokens.accessToken);
      expect(refreshes - before).toBe(1);
    } finally {
      await second.close();
    }
  });

  it('an entry sealed with the old key is read by an instance whose new key comes first, and re-sealed with it', async () => {
    const { tokens, sub } = await signIn('erin');
    expect((await storedEntry(sub, 'erin'))!.raw.startsWith('v1.k1.')).toBe(true);
    const rotated = await startApp(
      { ...brokerConfig([NEW_KEY, OLD_KEY])(''), issuer: broker.url },
      { store: await openRedisStore(redis.url), upstreamFetch },
    );
    try {
      const fresh = await exchange(tokens.access_token, {}, rotated.url);
      expect(fresh.status).toBe(200);
      moveClock(45);
      const refreshed = await exchange(tokens.access_token, {}, rotated.url);
      expect(refreshed.status).toBe(200);
      expect((await storedEntry(sub, 'erin'))!.raw.startsWith('v1.k2.')).toBe(true);
    } finally {
      await rotated.close();
    }
  });

  it('a refresh token revoked at the provider: invalid_grant, and the stored tokens are deleted', async () => {
    const { tokens, sub } = await signIn('carol');
    const entry = await storedEntry(sub, 'carol');
    const revoke = await fetch(`${idpIssuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`broker:${UPSTREAM_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token: entry!.entry.tokens.refreshToken! }).toString(),
    });
    expect(revoke.status).toBe(200);
    moveClock(50);
    const answer = await exchange(tokens.access_token);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_grant');
    expect(answer.body.error_description).toContain('sign in with corp again');
    expect(await storedEntry(sub, 'carol')).toBeUndefined();
    const after = await exchange(tokens.access_token);
    expect(after.body.error).toBe('invalid_target');
  });

  it('the provider down during a refresh: 503 temporarily_unavailable, and the tokens are kept', async () => {
    const { tokens, sub } = await signIn('dave');
    moveClock(50);
    upstreamDown = true;
    const answer = await exchange(tokens.access_token);
    expect(answer.status).toBe(503);
    expect(answer.body.error).toBe('temporarily_unavailable');
    expect(await storedEntry(sub, 'dave')).toBeDefined();
    upstreamDown = false;
    const later = await exchange(tokens.access_token);
    expect(later.status).toBe(200);
  });

  it('refuses what RFC 8693 §2.2.2 and RFC 6749 §5.2 refuse', async () => {
    const { tokens } = await signIn('frank');
    const invalid = await exchange('not-a-token');
    expect([invalid.status, invalid.body.error]).toEqual([400, 'invalid_request']);
    const wrongType = await exchange(tokens.access_token, { subject_token_type: 'urn:x' });
    expect(wrongType.body.error).toBe('invalid_request');
    const unknown = await exchange(tokens.access_token, { audience: 'github' });
    expect(unknown.body.error).toBe('invalid_target');
    const notListed = await exchange(tokens.access_token, { audience: 'dev' });
    expect(notListed.body.error).toBe('invalid_target');
    // An ID token is not an access token (RFC 9068 §4).
    const idToken = await exchange(tokens.id_token!);
    expect(idToken.body.error).toBe('invalid_request');

    // A token issued to another client.
    const other = await signIn('frank', 'other', SECRETS.other);
    const foreign = await exchange(other.tokens.access_token);
    expect([foreign.status, foreign.body.error]).toEqual([400, 'invalid_request']);
    expect(foreign.body.error_description).toContain('another client');

    // A revoked subject token (RFC 7009).
    const config = await appConfig();
    await oidc.tokenRevocation(config, tokens.access_token);
    const revoked = await exchange(tokens.access_token);
    expect(revoked.body.error).toBe('invalid_request');

    // A client without upstream_tokens for this provider.
    const noRight = await fetch(`${broker.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`other:${SECRETS.other}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: EXCHANGE,
        subject_token: other.tokens.access_token,
        subject_token_type: AT_TYPE,
        audience: 'corp',
      }).toString(),
    });
    expect(noRight.status).toBe(400);
    expect(((await noRight.json()) as { error: string }).error).toBe('invalid_target');
  });

  it('a user with no stored token at the provider: invalid_target', async () => {
    // Signed in with the dev form: no corp identity.
    const config = await appConfig();
    const auth = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', provider: 'dev' });
    const ua = new UserAgent();
    let res = await ua.get(auth.url);
    const loginPage = new URL(res.headers.get('location')!, broker.url);
    const page = await (await ua.get(loginPage)).text();
    const corpTrips = callbackTrips;
    const before = store.roundTrips;
    res = await ua.postForm(`${broker.url}/callback/dev`, { state: formValue(page, 'state'), username: 'gina' });
    // A login that stores tokens costs no more store round trips than one that stores none.
    expect(corpTrips).toBeGreaterThan(0);
    expect(corpTrips).toBe(store.roundTrips - before);
    let url = new URL(res.headers.get('location')!, broker.url);
    while (url.origin + url.pathname !== REDIRECT) url = new URL((await ua.get(url)).headers.get('location')!, url);
    const tokens = await oidc.authorizationCodeGrant(config, url, auth.checks);
    const answer = await exchange(tokens.access_token);
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_target']);
  });

  it('discovery lists the token-exchange grant when a client may use it', async () => {
    const doc = (await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json()) as {
      grant_types_supported: string[];
    };
    expect(doc.grant_types_supported).toContain(EXCHANGE);
  });

  it('a third-party client: the consent page says it in plain words, and without that consent nothing is read', async () => {
    const config = await appConfig('tp', TP_SECRET);
    const auth = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', provider: 'corp' });
    const ua = new UserAgent();
    const atConsent = (url: URL) => /^\/interaction\/[^/]+\/consent$/.test(url.pathname);
    const consentUrl = await walk(auth.url, 'lena', ua, atConsent);
    const page = await (await ua.get(consentUrl)).text();
    expect(page).toContain('Read your Corp SSO token to call Corp SSO for you');
    const allowed = await ua.postForm(consentUrl, { csrf: formValue(page, 'csrf'), decision: 'allow' });
    const callback = await walk(new URL(allowed.headers.get('location')!, broker.url), 'lena', ua);
    const tokens = await oidc.authorizationCodeGrant(config, callback, auth.checks);
    const credentials = `tp:${TP_SECRET}`;
    const answer = await exchange(tokens.access_token, {}, broker.url, credentials);
    expect(answer.status).toBe(200);
    expect(answer.body.access_token).toBeTruthy();

    // A consent remembered without the token (given before the app asked for it) is not enough.
    const sub = tokens.claims()!.sub;
    await store.put(`consent:${sub}:tp`, JSON.stringify(['openid']));
    const refused = await exchange(tokens.access_token, {}, broker.url, credentials);
    expect([refused.status, refused.body.error]).toEqual([400, 'invalid_target']);
    expect(refused.body.error_description).toContain('not allowed this app');
  });

  describe('lifecycle on the account page', () => {
    const atAccount = (url: URL) => url.pathname === '/account';

    async function accountPage(ua: UserAgent) {
      const html = await (await ua.get(`${broker.url}/account`)).text();
      return { html, csrf: formValue(html, 'csrf') };
    }

    /** Links the dev form's `username` into the signed-in user. */
    async function linkDev(ua: UserAgent, username: string) {
      const { csrf } = await accountPage(ua);
      const start = await ua.postForm(`${broker.url}/account/link/dev`, { csrf });
      const page = await (await ua.get(new URL(start.headers.get('location')!, broker.url))).text();
      const done = await ua.postForm(`${broker.url}/callback/dev`, { state: formValue(page, 'state'), username });
      expect(done.headers.get('location')).toContain('notice=linked');
    }

    it('a link at a provider with store_tokens keeps its tokens; the page lists them and the apps that may read them', async () => {
      const ua = new UserAgent();
      const { csrf } = await accountPage(ua);
      const login = await ua.postForm(`${broker.url}/account/login`, { csrf, provider: 'dev' });
      const page = await (await ua.get(new URL(login.headers.get('location')!, broker.url))).text();
      await ua.postForm(`${broker.url}/callback/dev`, { state: formValue(page, 'state'), username: 'ivy' });
      const signedIn = await accountPage(ua);
      expect(signedIn.html).not.toContain('Stored provider tokens');

      const link = await ua.postForm(`${broker.url}/account/link/corp`, { csrf: signedIn.csrf });
      const back = await walk(new URL(link.headers.get('location')!), 'ivy-corp', ua, atAccount);
      expect(back.searchParams.get('notice')).toBe('linked');
      const { html } = await accountPage(ua);
      expect(html).toContain('Stored provider tokens');
      expect(html).toContain('Forget Corp SSO tokens');
      expect(html).toMatch(/Apps that may use it: Web App/);
      const userId = /account id <code>([^<]+)<\/code>/.exec(html)![1]!;
      const stored = await storedEntry(userId, 'ivy-corp');
      expect(stored?.entry.tokens.accessToken).toBeTruthy();
      expect(html).not.toContain(stored!.entry.tokens.accessToken);
    });

    it('forget needs the CSRF token and a recent login, then revokes upstream and deletes the stored tokens', async () => {
      const { tokens, ua, sub } = await signIn('jack');
      const { csrf } = await accountPage(ua);
      const form = { provider: 'corp', subject: 'jack' };
      const noCsrf = await ua.postForm(`${broker.url}/account/tokens/forget`, form);
      expect(noCsrf.status).toBe(403);
      const crossSite = await ua.postForm(
        `${broker.url}/account/tokens/forget`,
        { ...form, csrf },
        {
          'sec-fetch-site': 'cross-site',
        },
      );
      expect(crossSite.status).toBe(403);
      moveClock(601);
      const stale = await ua.postForm(`${broker.url}/account/tokens/forget`, { ...form, csrf });
      expect(stale.status).toBe(403);
      expect(await stale.text()).toContain('sign in again');
      setClock();
      expect(await storedEntry(sub, 'jack')).toBeDefined();
      // Another user's identity is not this user's to forget.
      const foreign = await ua.postForm(`${broker.url}/account/tokens/forget`, {
        provider: 'corp',
        subject: 'bob',
        csrf,
      });
      expect(foreign.status).toBe(400);

      const before = revocations.length;
      const forgot = await ua.postForm(`${broker.url}/account/tokens/forget`, { ...form, csrf });
      expect(forgot.status).toBe(303);
      expect(forgot.headers.get('location')).toContain('notice=forgotten');
      expect(await storedEntry(sub, 'jack')).toBeUndefined();
      expect(revocations.slice(before)).toEqual(['refresh_token']); // RFC 7009 at the provider
      const answer = await exchange(tokens.access_token);
      expect(answer.body.error).toBe('invalid_target');
      expect((await accountPage(ua)).html).not.toContain('Stored provider tokens');
    });

    it('unlinking the identity deletes its stored tokens and revokes them upstream', async () => {
      const { ua, sub } = await signIn('kim');
      await linkDev(ua, 'kim-dev');
      expect(await storedEntry(sub, 'kim')).toBeDefined();
      const { csrf } = await accountPage(ua);
      const before = revocations.length;
      const unlink = await ua.postForm(`${broker.url}/account/unlink`, { csrf, provider: 'corp', subject: 'kim' });
      expect(unlink.headers.get('location')).toContain('notice=unlinked');
      expect(await storedEntry(sub, 'kim')).toBeUndefined();
      expect(revocations.slice(before)).toEqual(['refresh_token']);
    });
  });

  describe('native sign-in with the provider SDK’s ID token (inbound exchange)', () => {
    /** What a native SDK gets from the provider: an ID token issued to its own client there. */
    async function sdkIdToken(clientId: string, account: string): Promise<string> {
      const config = await oidc.discovery(new URL(idpIssuer), clientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      });
      const auth = await pkceAuthorization(config, { redirect_uri: NATIVE_REDIRECT, scope: 'openid email' });
      const atApp = (url: URL) => url.origin + url.pathname === NATIVE_REDIRECT;
      const callback = await walk(auth.url, account, new UserAgent(), atApp);
      return (await oidc.authorizationCodeGrant(config, callback, auth.checks)).id_token!;
    }

    async function native(token: string, extra: Record<string, string> = {}, clientId = 'mobile') {
      const response = await fetch(`${broker.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: EXCHANGE,
          client_id: clientId,
          subject_token: token,
          subject_token_type: ID_TOKEN_TYPE,
          subject_issuer: 'corp',
          scope: 'openid email',
          ...extra,
        }).toString(),
      });
      return { status: response.status, body: (await response.json()) as Answer };
    }

    it('lands on the same broker user as the browser login, with the code flow’s answer', async () => {
      const browser = await signIn('nora');
      const idToken = await sdkIdToken('native-app', 'nora');
      const answer = await native(idToken);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ token_type: 'Bearer', issued_token_type: AT_TYPE, scope: 'openid email' });
      expect(answer.body.refresh_token).toBeTruthy(); // first party with refresh_token
      const claims = JSON.parse(Buffer.from(String(answer.body.id_token).split('.')[1]!, 'base64url').toString());
      expect(claims).toMatchObject({ sub: browser.sub, aud: 'mobile', iss: broker.url, email: 'nora@corp.example' });
      // Accepted once (its hash kept until it expires).
      const replay = await native(idToken);
      expect([replay.status, replay.body.error]).toEqual([400, 'invalid_request']);
      expect(replay.body.error_description).toContain('already used');
    });

    it('refuses another app’s, a too old, an expired, an HS256 and an unsigned ID token', async () => {
      const foreign = await native(await sdkIdToken('stranger', 'olga'));
      expect([foreign.status, foreign.body.error]).toEqual([400, 'invalid_request']);
      expect(foreign.body.error_description).toContain('ERR_JWT_CLAIM_VALIDATION_FAILED');

      const old = await sdkIdToken('native-app', 'olga');
      moveClock(601); // native_max_age_s: 600
      expect((await native(old)).body.error).toBe('invalid_request');
      moveClock(3700); // past exp as well
      expect((await native(old)).body.error).toBe('invalid_request');
      setClock();

      const payload = { iss: idpIssuer, sub: 'olga', aud: 'native-app' };
      const hs256 = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('0123456789abcdef0123456789abcdef'));
      const hsAnswer = await native(hs256);
      expect([hsAnswer.status, hsAnswer.body.error]).toEqual([400, 'invalid_request']);
      const now = Math.floor(Date.now() / 1000);
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({ ...payload, iat: now, exp: now + 300 }),
      ).toString('base64url')}.`;
      expect((await native(unsigned)).body.error).toBe('invalid_request');

      // The first one, still fresh, is accepted (none of the refusals spent it).
      expect((await native(old)).status).toBe(200);
    });

    it('a disabled user: native sign-in is invalid_grant, the outbound exchange refuses their token', async () => {
      const browser = await signIn('vera');
      expect((await exchange(browser.tokens.access_token)).status).toBe(200);
      await new Users(broker.store).setDisabled(browser.sub, true);
      const answer = await native(await sdkIdToken('native-app', 'vera'));
      expect([answer.status, answer.body.error]).toEqual([400, 'invalid_grant']);
      expect(answer.body.error_description).toContain('disabled');
      const refused = await exchange(browser.tokens.access_token);
      expect([refused.status, refused.body.error]).toEqual([400, 'invalid_request']);
    });

    it('another provider’s token, an access token, and a client without native_providers are refused', async () => {
      const idToken = await sdkIdToken('native-app', 'pia');
      const otherProvider = await native(idToken, { subject_issuer: 'dev' });
      expect([otherProvider.status, otherProvider.body.error]).toEqual([400, 'invalid_request']);
      const accessToken = await native('some-provider-access-token', { subject_token_type: AT_TYPE });
      expect(accessToken.body.error).toBe('invalid_request');
      expect(accessToken.body.error_description).toContain('Corp SSO');
      const web = await fetch(`${broker.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: EXCHANGE,
          subject_token: idToken,
          subject_token_type: ID_TOKEN_TYPE,
          subject_issuer: 'corp',
        }).toString(),
      });
      expect(((await web.json()) as Answer).error).toBe('unauthorized_client');
      // Still unspent: the refusals above did not burn it.
      expect((await native(idToken)).status).toBe(200);
    });
  });
});
