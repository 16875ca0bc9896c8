import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { BASE_CONFIG, SECRETS } from '../support/broker-fixture.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const AUTHORIZE = '/authorize?client_id=web&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcb';

function tokenRequest(url: string, authorization: string, headers: Record<string, string> = {}) {
  return fetch(`${url}/token`, {
    method: 'POST',
    headers: { ...FORM, authorization, ...headers },
    body: 'grant_type=client_credentials',
  });
}

async function expectJson429(res: Response) {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(res.headers.get('content-type')).toContain('application/json');
  expect(await res.json()).toMatchObject({
    error: 'temporarily_unavailable',
    error_description: expect.stringMatching(/too many requests/),
  });
}

async function expectPage429(res: Response) {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(await res.text()).toContain('Too many attempts');
}

describe('rate limits on the memory store', () => {
  let broker: RunningApp;
  afterEach(async () => broker?.close());

  it('per IP at /authorize: 429 with Retry-After and the error page, whatever the spelling of the path', async () => {
    broker = await startApp({ ...BASE_CONFIG, rate_limits: { authorize: { limit: 3, window_s: 60 } } });
    const paths = [
      AUTHORIZE,
      AUTHORIZE.replace('/authorize', '/AUTHORIZE'),
      AUTHORIZE.replace('/authorize', '/authorize/'),
    ];
    for (const path of paths)
      expect((await fetch(`${broker.url}${path}`, { redirect: 'manual' })).status).not.toBe(429);
    await expectPage429(
      await fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual', headers: { accept: 'application/json' } }),
    );
    // Other routes are not limited by it.
    expect((await fetch(`${broker.url}/.well-known/openid-configuration`)).status).toBe(200);
    // Logged once per window, however many refusals follow.
    await fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual' });
    const logged = broker.logs.filter((l) => l.msg === 'rate limit reached: refusing until the window ends');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ limit: 'authorize', ip: '127.0.0.1' });
  });

  it('per IP on the callbacks and the chooser and account POSTs', async () => {
    broker = await startApp({
      ...BASE_CONFIG,
      rate_limits: {
        callback: { limit: 1, window_s: 60 },
        interaction: { limit: 1, window_s: 60 },
        account: { limit: 1, window_s: 60 },
      },
    });
    const post = (path: string) =>
      fetch(`${broker.url}${path}`, { method: 'POST', headers: FORM, body: 'a=b', redirect: 'manual' });
    expect((await fetch(`${broker.url}/callback/dev?state=x`)).status).toBe(400);
    await expectPage429(await fetch(`${broker.url}/upstream/dev/login?state=x`));
    expect((await post('/interaction/abc/login')).status).not.toBe(429);
    await expectPage429(await post('/interaction/def/consent'));
    // The chooser page itself (a GET) is not limited.
    expect((await fetch(`${broker.url}/interaction/abc`)).status).not.toBe(429);
    expect((await post('/account/login')).status).not.toBe(429);
    await expectPage429(await post('/account/unlink'));
  });

  it('failed client authentications per IP and client id: over the limit the right secret is refused', async () => {
    broker = await startApp({ ...BASE_CONFIG, rate_limits: { client_auth_failures: { limit: 2, window_s: 60 } } });
    expect((await tokenRequest(broker.url, basic('machine', 'wrong'))).status).toBe(401);
    expect((await tokenRequest(broker.url, basic('machine', 'wrong'))).status).toBe(401);
    await expectJson429(await tokenRequest(broker.url, basic('machine', 'wrong')));
    await expectJson429(await tokenRequest(broker.url, basic('machine', SECRETS.machine)));
    // Introspection and revocation share the count; another client id from the same IP does not.
    const introspect = await fetch(`${broker.url}/introspect`, {
      method: 'POST',
      headers: { ...FORM, authorization: basic('machine', SECRETS.machine) },
      body: 'token=x',
    });
    await expectJson429(introspect);
    expect((await tokenRequest(broker.url, basic('web', SECRETS.web))).status).not.toBe(429);
  });

  it('failed client authentications per IP, whatever the client id', async () => {
    broker = await startApp({
      ...BASE_CONFIG,
      rate_limits: { client_auth_failures_per_ip: { limit: 2, window_s: 60 } },
    });
    expect((await tokenRequest(broker.url, basic('machine', 'wrong'))).status).toBe(401);
    expect((await tokenRequest(broker.url, basic('web', 'wrong'))).status).toBe(401);
    await expectJson429(await tokenRequest(broker.url, basic('other', 'wrong')));
    await expectJson429(await tokenRequest(broker.url, basic('machine', SECRETS.machine)));
  });

  it('token requests per client id, counted only once the client is authenticated', async () => {
    broker = await startApp({ ...BASE_CONFIG, rate_limits: { token_requests: { limit: 2, window_s: 60 } } });
    // Unauthenticated requests naming the client do not spend its budget.
    for (let i = 0; i < 3; i++) expect((await tokenRequest(broker.url, basic('machine', 'wrong'))).status).toBe(401);
    expect((await tokenRequest(broker.url, basic('machine', SECRETS.machine))).status).toBe(200);
    expect((await tokenRequest(broker.url, basic('machine', SECRETS.machine))).status).toBe(200);
    await expectJson429(await tokenRequest(broker.url, basic('machine', SECRETS.machine)));
  });

  it('trust_proxy decides the address: X-Forwarded-For is ignored without it, counted with it', async () => {
    broker = await startApp({ ...BASE_CONFIG, rate_limits: { authorize: { limit: 1, window_s: 60 } } });
    const from = (ip: string) =>
      fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual', headers: { 'x-forwarded-for': ip } });
    expect((await from('203.0.113.1')).status).not.toBe(429);
    expect((await from('203.0.113.2')).status).toBe(429);
    await broker.close();

    broker = await startApp({
      ...BASE_CONFIG,
      trust_proxy: true,
      rate_limits: { authorize: { limit: 1, window_s: 60 } },
    });
    const proxied = (ip: string) =>
      fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual', headers: { 'x-forwarded-for': ip } });
    expect((await proxied('203.0.113.1')).status).not.toBe(429);
    expect((await proxied('203.0.113.2')).status).not.toBe(429);
    expect((await proxied('203.0.113.1')).status).toBe(429);
  });

  it('limit 0 switches a limit off', async () => {
    broker = await startApp({ ...BASE_CONFIG, rate_limits: { authorize: { limit: 0 } } });
    for (let i = 0; i < 5; i++)
      expect((await fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual' })).status).not.toBe(429);
  });
});

