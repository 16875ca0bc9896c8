import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { redisServerAvailable } from '../support/redis-server.js';
import { SECRETS, useBroker } from '../support/broker-fixture.js';
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
    expect(cold.authorize.store).toBe(1);
    // The interaction travels in the transaction: one take, not two.
    expect(cold.callback?.store).toBe(5);
    expect(cold.token.store).toBe(2);
    const sso = await login(ua);
    expect(sso.callback).toBeUndefined();
    expect(sso.authorize.store).toBe(3);
    expect(sso.token.store).toBe(2);
  });
});
