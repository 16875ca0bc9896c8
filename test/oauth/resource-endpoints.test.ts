import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { loginWithDev } from '../support/dev-login.js';
import { SECRETS, useBroker } from '../support/broker-fixture.js';
import { UserAgent } from '../support/user-agent.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';

describe('userinfo, introspection, revocation and logout bad input', () => {
  const broker = useBroker('memory');
  const discover = (clientId = 'web', secret = SECRETS.web) =>
    oidc.discovery(new URL(broker().url), clientId, secret, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
    });

  async function login(scope = 'openid email', ua = new UserAgent()) {
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await loginWithDev(ua, url, { username: 'uma', email: 'uma@example.org' });
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    return { config, tokens, ua };
  }
  const userinfo = (init: RequestInit = {}, query = '') => fetch(`${broker().url}/userinfo${query}`, init);

  it('asks for a token with a bare Bearer challenge when none is sent (RFC 6750 §3.1)', async () => {
    const res = await userinfo();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="login-broker"');
  });

  it('answers bad, foreign-typed and revoked tokens with 401 invalid_token', async () => {
    const { tokens } = await login();
    for (const token of ['garbage', `${tokens.access_token}x`, tokens.id_token!]) {
      const res = await userinfo({ headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    const ok = await userinfo({ headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  it('S-HIST-01: refuses a token in the query string; accepts one in a POST body', async () => {
    const { tokens } = await login();
    const query = await userinfo({}, `?access_token=${tokens.access_token}`);
    expect(query.status).toBe(400);
    expect(((await query.json()) as { error: string }).error).toBe('invalid_request');
    const body = await userinfo({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
    });
    expect(body.status).toBe(200);
    const both = await userinfo({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${tokens.access_token}` },
      body: new URLSearchParams({ access_token: tokens.access_token }).toString(),
    });
    expect(both.status).toBe(400);
  });

  it('refuses a client_credentials token (no user) and a token without openid', async () => {
    const machine = await discover('machine', SECRETS.machine);
    const cc = await oidc.clientCredentialsGrant(machine, { scope: 'api:read' });
    const res = await userinfo({ headers: { authorization: `Bearer ${cc.access_token}` } });
    expect(res.status).toBe(401);
  });

  it('requires client authentication at introspection and revocation', async () => {
    const { tokens } = await login();
    for (const path of ['/introspect', '/revoke']) {
      const res = await fetch(`${broker().url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: tokens.access_token }).toString(),
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client');
    }
  });

  it('answers 200 and revokes nothing for an unknown token (RFC 7009 §2.2)', async () => {
    const { config, tokens } = await login();
    await oidc.tokenRevocation(config, 'not-a-token');
    await oidc.tokenRevocation(config, 'aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb');
    expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    expect((await oidc.tokenIntrospection(config, 'not-a-token')).active).toBe(false);
  });

  it('S-OR-02: a non-exact post_logout_redirect_uri renders an error page and never redirects', async () => {
    const { config, tokens, ua } = await login();
    for (const uri of ['http://127.0.0.1:5000', 'http://127.0.0.1:5000/x', 'https://evil.example/']) {
      const res = await ua.get(
        oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: uri }),
      );
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toContain('text/html');
    }
    const unidentified = await ua.get(
      `${broker().url}/logout?post_logout_redirect_uri=${encodeURIComponent('http://127.0.0.1:5000/')}`,
    );
    expect(unidentified.status).toBe(400);
    const forged = await ua.get(`${broker().url}/logout?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.`);
    expect(forged.status).toBe(400);
  });

  it('asks to confirm a logout without id_token_hint, and checks the confirmation form (CSRF)', async () => {
    const { ua, config, tokens } = await login('openid');
    const page = await ua.get(`${broker().url}/logout`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Sign out of login-broker?');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    // A cross-site POST, or one without the token, is refused and the session survives.
    const crossSite = await ua.postForm(
      `${broker().url}/logout`,
      { confirm: 'yes', csrf },
      { 'sec-fetch-site': 'cross-site' },
    );
    expect(crossSite.status).toBe(403);
    const noToken = await ua.postForm(
      `${broker().url}/logout`,
      { confirm: 'yes' },
      { 'sec-fetch-site': 'same-origin' },
    );
    expect(noToken.status).toBe(403);
    expect((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).access_token).toEqual(expect.any(String));
    const done = await ua.postForm(
      `${broker().url}/logout`,
      { confirm: 'yes', csrf },
      { 'sec-fetch-site': 'same-origin', origin: broker().url },
    );
    expect(done.status).toBe(200);
    const text = await done.text();
    expect(text).toContain('You are signed out');
    expect(text).toMatch(/still be signed in at/);
  });

  it('refuses an id_token_hint for another user than the one signed in', async () => {
    const alice = await login('openid');
    const bobUa = new UserAgent();
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    await loginWithDev(bobUa, url, { username: 'bob-the-other' });
    const res = await bobUa.get(oidc.buildEndSessionUrl(config, { id_token_hint: alice.tokens.id_token! }));
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('another user');
  });

  it('logs out without a session and without a redirect: a plain signed-out page', async () => {
    const res = await new UserAgent().get(`${broker().url}/logout`);
    expect(res.status).toBe(200);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('You are signed out');
  });
});