describe.skipIf(!redisServerAvailable())('rate limits shared through one Redis', () => {
  let redis: RedisServer;
  let a: RunningApp;
  let b: RunningApp;
  const limits = { authorize: { limit: 4, window_s: 60 }, client_auth_failures: { limit: 3, window_s: 60 } };

  beforeAll(async () => {
    redis = await startRedisServer();
    a = await startApp(
      { ...BASE_CONFIG, rate_limits: limits },
      { store: await openRedisStore(redis.url, { commandTimeoutMs: 500 }) },
    );
    b = await startApp(
      { ...BASE_CONFIG, rate_limits: limits },
      { store: await openRedisStore(redis.url, { commandTimeoutMs: 500 }) },
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  it('two instances count together: the limit holds across them, with Retry-After', async () => {
    const statuses: number[] = [];
    for (const broker of [a, b, a, b])
      statuses.push((await fetch(`${broker.url}${AUTHORIZE}`, { redirect: 'manual' })).status);
    expect(statuses).not.toContain(429);
    await expectPage429(await fetch(`${a.url}${AUTHORIZE}`, { redirect: 'manual' }));
    await expectPage429(await fetch(`${b.url}${AUTHORIZE}`, { redirect: 'manual' }));
  });

  it('failed client authentications on one instance count on the other', async () => {
    expect((await tokenRequest(a.url, basic('legacy', 'wrong'))).status).toBe(401);
    expect((await tokenRequest(b.url, basic('legacy', 'wrong'))).status).toBe(401);
    expect((await tokenRequest(a.url, basic('legacy', 'wrong'))).status).toBe(401);
    // b learns it at its next failure, and refuses from then on, the right secret included
    // (without the limit, legacy's right secret gets 400 unauthorized_client for this grant).
    await expectJson429(await tokenRequest(b.url, basic('legacy', 'wrong')));
    await expectJson429(await tokenRequest(b.url, basic('legacy', SECRETS.legacy)));
    await expectJson429(await tokenRequest(a.url, basic('legacy', 'wrong')));
    await expectJson429(await tokenRequest(a.url, basic('legacy', SECRETS.legacy)));
  });

  it('with the store stopped: the 503 of the store, quickly; no other 5xx, no hang', async () => {
    await redis.pause();
    try {
      const started = Date.now();
      // The callback takes its transaction from the store: 503.
      const page = await fetch(`${a.url}/callback/dev?state=x`, { redirect: 'manual' });
      expect(page.status).toBe(503);
      expect(page.headers.get('content-type')).toContain('text/html');
      // client_credentials needs no store: the unchecked limit lets it through.
      const token = await tokenRequest(b.url, basic('machine', SECRETS.machine));
      expect([200, 503]).toContain(token.status);
      // A failed authentication is still a 401: the limit is not checked while the store is down.
      expect((await tokenRequest(b.url, basic('machine', 'wrong'))).status).toBe(401);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(b.logs.some((l) => l.msg === 'rate limit not checked: the store does not answer')).toBe(true);
    } finally {
      await redis.restart();
    }
  });
});
