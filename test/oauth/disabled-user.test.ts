import { describe, expect, it } from 'vitest';
import { LocalAccounts } from '../../src/identity/local-accounts.js';
import { userTokensAllowed, type User } from '../../src/identity/user.js';
import { Users } from '../../src/identity/users.js';
import type { RunningApp } from '../support/app.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { PASSWORD_CLIENTS, TRUSTED_SECRET } from '../support/password.js';

const PASSWORD = 'correct horse battery staple';
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
    clients: PASSWORD_CLIENTS,
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
});
