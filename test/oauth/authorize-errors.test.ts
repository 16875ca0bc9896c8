import { describe, expect, it } from 'vitest';
import { useBroker } from '../support/broker-fixture.js';
import { location, UserAgent } from '../support/user-agent.js';

const REDIRECT = 'https://app.example/cb';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('/authorize bad input (RFC 6749 §4.1.2.1, docs/security.md "Bad input at /authorize")', () => {
  const broker = useBroker('memory');
  const valid = (): Record<string, string> => ({
    client_id: 'web',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'xyz',
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
  });
  const authorize = (query: string | Record<string, string>) =>
    new UserAgent().get(`${broker().url}/authorize?${typeof query === 'string' ? query : new URLSearchParams(query)}`);

  /** An error page: 400 HTML, no Location, nothing written for a code. */
  async function expectErrorPage(res: Response, mention: RegExp) {
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await res.text()).toMatch(mention);
  }

  /** A redirected error: back to the app with error, state and iss (RFC 9207 §2). */
  function expectRedirectedError(res: Response, error: string, state: string | null = 'xyz') {
    expect(res.status).toBe(303);
    const back = location(res);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('error_description')).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(broker().url);
    expect(back.searchParams.get('code')).toBeNull();
    return back;
  }

  it('A1: no client_id → error page', async () => {
    const { client_id: _, ...rest } = valid();
    await expectErrorPage(await authorize(rest), /client_id parameter is missing/);
  });

  it('A2: unknown client_id → error page', async () => {
    await expectErrorPage(await authorize({ ...valid(), client_id: 'nobody' }), /not registered/);
  });

  it('A3/A4: repeated or array-shaped client_id → error page', async () => {
    const q = new URLSearchParams(valid());
    q.append('client_id', 'web');
    await expectErrorPage(await authorize(q.toString()), /repeated/);
    const { client_id: _, ...rest } = valid();
    await expectErrorPage(
      await authorize(`${new URLSearchParams(rest)}&client_id[]=web`),
      /client_id parameter is missing/,
    );
    await expectErrorPage(
      await authorize(`${new URLSearchParams(rest)}&client_id[$ne]=`),
      /client_id parameter is missing/,
    );
  });

  it('S-RU-01: every variant of the registered redirect URI → error page, and nothing stored', async () => {
    const variants = [
      'https://app.example/cb/',
      'https://APP.example/cb',
      'https://app.example:443/cb',
      'https://app.example/cb?x=1',
      'https://app.example/cb#f',
      'https://app.example/CB',
      'https://app.example/cb/../cb',
      'https://app.example/cb%2F',
      'https://app.example.evil.example/cb',
      'https://evil.example/.app.example/cb',
      'https://app.example@evil.example/cb',
      'https://app.example\\@evil.example/cb',
      'http://app.example/cb',
    ];
    const before = broker().store.roundTrips;
    for (const redirect_uri of variants) {
      await expectErrorPage(await authorize({ ...valid(), redirect_uri }), /redirect_uri is not registered/);
    }
    expect(broker().store.roundTrips).toBe(before);
    await expectErrorPage(await authorize({ ...valid(), redirect_uri: '' }), /redirect_uri parameter is missing/);
  });

  it('S-RU-02: a loopback redirect URI may vary its port only (RFC 8252 §7.3)', async () => {
    const spa = {
      client_id: 'spa',
      response_type: 'code',
      scope: 'openid',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    };
    const ok = await authorize({ ...spa, redirect_uri: 'http://127.0.0.1:53123/cb' });
    expect(ok.status).toBe(303);
    expect(location(ok).pathname).toMatch(/^\/upstream\/dev\/login/);
    await expectErrorPage(await authorize({ ...spa, redirect_uri: 'http://127.0.0.1:53123/other' }), /not registered/);
    await expectErrorPage(await authorize({ ...spa, redirect_uri: 'http://localhost:53123/cb' }), /not registered/);
  });

  it('redirects later errors with state and iss', async () => {
    expectRedirectedError(await authorize({ ...valid(), response_type: '' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), response_type: 'token' }), 'unsupported_response_type');
    expectRedirectedError(await authorize({ ...valid(), scope: 'openid admin' }), 'invalid_scope');
    expectRedirectedError(await authorize({ ...valid(), scope: '' }), 'invalid_scope');
    expectRedirectedError(await authorize({ ...valid(), prompt: 'none login' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), prompt: 'sometimes' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), max_age: '-1' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), request: 'eyJ...' }), 'request_not_supported');
    expectRedirectedError(await authorize({ ...valid(), request_uri: 'https://x' }), 'request_uri_not_supported');
    expectRedirectedError(await authorize({ ...valid(), provider: 'nope' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), resource: 'https://evil.example/' }), 'invalid_target');
    expectRedirectedError(await authorize({ ...valid(), response_mode: 'form_post' }), 'invalid_request');
  });

  it('S-INJ-01/02: PKCE with S256 is required: missing, plain or unknown methods are refused', async () => {
    const { code_challenge: _, ...noChallenge } = valid();
    expect(location(await authorize(noChallenge)).searchParams.get('error_description')).toMatch(
      /code_challenge is required/,
    );
    expectRedirectedError(await authorize(noChallenge), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), code_challenge_method: 'plain' }), 'invalid_request');
    const { code_challenge_method: __, ...noMethod } = valid();
    expectRedirectedError(await authorize(noMethod), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), code_challenge_method: 'S512' }), 'invalid_request');
    expectRedirectedError(await authorize({ ...valid(), code_challenge: 'short' }), 'invalid_request');
  });

  it('S-HIST-01: an access token in the URL → invalid_request', async () => {
    expectRedirectedError(await authorize({ ...valid(), access_token: 'abc' }), 'invalid_request');
  });

  it('echoes state exactly, whatever its characters, and rejects a repeated state', async () => {
    const odd = 'a b&c=d/é"<>';
    const back = expectRedirectedError(
      await authorize({ ...valid(), scope: 'bogus', state: odd }),
      'invalid_scope',
      odd,
    );
    expect(back.searchParams.get('state')).toBe(odd);
    const q = new URLSearchParams(valid());
    q.append('state', 'other');
    expectRedirectedError(await authorize(q.toString()), 'invalid_request', null);
  });

  it('rejects oversized parameters with invalid_request', async () => {
    expectRedirectedError(await authorize({ ...valid(), nonce: 'n'.repeat(600) }), 'invalid_request');
  });

  it('refuses implicit without nonce, and for clients that did not opt in (S-LEG-01/02)', async () => {
    const implicit = {
      client_id: 'legacy',
      redirect_uri: 'http://127.0.0.1:5003/cb',
      response_type: 'id_token',
      scope: 'openid',
      state: 's',
    };
    const res = await authorize(implicit);
    const back = location(res);
    const fragment = new URLSearchParams(back.hash.slice(1));
    expect(fragment.get('error')).toBe('invalid_request');
    expect(fragment.get('error_description')).toMatch(/nonce is required/);
    expect(back.search).toBe('');
    const forWeb = location(await authorize({ ...valid(), response_type: 'id_token token', nonce: 'n' }));
    expect(new URLSearchParams(forWeb.hash.slice(1)).get('error')).toBe('unauthorized_client');
  });

  it('answers prompt=none without a session with login_required (OIDC Core §3.1.2.6)', async () => {
    expectRedirectedError(await authorize({ ...valid(), prompt: 'none' }), 'login_required');
  });

  it('takes POST form-encoded requests too', async () => {
    const res = await new UserAgent().postForm(`${broker().url}/authorize`, { ...valid(), scope: 'nope' });
    expectRedirectedError(res, 'invalid_scope');
  });

  it('S-CJ-02: sends no CORS header to a foreign Origin', async () => {
    const res = await new UserAgent().get(`${broker().url}/authorize?${new URLSearchParams(valid())}`, {
      origin: 'https://evil.example',
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${broker().url}/authorize`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('without a provider parameter and several providers... goes straight to the only one configured', async () => {
    const res = await authorize(valid());
    expect(res.status).toBe(303);
    expect(location(res).pathname).toBe('/upstream/dev/login');
  });
});
