import * as oidc from 'openid-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLIENTS, SECRETS, useBroker } from '../support/broker-fixture.js';
import { Users } from '../../src/identity/users.js';
import { loginWithDev } from '../support/dev-login.js';
import { formValue, location, UserAgent } from '../support/user-agent.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';
afterEach(() => vi.useRealTimers());

describe('SSO sessions: prompt, max_age, id_token_hint (OIDC Core §3.1.2.1)', () => {
  const broker = useBroker('memory', {
    clients: CLIENTS.map((c) =>
      c.client_id === 'web' ? { ...c, scope: 'openid profile email offline_access identities' } : c,
    ),
    providers: [
      { id: 'dev', use: 'dev' },
      { id: 'dev2', use: 'dev' },
    ],
  });
  const discover = () =>
    oidc.discovery(new URL(broker().url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
      execute: [oidc.allowInsecureRequests],
    });

  async function authorizeUrl(config: oidc.Configuration, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      provider: 'dev',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    });
    return { url, verifier };
  }
  async function signIn(ua: UserAgent, username: string, extra: Record<string, string> = {}) {
    const config = await discover();
    const { url, verifier } = await authorizeUrl(config, extra);
    const callback = await loginWithDev(ua, url, { username });
    return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
  }

  it('a session of a user disabled since answers no app: prompt=none is login_required, else a new login', async () => {
    const ua = new UserAgent();
    const first = await signIn(ua, 'dora');
    await new Users(broker().store).setDisabled(first.claims()!.sub, true);
    const config = await discover();
    const silent = await authorizeUrl(config, { prompt: 'none' });
    const back = location(await ua.get(silent.url));
    expect(back.searchParams.get('error')).toBe('login_required');
    expect(back.searchParams.get('code')).toBeNull();
    const plain = await authorizeUrl(config);
    expect(location(await ua.get(plain.url)).pathname).toBe('/upstream/dev/login');
  });

  it(
    'answers prompt=none silently with a session; prompt=login and max_age force a new login with a ' + 'new auth_time',
    async () => {
      const ua = new UserAgent();
      const first = await signIn(ua, 'pat');
      const config = await discover();
      const silent = await authorizeUrl(config, { prompt: 'none' });
      const back = location(await ua.get(silent.url));
      expect(back.searchParams.get('code')).toEqual(expect.any(String));

      vi.useFakeTimers({ now: Date.now() + 5000, toFake: ['Date'] });
      const forced = await authorizeUrl(config, { prompt: 'login' });
      expect(location(await ua.get(forced.url)).pathname).toBe('/upstream/dev/login');
      const old = await authorizeUrl(config, { max_age: '2' });
      expect(location(await ua.get(old.url)).pathname).toBe('/upstream/dev/login');
      // max_age with prompt=none cannot log in: login_required.
      const none = await authorizeUrl(config, { max_age: '2', prompt: 'none' });
      expect(location(await ua.get(none.url)).searchParams.get('error')).toBe('login_required');
      const again = await signIn(ua, 'pat', { prompt: 'login' });
      expect(again.claims()!.auth_time).toBeGreaterThan(first.claims()!.auth_time!);
      expect(again.claims()!.sub).toBe(first.claims()!.sub);
    },
  );

  it(
    'checks id_token_hint: the same user passes silently, another user needs a login, a forged hint ' + 'is refused',
    async () => {
      const ua = new UserAgent();
      const mine = await signIn(ua, 'quin');
      const other = await signIn(new UserAgent(), 'rhea');
      const config = await discover();
      const same = await authorizeUrl(config, { prompt: 'none', id_token_hint: mine.id_token! });
      expect(location(await ua.get(same.url)).searchParams.get('code')).toEqual(expect.any(String));
      const foreign = await authorizeUrl(config, { prompt: 'none', id_token_hint: other.id_token! });
      expect(location(await ua.get(foreign.url)).searchParams.get('error')).toBe('login_required');
      const foreignInteractive = await authorizeUrl(config, { id_token_hint: other.id_token! });
      expect(location(await ua.get(foreignInteractive.url)).pathname).toBe('/upstream/dev/login');
      const forged = await authorizeUrl(config, { id_token_hint: `${mine.id_token!.slice(0, -4)}AAAA` });
      expect(location(await ua.get(forged.url)).searchParams.get('error')).toBe('invalid_request');
    },
  );

  it('releases the linked identities with the identities scope', async () => {
    const tokens = await signIn(new UserAgent(), 'sid-user', { scope: 'openid identities' });
    expect(tokens.claims()!.identities).toEqual([{ provider: 'dev', user_id: 'sid-user', username: 'sid-user' }]);
    const config = await discover();
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(info.identities).toEqual([{ provider: 'dev', user_id: 'sid-user', username: 'sid-user' }]);
  });

  it('requires a recent login to unlink (account.reauth_max_age_s)', async () => {
    const ua = new UserAgent();
    await signIn(ua, 'tom');
    const account = await (await ua.get(`${broker().url}/account`)).text();
    const same = { 'sec-fetch-site': 'same-origin' };
    const link = await ua.postForm(`${broker().url}/account/link/dev2`, { csrf: formValue(account, 'csrf') }, same);
    await loginWithDevForm(ua, location(link), 'tom-two');
    vi.useFakeTimers({ now: Date.now() + 601_000, toFake: ['Date'] });
    const page = await (await ua.get(`${broker().url}/account`)).text();
    const res = await ua.postForm(
      `${broker().url}/account/unlink`,
      { csrf: formValue(page, 'csrf'), provider: 'dev', subject: 'tom' },
      same,
    );
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('sign in again');
  });

  async function loginWithDevForm(ua: UserAgent, pageUrl: URL, username: string) {
    const html = await (await ua.get(pageUrl)).text();
    const res = await ua.postForm(
      new URL('/callback/dev2', pageUrl),
      { state: formValue(html, 'state'), username },
      { 'sec-fetch-site': 'same-origin' },
    );
    expect(res.status).toBe(303);
  }
});
