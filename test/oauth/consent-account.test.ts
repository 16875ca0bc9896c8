import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { CLIENTS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';

const THIRD_PARTY = {
  client_id: 'partner',
  client_name: 'Partner App',
  client_secret: 'partner-secret-0123456789',
  redirect_uris: ['http://127.0.0.1:5009/cb'],
  scope: 'openid profile email offline_access',
};

describe('consent and the account pages', () => {
  const broker = useBroker('memory', {
    clients: [...CLIENTS, THIRD_PARTY],
    providers: [
      { id: 'dev', use: 'dev', name: 'Dev One' },
      { id: 'dev2', use: 'dev', name: 'Dev Two' },
    ],
  });
  const same = (url: string | URL) => ({ 'sec-fetch-site': 'same-origin', origin: new URL(url).origin });

  async function authorize(_ua: UserAgent, clientId: string, redirect: string, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = new URL(`${broker().url}/authorize`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirect,
      response_type: 'code',
      scope: 'openid profile',
      state: 'st',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      provider: 'dev',
      ...extra,
    }).toString();
    return url;
  }

  it(
    'asks a third-party app for consent, remembers an allow, and answers prompt=none silently ' + 'afterwards',
    async () => {
      const ua = new UserAgent();
      const consentUrl = await loginWithDev(ua, await authorize(ua, 'partner', 'http://127.0.0.1:5009/cb'), {
        username: 'cora',
      });
      expect(consentUrl.pathname).toMatch(/^\/interaction\/.+\/consent$/);
      const page = await ua.get(consentUrl);
      const html = await page.text();
      expect(html).toContain('Allow Partner App to access your account?');
      expect(html).toContain('See your name, username, picture and language');
      // A client of the config file: its name is the operator's, no self-registration notice.
      expect(html).not.toContain('registered itself');
      const action = new URL(formAction(html), consentUrl);
      // Without the CSRF token, or cross-site: refused.
      expect((await ua.postForm(action, { decision: 'allow' }, same(action))).status).toBe(403);
      const allowed = await ua.postForm(action, { decision: 'allow', csrf: formValue(html, 'csrf') }, same(action));
      expect(allowed.status).toBe(303);
      const back = location(allowed);
      expect(back.origin + back.pathname).toBe('http://127.0.0.1:5009/cb');
      expect(back.searchParams.get('code')).toEqual(expect.any(String));
      // Remembered: the next request with the same scopes, even prompt=none, goes straight through.
      const silent = await ua.get(await authorize(ua, 'partner', 'http://127.0.0.1:5009/cb', { prompt: 'none' }));
      expect(location(silent).searchParams.get('code')).toEqual(expect.any(String));
      // A wider scope needs consent again; with prompt=none that is consent_required.
      const wider = await ua.get(
        await authorize(ua, 'partner', 'http://127.0.0.1:5009/cb', { prompt: 'none', scope: 'openid profile email' }),
      );
      expect(location(wider).searchParams.get('error')).toBe('consent_required');
    },
  );

  it('sends access_denied to the app when the user denies', async () => {
    const ua = new UserAgent();
    const consentUrl = await loginWithDev(ua, await authorize(ua, 'partner', 'http://127.0.0.1:5009/cb'), {
      username: 'dan',
    });
    const html = await (await ua.get(consentUrl)).text();
    const denied = await ua.postForm(
      new URL(formAction(html), consentUrl),
      { decision: 'deny', csrf: formValue(html, 'csrf') },
      same(consentUrl),
    );
    const back = location(denied);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('st');
    expect(back.searchParams.get('iss')).toBe(broker().url);
  });

  it('skips consent for first-party apps', async () => {
    const ua = new UserAgent();
    const back = await loginWithDev(ua, await authorize(ua, 'web', 'https://app.example/cb'), { username: 'fay' });
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
  });

  /** Signs in at /account with a dev provider; returns the account page HTML. */
  async function accountLogin(ua: UserAgent, provider: string, username: string) {
    const signIn = await (await ua.get(`${broker().url}/account`)).text();
    expect(signIn).toContain('Sign in to manage your account');
    const start = await ua.postForm(
      `${broker().url}/account/login`,
      { csrf: formValue(signIn, 'csrf'), provider },
      same(broker().url),
    );
    const done = await loginWithDevPage(ua, location(start), username);
    expect(location(done).pathname).toBe('/account');
    return (await ua.get(`${broker().url}/account`)).text();
  }

  async function loginWithDevPage(ua: UserAgent, pageUrl: URL, username: string) {
    const html = await (await ua.get(pageUrl)).text();
    const action = new URL(formAction(html), pageUrl);
    return ua.postForm(action, { state: formValue(html, 'state'), username }, same(action));
  }

  it('links a second provider from the account page, then signs in with it as the same user', async () => {
    const ua = new UserAgent();
    let html = await accountLogin(ua, 'dev', 'gus');
    expect(html).toContain('Your account');
    expect(html).toContain('Link Dev Two');
    const link = await ua.postForm(
      `${broker().url}/account/link/dev2`,
      { csrf: formValue(html, 'csrf') },
      same(broker().url),
    );
    const linked = await loginWithDevPage(ua, location(link), 'gus-two');
    expect(location(linked).toString()).toBe(`${broker().url}/account?notice=linked`);
    html = await (await ua.get(location(linked))).text();
    expect(html).toContain('The sign-in method is linked to your account.');
    expect(html).toContain('Unlink Dev Two');
    const userId = /account id <code>([^<]+)<\/code>/.exec(html)![1];
    // A fresh browser signs in with the second provider: same user.
    const other = new UserAgent();
    const html2 = await accountLogin(other, 'dev2', 'gus-two');
    expect(/account id <code>([^<]+)<\/code>/.exec(html2)![1]).toBe(userId);
    // And unlinks it right after signing in (recent login), which is logged in the audit table.
    const unlink = await other.postForm(
      `${broker().url}/account/unlink`,
      { csrf: formValue(html2, 'csrf'), provider: 'dev', subject: 'gus' },
      same(broker().url),
    );
    expect(location(unlink).search).toBe('?notice=unlinked');
    const after = await (await other.get(`${broker().url}/account`)).text();
    expect(after).not.toContain('Unlink');
    expect(after).toMatch(/<td>unlink<\/td><td>dev<\/td>/);
  });

  it('refuses to link an identity that belongs to another user, with a clear message', async () => {
    const owner = new UserAgent();
    await accountLogin(owner, 'dev2', 'taken-name');
    const ua = new UserAgent();
    const html = await accountLogin(ua, 'dev', 'hal');
    const link = await ua.postForm(
      `${broker().url}/account/link/dev2`,
      { csrf: formValue(html, 'csrf') },
      same(broker().url),
    );
    const refused = await loginWithDevPage(ua, location(link), 'taken-name');
    expect(refused.status).toBe(409);
    expect(await refused.text()).toContain('already linked to another user here');
  });

  it('refuses account POSTs without the CSRF token or from another site', async () => {
    const ua = new UserAgent();
    const html = await accountLogin(ua, 'dev', 'ivy');
    expect((await ua.postForm(`${broker().url}/account/link/dev2`, {}, same(broker().url))).status).toBe(403);
    const csrf = formValue(html, 'csrf');
    expect(
      (await ua.postForm(`${broker().url}/account/link/dev2`, { csrf }, { 'sec-fetch-site': 'cross-site' })).status,
    ).toBe(403);
    expect(
      (
        await ua.postForm(
          `${broker().url}/account/unlink`,
          { csrf, provider: 'dev', subject: 'ivy' },
          same(broker().url),
        )
      ).status,
    ).toBe(400);
  });
});
