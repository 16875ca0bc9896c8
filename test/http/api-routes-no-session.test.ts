import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { pkceAuthorization, webApp } from '../support/app-client.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * The browser binding and the SSO session belong to pages. An API route (userinfo, token,
 * introspection) answered to a browser that sends its session cookie reads no session from the
 * store and sets no cookie: the same round trips as without the cookie.
 */
describe.each(STORE_KINDS)('API routes and the session cookie (%s store)', (kind) => {
  const broker = useBroker(kind);
  const browser = new UserAgent();
  let accessToken: string;

  beforeAll(async () => {
    const config = await webApp(broker().url);
    const { url, checks } = await pkceAuthorization(config, {
      redirect_uri: 'http://127.0.0.1:5000/cb',
      scope: 'openid email',
    });
    const callback = await loginWithDev(browser, url, { username: 'cora', email: 'cora@example.org' });
    accessToken = (await oidc.authorizationCodeGrant(config, callback, checks)).access_token;
  });

  const roundTripsOf = async (headers: Record<string, string>) => {
    const before = broker().store.roundTrips;
    const res = await fetch(`${broker().url}/userinfo`, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toBeNull();
    return broker().store.roundTrips - before;
  };

  it('userinfo costs the same round trips with the session cookie as without, and sets no cookie', async () => {
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    expect(cookie).toMatch(/lb_session=/);
    const bearer = { authorization: `Bearer ${accessToken}` };
    const without = await roundTripsOf(bearer);
    expect(await roundTripsOf({ ...bearer, cookie })).toBe(without);
  });

  it('the token endpoint sets no cookie for a browser that sends its cookies', async () => {
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${broker().url}/token`, {
      method: 'POST',
      headers: {
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: 'grant_type=refresh_token&refresh_token=unknown',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
});
