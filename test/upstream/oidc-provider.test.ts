import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStore } from '../../src/store/index.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startHarness, type Harness } from './harness.js';
import { UserAgent } from '../support/user-agent.js';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * End to end against a real OpenID Provider (node-oidc-provider 8) on loopback, as the generic
 * `oidc` upstream, with the login transactions in a throwaway Redis: discovery, PKCE + nonce +
 * state, its login and consent pages driven with a cookie jar, RFC 9207 iss, code exchange,
 * ID-token signature verification, userinfo.
 */
const available = redisServerAvailable();

describe.skipIf(!available)('upstream oidc against oidc-provider 8, on Redis', () => {
  let redis: RedisServer;
  let store: RedisStore;
  let idp: UpstreamIdp;
  let idpIssuer: string;
  let h: Harness;

  beforeAll(async () => {
    redis = await startRedisServer();
    store = await openRedisStore(redis.url, { prefix: 'e2e:' });
    idp = await startUpstreamIdp({
      redirectUri: () => `${h.issuer}/callback/corp`,
      clientSecret: 'broker-secret-broker-secret-0123',
      brokerClient: { token_endpoint_auth_method: 'client_secret_basic' },
      name: (sub) => `User ${sub}`,
    });
    idpIssuer = idp.issuer;
    h = await startHarness(
      [
        {
          id: 'corp',
          use: 'oidc',
          issuer: idpIssuer,
          client_id: 'broker',
          client_secret: 'broker-secret-broker-secret-0123',
        },
      ],
      { store },
    );
  });

  afterAll(async () => {
    await h?.close();
    await idp?.close();
    await store?.close();
    await redis?.stop();
  });

  /** Walks the IdP's dev login and consent pages; returns the redirect back to the broker. */
  async function idpLogin(authUrl: URL, account: string): Promise<URL> {
    const idpBrowser = new UserAgent();
    let response = await idpBrowser.fetch(authUrl.href);
    for (let step = 0; step < 10; step++) {
      const location = response.headers.get('location');
      if (!location) throw new Error(`IdP stopped at ${response.status}: ${(await response.text()).slice(0, 200)}`);
      const next = new URL(location, idpIssuer);
      if (next.origin !== idpIssuer) return next;
      if (/^\/interaction\/[^/]+$/.test(next.pathname)) {
        const page = await (await idpBrowser.fetch(next.href)).text();
        const prompt =
          /name="prompt" value="(\w+)"/.exec(page)?.[1] ?? (page.includes('name="login"') ? 'login' : 'consent');
        const form: Record<string, string> =
          prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt };
        response = await idpBrowser.fetch(next.href, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form).toString(),
        });
      } else {
        response = await idpBrowser.fetch(next.href);
      }
    }
    throw new Error('too many IdP steps');
  }

  it('logs in: begin → oidc-provider login and consent → callback → finish with the verified identity', async () => {
    const browser = new UserAgent();
    const authUrl = await h.begin(browser, 'corp', { kind: 'authorize', interaction: 'app-login-1' });
    expect(authUrl.origin).toBe(idpIssuer);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('nonce')).toBeTruthy();

    const back = await idpLogin(authUrl, 'alice');
    expect(back.origin + back.pathname).toBe(`${h.issuer}/callback/corp`);
    expect(back.searchParams.get('iss')).toBe(idpIssuer); // RFC 9207: oidc-provider sends it

    const before = store.roundTrips;
    const response = await browser.fetch(back.href);
    expect(response.status).toBe(303);
    expect(store.roundTrips - before).toBe(1);
    expect(h.fail.mock.calls.map((c) => c[1])).toEqual([]);
    expect(h.finish).toHaveBeenCalledTimes(1);
    const { identity, context } = h.finish.mock.calls[0]![1];
    expect(context).toEqual({ kind: 'authorize', interaction: 'app-login-1' });
    expect(identity).toMatchObject({
      provider: 'corp',
      issuer: idpIssuer,
      subject: 'alice',
      email: 'alice@corp.example',
      email_verified: true,
      name: 'User alice',
    });
    expect(idp.tokenRequests).toBe(1);

    // The transaction is gone from Redis: the same callback again is a 400 page.
    const replay = await browser.fetch(back.href);
    expect(replay.status).toBe(400);
    expect(h.finish).toHaveBeenCalledTimes(1);
  });

  it('an answer carried to another browser is refused before any token request (login CSRF)', async () => {
    const attacker = new UserAgent();
    const authUrl = await h.begin(attacker, 'corp');
    const back = await idpLogin(authUrl, 'mallory');
    const hits = idp.tokenRequests;
    const victim = new UserAgent();
    await victim.fetch(`${h.issuer}/upstream/none`); // the victim's own browser cookie
    const response = await victim.fetch(back.href);
    expect(response.status).toBe(400);
    expect(idp.tokenRequests).toBe(hits);
    expect(h.finish).toHaveBeenCalledTimes(1); // only the first test's login
  });

  it('the user aborting at the IdP ends in fail(access_denied)', async () => {
    const browser = new UserAgent();
    const authUrl = await h.begin(browser, 'corp', { kind: 'authorize', interaction: 'app-login-3' });
    const idpBrowser = new UserAgent();
    const first = await idpBrowser.fetch(authUrl.href);
    const interaction = new URL(first.headers.get('location')!, idpIssuer);
    let response = await idpBrowser.fetch(`${interaction.href}/abort`);
    for (let i = 0; i < 5 && new URL(response.headers.get('location')!, idpIssuer).origin === idpIssuer; i++) {
      response = await idpBrowser.fetch(new URL(response.headers.get('location')!, idpIssuer).href);
    }
    const back = new URL(response.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    await browser.fetch(back.href);
    const failure = h.fail.mock.calls.at(-1)![1];
    expect(failure).toMatchObject({
      error: 'access_denied',
      provider: 'corp',
      context: { kind: 'authorize', interaction: 'app-login-3' },
    });
  });
});
