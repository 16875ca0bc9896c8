import { describe, expect, it } from 'vitest';
import { LocalAccounts } from '../../src/identity/local-accounts.js';
import { userTokensAllowed, type User } from '../../src/identity/user.js';
import { Users } from '../../src/identity/users.js';
import type { RunningApp } from '../support/app.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { PASSWORD_CLIENTS, TRUSTED_SECRET } from '../support/password.js';
import { decideDevice } from '../support/device-approval.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';

const PASSWORD = 'correct horse battery staple';
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

async function post(app: RunningApp, path: string, body: Record<string, string>, auth: [string, string]) {
  const response = await fetch(`${app.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(...auth) },
    body: new URLSearchParams(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('userTokensAllowed', () => {
  const user = (extra: Partial<User>): User => ({
    id: 'u',
    created_at: 1,
    updated_at: 1,
    profile: {},
    emails: [],
    identities: [],
    ...extra,
  });
  it.each([
    [{}, 100, true],
    [{}, undefined, true],
    [{ disabled_at: 50, tokens_valid_after: 50 }, 100, false],
    [{ tokens_valid_after: 50 }, 50, false],
    [{ tokens_valid_after: 50 }, 49, false],
    [{ tokens_valid_after: 50 }, 51, true],
    [{ tokens_valid_after: 50 }, undefined, false],
  ])('%j with a login at %s: %s', (extra, authTime, allowed) => {
    expect(userTokensAllowed(user(extra), authTime)).toBe(allowed);
  });
});

describe.each(STORE_KINDS)('a disabled user (%s store)', (kind) => {
  const broker = useBroker(kind, {
    clients: [...PASSWORD_CLIENTS, { client_id: 'tv', grant_types: [DEVICE] }],
    password_grant: { local: { id: 'local', min_password_length: 12, scrypt: { cost: 4096 } } },
  });
  const trusted: [string, string] = ['trusted', TRUSTED_SECRET];
  const login = () =>
    post(
      broker(),
      '/token',
      { grant_type: 'password', username: 'rita', password: PASSWORD, scope: 'openid' },
      trusted,
    );
  const introspectTrips = async (token: string, auth: [string, string]) => {
    const before = broker().store.roundTrips;
    const answer = await post(broker(), '/introspect', { token }, auth);
    return { active: answer.body.active, trips: broker().store.roundTrips - before };
  };

  it("introspects a user's access token in one round trip, as a client's, and finds it inactive once disabled", async () => {
    const app = broker();
    await new LocalAccounts(app.store, app.config.password_grant.local!, app.config.issuer).add({
      username: 'rita',
      password: PASSWORD,
    });
    const issued = await login();
    expect(issued.status).toBe(200);
    const access = issued.body.access_token as string;
    const machine = await post(app, '/token', { grant_type: 'client_credentials' }, ['machine', SECRETS.machine]);
    const machineToken = machine.body.access_token as string;

    const userAnswer = await introspectTrips(access, trusted);
    const machineAnswer = await introspectTrips(machineToken, ['machine', SECRETS.machine]);
    expect(userAnswer.active).toBe(true);
    expect(machineAnswer.active).toBe(true);
    // The user record is read in the revocation check's round trip: no extra one.
    expect(userAnswer.trips).toBe(machineAnswer.trips);
    expect(userAnswer.trips).toBe(1);

    const info = await fetch(`${app.url}/userinfo`, { headers: { authorization: `Bearer ${access}` } });
    const sub = ((await info.json()) as { sub: string }).sub;
    await new Users(app.store).setDisabled(sub, true);
    expect((await introspectTrips(access, trusted)).active).toBe(false);
    expect((await introspectTrips(machineToken, ['machine', SECRETS.machine])).active).toBe(true);
    expect(await login()).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  const deviceStart = async () => {
    const response = await fetch(`${broker().url}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'tv', scope: 'openid' }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { device_code: string; verification_uri_complete: string };
  };

  it("a disabled user's device login ends on a page at the provider callback", async () => {
    const app = broker();
    const first = await deviceStart();
    expect((await decideDevice(new UserAgent(), app.url, first.verification_uri_complete, 'sam', 'allow')).status).toBe(
      200,
    );
    const polled = await fetch(`${app.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: DEVICE, device_code: first.device_code, client_id: 'tv' }),
    });
    const { access_token: access } = (await polled.json()) as { access_token: string };
    const info = await fetch(`${app.url}/userinfo`, { headers: { authorization: `Bearer ${access}` } });
    const sub = ((await info.json()) as { sub: string }).sub;
    await new Users(app.store).setDisabled(sub, true);

    const ua = new UserAgent();
    const same = { origin: app.url, 'sec-fetch-site': 'same-origin' };
    const page = await (await ua.get((await deviceStart()).verification_uri_complete)).text();
    const form = { csrf: formValue(page, 'csrf'), user_code: formValue(page, 'user_code'), provider: 'dev' };
    const devUrl = location(await ua.postForm(`${app.url}/device/login`, form, same));
    const devPage = await (await ua.get(devUrl)).text();
    const action = new URL(formAction(devPage), devUrl);
    const refused = await ua.postForm(action, { state: formValue(devPage, 'state'), username: 'sam' }, same);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('this account is disabled');
    expect((await fetch(`${app.url}/userinfo`, { headers: { authorization: `Bearer ${access}` } })).status).toBe(401);
  });

  /** Signs in at /account through the dev provider: the answer of the provider's callback. */
  async function accountSignIn(username: string): Promise<{ ua: UserAgent; callback: Response }> {
    const ua = new UserAgent();
    const url = broker().url;
    const same = { origin: url, 'sec-fetch-site': 'same-origin' };
    const signIn = await (await ua.get(`${url}/account`)).text();
    const start = await ua.postForm(`${url}/account/login`, { csrf: formValue(signIn, 'csrf'), provider: 'dev' }, same);
    const devUrl = location(start);
    const devPage = await (await ua.get(devUrl)).text();
    const action = new URL(formAction(devPage), devUrl);
    return { ua, callback: await ua.postForm(action, { state: formValue(devPage, 'state'), username }, same) };
  }

  it("a disabled user's sign-in on the account page ends on a page", async () => {
    const first = await accountSignIn('tia');
    expect(first.callback.status).toBe(303);
    const html = await (await first.ua.get(`${broker().url}/account`)).text();
    const userId = /account id <code>([^<]+)<\/code>/.exec(html)![1]!;
    await new Users(broker().store).setDisabled(userId, true);
    const refused = (await accountSignIn('tia')).callback;
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('this account is disabled');
    await new Users(broker().store).setDisabled(userId, false);
    expect((await accountSignIn('tia')).callback.status).toBe(303);
  });
});
