import * as oidc from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { setClock } from '../../src/lib/clock.js';
import { tokenHash } from '../../src/oauth/crypto.js';
import { deviceKeys } from '../../src/oauth/device/records.js';
import { CLIENTS, SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { decideDevice } from '../support/device-approval.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const DEVICE_CLIENTS = [
  ...CLIENTS,
  { client_id: 'tv', client_name: 'Living Room TV', grant_types: [DEVICE], scope: 'openid profile' },
  {
    client_id: 'console',
    client_name: 'Game Console',
    client_secret: 'console-secret-0123456789abcdef',
    grant_types: [DEVICE, 'refresh_token'],
    first_party: true,
  },
];

afterEach(() => setClock());

describe.each(STORE_KINDS)('device authorization grant, RFC 8628 (%s store)', (kind) => {
  const broker = useBroker(kind, {
    clients: DEVICE_CLIENTS,
    tokens: { device_poll_interval_s: 1 },
  });
  const url = (path: string) => `${broker().url}${path}`;
  const same = () => ({ origin: broker().url, 'sec-fetch-site': 'same-origin' });
  const discover = (clientId: string, auth: oidc.ClientAuth = oidc.None()) =>
    oidc.discovery(new URL(broker().url), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });

  async function post(path: string, form: Record<string, string>) {
    const res = await fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const start = (clientId: string, extra: Record<string, string> = {}) =>
    post('/device_authorization', { client_id: clientId, ...extra });
  const poll = (clientId: string, deviceCode: string) =>
    post('/token', { client_id: clientId, grant_type: DEVICE, device_code: deviceCode });

  const decide = (ua: UserAgent, pageUrl: string, username: string, decision: 'allow' | 'deny') =>
    decideDevice(ua, broker().url, pageUrl, username, decision);

  it('runs end to end with openid-client: discovery, initiate, approve in the browser, poll; once only', async () => {
    const config = await discover('tv');
    expect(config.serverMetadata().device_authorization_endpoint).toBe(url('/device_authorization'));
    expect(config.serverMetadata().grant_types_supported).toContain(DEVICE);
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid profile' });
    // §6.1: 8 characters of the consonant alphabet, shown as XXXX-XXXX.
    expect(response.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    expect(response.device_code).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(response.verification_uri).toBe(url('/device'));
    expect(response.verification_uri_complete).toBe(url(`/device?user_code=${response.user_code}`));
    expect(response.expires_in).toBe(600);
    expect(response.interval).toBe(1);
    // Only the device code's hash is stored.
    const [deviceId, secretPart] = response.device_code.split('.');
    const stored = await broker().store.get(deviceKeys.record(deviceId!));
    expect(stored).toContain(tokenHash(response.device_code));
    expect(stored).not.toContain(secretPart);

    const tokens = oidc.pollDeviceAuthorizationGrant(config, response);
    const decided = await decide(new UserAgent(), response.verification_uri_complete!, 'dana', 'allow');
    expect(decided.status).toBe(200);
    expect(decided.page).toContain('return to your device');
    const result = await tokens;
    expect(result.claims()!.sub).toEqual(expect.any(String));
    expect(result.claims()!.sid).toEqual(expect.any(String));
    expect(result.scope).toBe('openid profile');
    expect(result.refresh_token).toBeUndefined();

    const again = await poll('tv', response.device_code);
    expect(again).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  }, 20_000);

  it('gives a refresh token to a client allowed one, and accepts the code without dash and in lower case', async () => {
    const secret = 'console-secret-0123456789abcdef';
    const config = await discover('console', oidc.ClientSecretBasic(secret));
    const response = await oidc.initiateDeviceAuthorization(config, { scope: 'openid offline_access' });
    const ua = new UserAgent();
    const entry = await (await ua.get(url('/device'))).text();
    const typed = response.user_code.replace('-', '').toLowerCase();
    const res = await ua.postForm(url('/device'), { csrf: formValue(entry, 'csrf'), user_code: typed }, same());
    expect(res.status).toBe(303);
    expect(location(res).searchParams.get('user_code')).toBe(response.user_code);
    const tokens = oidc.pollDeviceAuthorizationGrant(config, response);
    await decide(ua, location(res).toString(), 'erin', 'allow');
    const result = await tokens;
    expect(result.refresh_token).toEqual(expect.any(String));
    const refreshed = await oidc.refreshTokenGrant(config, result.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
  }, 20_000);

  it('answers authorization_pending, then slow_down with the interval grown by 5 s (section 3.5)', async () => {
    const { body } = await start('tv');
    const code = body.device_code as string;
    expect(await poll('tv', code)).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });
    const fast = await poll('tv', code);
    expect(fast).toMatchObject({ status: 400, body: { error: 'slow_down' } });
    expect(fast.body.error_description).toContain('6 s');
    // Polling at the old interval is still too fast.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await poll('tv', code)).body.error).toBe('slow_down');
  });

  it('answers access_denied when the user denies', async () => {
    const { body } = await start('tv');
    const decided = await decide(new UserAgent(), body.verification_uri_complete as string, 'finn', 'deny');
    expect(decided.page).toContain('Request denied');
    expect(await poll('tv', body.device_code as string)).toMatchObject({ body: { error: 'access_denied' } });
  });

  it('decides once: a replayed or session-less decision is refused; approval remembers consent', async () => {
    const { body } = await start('tv');
    const ua = new UserAgent();
    // Sign in and reach the approval page, keeping its form to replay.
    const pageUrl = body.verification_uri_complete as string;
    let page = await (await ua.get(pageUrl)).text();
    const signIn = { csrf: formValue(page, 'csrf'), user_code: formValue(page, 'user_code'), provider: 'dev' };
    const devUrl = location(await ua.postForm(url('/device/login'), signIn, same()));
    const devPage = await (await ua.get(devUrl)).text();
    const action = new URL(formAction(devPage), devUrl);
    const back = await ua.postForm(action, { state: formValue(devPage, 'state'), username: 'gwen' }, same());
    page = await (await ua.get(location(back, action.toString()))).text();
    const form = { csrf: formValue(page, 'csrf'), user_code: formValue(page, 'user_code'), decision: 'allow' };
    // Without a session (another browser with the same form) nothing is decided.
    const stranger = new UserAgent();
    expect((await stranger.postForm(url('/device/decide'), form, same())).status).toBe(403); // not its CSRF token
    const own = formValue(await (await stranger.get(url('/device'))).text(), 'csrf');
    const sessionless = await stranger.postForm(url('/device/decide'), { ...form, csrf: own }, same());
    expect(sessionless.status).toBe(400);
    expect(await sessionless.text()).toContain('your session ended');
    expect((await ua.postForm(url('/device/decide'), form, same())).status).toBe(200);
    const replay = await ua.postForm(url('/device/decide'), { ...form, decision: 'deny' }, same());
    expect(replay.status).toBe(400);
    const tokens = await poll('tv', body.device_code as string);
    expect(tokens.status).toBe(200);
    // tv is not first-party: the approval is remembered as consent for its scopes.
    const sub = JSON.parse(Buffer.from((tokens.body.id_token as string).split('.')[1]!, 'base64url').toString()).sub;
    expect(JSON.parse((await broker().store.get(`consent:${sub}:tv`))!)).toEqual(['openid', 'profile']);
  });

  it('answers expired_token after expires_in, and the page refuses the expired code', async () => {
    const { body } = await start('tv');
    const later = Date.now() + 601_000;
    setClock(() => later);
    expect(await poll('tv', body.device_code as string)).toMatchObject({ body: { error: 'expired_token' } });
    const res = await new UserAgent().get(body.verification_uri_complete as string);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('not valid or has expired');
  });

  it('refuses a forged or foreign device code with invalid_grant, and unknown grants of a client', async () => {
    const { body } = await start('tv');
    const code = body.device_code as string;
    const forged = `${code.split('.')[0]}.${'A'.repeat(43)}`;
    expect(await poll('tv', forged)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await poll('tv', 'nonsense')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    const foreign = await post('/token', {
      grant_type: DEVICE,
      device_code: code,
      client_id: 'console',
      client_secret: 'console-secret-0123456789abcdef',
    });
    // console may post its secret (it pins no method); the code was issued to tv.
    expect(foreign.status).toBe(400);
    expect(foreign).toMatchObject({ body: { error: 'invalid_grant' } });
    expect(await poll('spa', code)).toMatchObject({ body: { error: 'unauthorized_client' } });
    expect(await start('spa')).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    expect(await start('tv', { scope: 'openid email' })).toMatchObject({ body: { error: 'invalid_scope' } });
    const web = await fetch(url('/device_authorization'), {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: '',
    });
    expect(web.status).toBe(400);
    expect(((await web.json()) as { error: string }).error).toBe('unauthorized_client');
  });
});

describe('device page: CSRF and wrong user codes (RFC 8628 section 5.1)', () => {
  const broker = useBroker('memory', {
    clients: DEVICE_CLIENTS,
    rate_limits: { device_user_codes: { limit: 3, window_s: 60 } },
  });
  const url = (path: string) => `${broker().url}${path}`;
  const same = () => ({ origin: broker().url, 'sec-fetch-site': 'same-origin' });

  it('checks CSRF on the page forms and rate-limits wrong user codes per browser (section 5.1)', async () => {
    const ua = new UserAgent();
    const entry = await (await ua.get(url('/device'))).text();
    const csrf = formValue(entry, 'csrf');
    expect((await ua.postForm(url('/device'), { user_code: 'BCDF-GHJK' }, same())).status).toBe(403);
    for (let i = 0; i < 3; i++) {
      const wrong = await ua.postForm(url('/device'), { csrf, user_code: 'BCDF-GHJK' }, same());
      expect(wrong.status).toBe(400);
      expect(await wrong.text()).toContain('not valid or has expired');
    }
    const limited = await ua.postForm(url('/device'), { csrf, user_code: 'BCDF-GHJK' }, same());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
