import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { redisServerAvailable } from '../support/redis-server.js';
import { SECRETS, useBroker } from '../support/broker-fixture.js';
import { webAuthorizeUrl } from '../support/app-client.js';
import { UserAgent, formAction, formValue, location } from '../support/user-agent.js';

/**
 * Store round trips per hop of one brokered login, counted by the Redis store itself (issue 12:
 * at most 6 per cold login and 3 per SSO login, rate limiters included). A count here only ever
 * goes down: raise one and say why.
 */
describe.runIf(redisServerAvailable())('store round trips per login (Redis)', () => {
  const broker = useBroker('redis');
  let config: oidc.Configuration;

  beforeAll(async () => {
    config = await oidc.discovery(new URL(broker().url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
      execute: [oidc.allowInsecureRequests],
    });
  });

  /** The store's round trips during one request: its own, and the rate limiters' calls. */
  async function counted(send: () => Promise<Response>): Promise<{ res: Response; store: number; limiter: number }> {
    const { stats } = broker().store;
    const before = { store: stats.roundTrips, limiter: stats.limiterRoundTrips };
    const res = await send();
    return { res, store: stats.roundTrips - before.store, limiter: stats.limiterRoundTrips - before.limiter };
  }

  /** One login of `ua` for client web: the round trips of each hop. */
  async function login(ua: UserAgent) {
    const verifier = oidc.randomPKCECodeVerifier();
    const authorizeUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:5000/cb',
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const authorize = await counted(() => ua.get(authorizeUrl));
    let url = location(authorize.res);
    let callback: Awaited<ReturnType<typeof counted>> | undefined;
    if (url.pathname.endsWith('/upstream/dev/login')) {
      const page = await (await ua.get(url)).text();
      const action = new URL(formAction(page), url);
      const form = { state: formValue(page, 'state'), username: 'rita' };
      callback = await counted(() =>
        ua.postForm(action, form, { origin: action.origin, 'sec-fetch-site': 'same-origin' }),
      );
      url = location(callback.res, action.toString());
    }
    expect(url.searchParams.get('code')).toBeTruthy();
    const token = await counted(async () => {
      await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: verifier,
        expectedState: oidc.skipStateCheck,
      });
      return new Response();
    });
    return { authorize, callback, token };
  }

  it('cold, then SSO: each hop makes no more round trips than pinned here', async () => {
    const ua = new UserAgent();
    const cold = await login(ua);
    // No session to read: the rate limit's count rides with the authorize's one commit.
    expect(cold.authorize).toMatchObject({ store: 1, limiter: 0 });
    // The interaction travels in the transaction: one take, not two.
    // The session is written in the callback's one commit, with the user and the code.
    expect(cold.callback).toMatchObject({ store: 4, limiter: 0 });
    // The code is spent and the refresh token moved into place in one atomic step.
    expect(cold.token.store).toBe(1);
    const sso = await login(ua);
    expect(sso.callback).toBeUndefined();
    // The authorize limit's count rides with the session's read: no round trip of its own.
    // The session and its user are read together (one hash tag), and the code is the one write.
    expect(sso.authorize).toMatchObject({ store: 2, limiter: 0 });
    expect(sso.token).toMatchObject({ store: 1, limiter: 0 });
  });
});

describe.runIf(redisServerAvailable())('a browser rate limit whose count rides with the session read (Redis)', () => {
  const broker = useBroker('redis', { rate_limits: { authorize: { limit: 3, window_s: 60 } } });

  it('still refuses the request over the limit with 429, before the route issues a code', async () => {
    const { url } = broker();
    const ua = new UserAgent();
    const authorize = webAuthorizeUrl(url);
    const first = location(await ua.get(authorize));
    const page = await (await ua.get(first)).text();
    const action = new URL(formAction(page), first);
    const form = { state: formValue(page, 'state'), username: 'rosa' };
    await ua.postForm(action, form, { origin: action.origin, 'sec-fetch-site': 'same-origin' });
    // Signed in: the next two ride with the session read and pass, the fourth is refused.
    for (let i = 0; i < 2; i++) expect(location(await ua.get(authorize)).searchParams.get('code')).toBeTruthy();
    const refused = await ua.get(authorize);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.headers.get('location')).toBeNull();
  });
});

describe.runIf(redisServerAvailable())("a provider's GET callback: the count rides with the take (Redis)", () => {
  const broker = useBroker('redis', { rate_limits: { callback: { limit: 3, window_s: 60 } } });

  /** An authorize through the dev provider up to its page (one callback point): the login's state. */
  async function started(ua: UserAgent): Promise<string> {
    const authorize = webAuthorizeUrl(broker().url);
    const page = await ua.get(location(await ua.get(authorize)));
    expect(page.status).toBe(200);
    return formValue(await page.text(), 'state');
  }

  it('one round trip for the take and the count; over the limit 429 after the take, nothing else done', async () => {
    const { url, store } = broker();
    const ua = new UserAgent();
    // The dev provider answers by form POST: a GET is refused as a mix-up, after the take.
    const first = await started(ua);
    let trips = { store: store.stats.roundTrips, limiter: store.stats.limiterRoundTrips };
    const answered = await ua.get(`${url}/callback/dev?state=${first}`);
    expect(location(answered).searchParams.get('error')).toBe('access_denied');
    expect({
      store: store.stats.roundTrips - trips.store,
      limiter: store.stats.limiterRoundTrips - trips.limiter,
    }).toEqual({ store: 1, limiter: 0 });
    const second = await started(ua);
    trips = { store: store.stats.roundTrips, limiter: store.stats.limiterRoundTrips };
    const refused = await ua.get(`${url}/callback/dev?state=${second}`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('location')).toBeNull();
    // Only the take (with the count) was made: no session, no user, no code.
    expect({
      store: store.stats.roundTrips - trips.store,
      limiter: store.stats.limiterRoundTrips - trips.limiter,
    }).toEqual({ store: 1, limiter: 0 });
    // Known over the limit now: refused from memory, without a round trip.
    const again = await ua.get(`${url}/callback/dev?state=${second}`);
    expect(again.status).toBe(429);
    expect(store.stats.roundTrips - trips.store).toBe(1);
  });
});
