import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setClock } from '../../src/lib/clock.js';
import { MemoryStore } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { BASE_CONFIG, CLIENTS, SECRETS, STORE_KINDS } from '../support/broker-fixture.js';
import { openRedisStore, startRedisServer } from '../support/redis-server.js';
import { loginWithDev } from '../support/dev-login.js';
import { decideDevice } from '../support/device-approval.js';
import { UserAgent } from '../support/user-agent.js';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** A relying party's back-channel endpoint: records each POST and answers what `answer` says. */
interface Received {
  path: string;
  contentType: string | undefined;
  token: string;
}
class Receiver {
  readonly received: Received[] = [];
  /** Statuses per path, in order; when none is left, 200. 'hang' never answers. */
  plan = new Map<string, (number | 'hang')[]>();
  #server: Server = createServer((req, res) => void this.#handle(req, res));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }
  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const token = new URLSearchParams(body).get('logout_token') ?? '';
    this.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], token });
    const answer = this.plan.get(req.url ?? '')?.shift() ?? 200;
    if (answer === 'hang') return;
    res.statusCode = answer;
    res.end();
  }
  async until(count: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (Date.now() > end) throw new Error(`only ${this.received.length} of ${count} logout tokens arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const REDIRECT = {
  web: 'http://127.0.0.1:5000/cb',
  other: 'http://127.0.0.1:5002/cb',
  legacy: 'http://127.0.0.1:5003/cb',
};
type Rp = keyof typeof REDIRECT;

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

function clientsFor(receiver: Receiver) {
  const tv = { client_id: 'tv', grant_types: [DEVICE], backchannel_logout_uri: `${receiver.url}/tv/logout` };
  return [tv, ...CLIENTS].map((c) => {
    if (c.client_id === 'web') return { ...c, backchannel_logout_uri: `${receiver.url}/web/logout` };
    if (c.client_id === 'other')
      return {
        ...c,
        backchannel_logout_uri: `${receiver.url}/other/logout`,
        backchannel_logout_session_required: true,
      };
    return c;
  });
}

async function signIn(broker: RunningApp, ua: UserAgent, clientId: Rp, username: string) {
  const secret = SECRETS[clientId];
  const auth = clientId === 'other' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
  const config = await oidc.discovery(new URL(broker.url), clientId, secret, auth, {
    execute: [oidc.allowInsecureRequests],
  });
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT[clientId],
    scope: 'openid',
    provider: 'dev',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const callback = await loginWithDev(ua, url, { username });
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
}

/** Waits until `done()` holds (the outcome is logged after the receiver answered). */
async function eventually(done: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const logsText = (broker: RunningApp) => JSON.stringify(broker.logs);
const logLines = (broker: RunningApp, msg: string) => broker.logs.filter((l) => l.msg === msg);

describe('Back-Channel Logout 1.0', () => {
  const receiver = new Receiver();
  let broker: RunningApp;
  beforeAll(async () => {
    await receiver.start();
    broker = await startApp({
      ...BASE_CONFIG,
      clients: clientsFor(receiver),
      backchannel_logout: { timeout_ms: 300, attempts: 3, retry_base_ms: 100, scan_interval_ms: 60_000 },
      tokens: { device_poll_interval_s: 1 },
    });
  });
  afterAll(async () => {
    await broker.close();
    await receiver.close();
  });
  afterEach(() => {
    receiver.received.length = 0;
    receiver.plan.clear();
  });

  it('advertises back-channel logout with sessions in discovery', async () => {
    const meta = (await (await fetch(`${broker.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.backchannel_logout_supported).toBe(true);
    expect(meta.backchannel_logout_session_supported).toBe(true);
  });

  it('POSTs a signed logout token to every client that got tokens in the session, and only those', async () => {
    const ua = new UserAgent();
    const web = await signIn(broker, ua, 'web', 'gail');
    const other = await signIn(broker, ua, 'other', 'gail');
    await signIn(broker, ua, 'legacy', 'gail'); // no backchannel_logout_uri: not told
    await signIn(broker, new UserAgent(), 'web', 'hank'); // another session: not told

    const started = Date.now();
    const res = await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);
    await receiver.until(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.received).toHaveLength(2);

    const jwks = createRemoteJWKSet(new URL(`${broker.url}/jwks`));
    for (const [clientId, tokens] of [
      ['web', web],
      ['other', other],
    ] as const) {
      const got = receiver.received.find((r) => r.path === `/${clientId}/logout`)!;
      expect(got.contentType).toBe('application/x-www-form-urlencoded');
      const { payload, protectedHeader } = await jwtVerify(got.token, jwks, {
        issuer: broker.config.issuer,
        audience: clientId,
        typ: 'logout+jwt',
      });
      expect(protectedHeader.typ).toBe('logout+jwt');
      // §2.4: sid as in the ID tokens, sub, events, jti, iat, exp; never a nonce.
      expect(payload.sid).toBe(tokens.claims()!.sid);
      expect(payload.sub).toBe(tokens.claims()!.sub);
      expect(payload.events).toEqual({ [EVENT]: {} });
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.exp! - payload.iat!).toBeGreaterThan(0);
      expect(payload).not.toHaveProperty('nonce');
    }
    await eventually(() => logLines(broker, 'back-channel logout delivered').length >= 2);
    expect(logLines(broker, 'back-channel logout delivered').map((l) => l.client)).toEqual(
      expect.arrayContaining(['web', 'other']),
    );
    for (const { token } of receiver.received) expect(logsText(broker)).not.toContain(token.split('.')[2]);
    // The session's refresh tokens are revoked as before.
    const refresh = await fetch(`${broker.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: web.refresh_token! }),
    });
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('tells a device client approved in the session too, with the sid of its ID token', async () => {
    const ua = new UserAgent();
    const web = await signIn(broker, ua, 'web', 'lena');
    const config = await oidc.discovery(new URL(broker.url), 'tv', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    });
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid' });
    const polled = oidc.pollDeviceAuthorizationGrant(config, started);
    await decideDevice(ua, broker.url, started.verification_uri_complete!, 'lena', 'allow');
    const tv = await polled;
    expect(tv.claims()!.sid).toBe(web.claims()!.sid);
    await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
    await receiver.until(2);
    const got = receiver.received.find((r) => r.path === '/tv/logout')!;
    const jwks = createRemoteJWKSet(new URL(`${broker.url}/jwks`));
    const { payload } = await jwtVerify(got.token, jwks, { issuer: broker.config.issuer, audience: 'tv' });
    expect(payload.sid).toBe(tv.claims()!.sid);
  }, 20_000);

  it('retries a failed delivery with backoff and gives up on a client error or after the last attempt', async () => {
    const ua = new UserAgent();
    const web = await signIn(broker, ua, 'web', 'ivy');
    await signIn(broker, ua, 'other', 'ivy');
    // web: 503 then 200 (delivered at the second attempt); other: hangs past the timeout 3 times.
    receiver.plan.set('/web/logout', [503]);
    receiver.plan.set('/other/logout', ['hang', 'hang', 'hang']);
    await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
    await receiver.until(5, 8000);
    await new Promise((r) => setTimeout(r, 700));
    expect(receiver.received.filter((r) => r.path === '/web/logout')).toHaveLength(2);
    expect(receiver.received.filter((r) => r.path === '/other/logout')).toHaveLength(3);
    await eventually(() => logLines(broker, 'back-channel logout not delivered: given up').length > 0);
    const delivered = logLines(broker, 'back-channel logout delivered').filter((l) => l.client === 'web');
    expect(delivered.at(-1)).toMatchObject({ attempt: 2, outcome: 'HTTP 200' });
    const retried = logLines(broker, 'back-channel logout failed: will retry').filter((l) => l.client === 'web');
    expect(retried.at(-1)).toMatchObject({ attempt: 1, outcome: 'HTTP 503', retry_in_ms: 100 });
    const gaveUp = logLines(broker, 'back-channel logout not delivered: given up');
    expect(gaveUp.at(-1)).toMatchObject({ client: 'other', attempt: 3, outcome: 'timeout' });
  }, 15_000);

  it('a retry whose timer fires before its due time by the clock is tried again when due, not at the next scan', async () => {
    const ua = new UserAgent();
    const web = await signIn(broker, ua, 'web', 'kim');
    receiver.plan.set('/web/logout', [503]);
    const retries = logLines(broker, 'back-channel logout failed: will retry').length;
    await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
    await eventually(() => logLines(broker, 'back-channel logout failed: will retry').length > retries);
    // The clock says 300 ms earlier while the retry's timer (100 ms) fires: not due yet.
    setClock(() => Date.now() - 300);
    try {
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      setClock();
    }
    // scan_interval_ms is 60 s here: only the instance's own timer can deliver it now.
    await receiver.until(2, 3000);
    expect(receiver.received.map((r) => r.path)).toEqual(['/web/logout', '/web/logout']);
  });

  it('does not retry a 400 from the client', async () => {
    const ua = new UserAgent();
    const web = await signIn(broker, ua, 'web', 'jack');
    receiver.plan.set('/web/logout', [400]);
    const before = logLines(broker, 'back-channel logout not delivered: given up').length;
    await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
    await receiver.until(1);
    await eventually(() => logLines(broker, 'back-channel logout not delivered: given up').length > before);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(1);
    expect(logLines(broker, 'back-channel logout not delivered: given up').at(-1)).toMatchObject({
      client: 'web',
      attempt: 1,
      outcome: 'HTTP 400',
    });
  });
});

describe.each(STORE_KINDS)('Back-Channel Logout across instances (%s store)', (kind) => {
  it('a delivery recorded by an instance that stopped is finished by another from the store', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const redis = kind === 'redis' ? await startRedisServer() : undefined;
    const store = redis ? await openRedisStore(redis.url) : new MemoryStore({ prefix: 'lb:' });
    const raw = (scan: number) => ({
      ...BASE_CONFIG,
      clients: clientsFor(receiver),
      backchannel_logout: { timeout_ms: 300, attempts: 3, retry_base_ms: 300, scan_interval_ms: scan },
    });
    const first = await startApp(raw(60_000), { store });
    const second = await startApp(raw(100), { store, skipReady: true });
    try {
      const ua = new UserAgent();
      const web = await signIn(first, ua, 'web', 'kim');
      receiver.plan.set('/web/logout', [500]);
      await ua.get(`${first.url}/logout?id_token_hint=${web.id_token}`);
      await receiver.until(1);
      // The first instance stops (its retry timer with it) after the failed attempt.
      await new Promise((r) => setTimeout(r, 50));
      first.app.stop();
      await second.app.ready();
      await receiver.until(2, 5000);
      await eventually(() => logLines(second, 'back-channel logout delivered').length > 0);
      expect(logLines(second, 'back-channel logout delivered').at(-1)).toMatchObject({ client: 'web', attempt: 2 });
      expect(logLines(first, 'back-channel logout delivered')).toHaveLength(0);
    } finally {
      await second.close();
      await receiver.close();
      await redis?.stop();
    }
  }, 15_000);
});

describe('Back-Channel Logout 1.0 to a pairwise client', () => {
  it("carries the client's own pairwise sub, never the user id (OIDC Core §8.1)", async () => {
    const receiver = new Receiver();
    await receiver.start();
    const clients = clientsFor(receiver).map((c) =>
      c.client_id === 'web' ? { ...c, subject_type: 'pairwise', redirect_uris: [REDIRECT.web] } : c,
    );
    const broker = await startApp({
      ...BASE_CONFIG,
      clients,
      subjects: { pairwise_salt: 'a-pairwise-salt-of-at-least-thirty-two-characters' },
      backchannel_logout: { timeout_ms: 300, attempts: 3, retry_base_ms: 100, scan_interval_ms: 60_000 },
    });
    try {
      const ua = new UserAgent();
      const web = await signIn(broker, ua, 'web', 'ivy');
      const other = await signIn(broker, ua, 'other', 'ivy');
      expect(web.claims()!.sub).not.toBe(other.claims()!.sub);
      await ua.get(`${broker.url}/logout?id_token_hint=${web.id_token}`);
      await receiver.until(2);
      const jwks = createRemoteJWKSet(new URL(`${broker.url}/jwks`));
      const got = receiver.received.find((r) => r.path === '/web/logout')!;
      const { payload } = await jwtVerify(got.token, jwks, { issuer: broker.config.issuer, audience: 'web' });
      expect(payload.sub).toBe(web.claims()!.sub);
    } finally {
      await broker.close();
      await receiver.close();
    }
  });
});
