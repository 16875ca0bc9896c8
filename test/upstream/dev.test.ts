import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/load.js';
import { providersSchema } from '../../src/config/providers.js';
import { connectProvider } from '../../src/upstream/connect.js';
import { startHarness, type Harness } from './harness.js';
import { UserAgent } from '../support/user-agent.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness([{ id: 'dev', use: 'dev' }]);
});
afterEach(() => h.close());

async function loginForm(browser: UserAgent): Promise<{ state: string; page: string; response: Response }> {
  const url = await h.begin(browser, 'dev');
  expect(url.origin).toBe(h.issuer);
  expect(url.pathname).toBe('/upstream/dev/login');
  const response = await browser.fetch(url.href);
  return { state: url.searchParams.get('state')!, page: await response.text(), response };
}

function post(browser: UserAgent, form: Record<string, string>): Promise<Response> {
  return browser.fetch(`${h.issuer}/callback/dev`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

describe('the dev provider', () => {
  it('is refused unless the broker issuer is a loopback URL', () => {
    const [entry] = providersSchema.parse([{ id: 'dev', use: 'dev' }]);
    const connect = (brokerIssuer: string) => () => connectProvider(entry!, 0, { brokerIssuer });
    expect(connect('https://login.example.com')).toThrow(ConfigError);
    expect(connect('https://login.example.com')).toThrow(/providers\[0\]\.use: dev is for development only/);
    expect(connect('http://localhost:4000')).not.toThrow();
  });

  it('shows a form without script or inline style, posting same-origin with the state', async () => {
    const { state, page, response } = await loginForm(new UserAgent());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    expect(page).toContain('<link rel="stylesheet" href="/static/broker.css">');
    expect(page).toContain('<form method="post" action="/callback/dev">');
    expect(page).toContain(`name="state" value="${state}"`);
    for (const field of ['username', 'name', 'email', 'email_verified']) expect(page).toContain(`name="${field}"`);
    expect(page).not.toMatch(/<script|\sstyle=|<style|\son\w+=/i);
  });

  it('escapes what it echoes', async () => {
    const response = await new UserAgent().fetch(
      `${h.issuer}/upstream/dev/login?state=${encodeURIComponent('"><script>alert(1)</script>')}`,
    );
    const page = await response.text();
    expect(page).not.toContain('<script>');
    expect(page).toContain('&quot;&gt;&lt;script&gt;');
  });

  it('signs in as the username, through the same transaction machinery', async () => {
    const browser = new UserAgent();
    const { state } = await loginForm(browser);
    const response = await post(browser, {
      state,
      username: 'alice',
      name: 'Alice <A>',
      email: 'alice@example.com',
      email_verified: 'true',
    });
    expect(response.status).toBe(303);
    expect(h.fail).not.toHaveBeenCalled();
    const { identity, context, provider } = h.finish.mock.calls[0]![1];
    expect(provider).toBe('dev');
    expect(context).toEqual({ kind: 'authorize', interaction: 'i-1' });
    expect(identity).toMatchObject({
      provider: 'dev',
      issuer: `${h.issuer}/upstream/dev`,
      subject: 'alice',
      name: 'Alice <A>',
      email: 'alice@example.com',
      email_verified: true,
      preferred_username: 'alice',
    });
    // Replaying the form post finds nothing.
    expect((await post(browser, { state, username: 'alice' })).status).toBe(400);
    expect(h.finish).toHaveBeenCalledTimes(1);
  });

  it('email_verified is false unless the box is ticked', async () => {
    const browser = new UserAgent();
    const { state } = await loginForm(browser);
    await post(browser, { state, username: 'bob', email: 'bob@example.com' });
    expect(h.finish.mock.calls[0]![1].identity.email_verified).toBe(false);
  });

  it('refuses a post from another browser (400), and one without a username (fail)', async () => {
    const { state } = await loginForm(new UserAgent());
    const other = new UserAgent();
    await other.fetch(`${h.issuer}/upstream/dev/login?state=x`);
    expect((await post(other, { state, username: 'mallory' })).status).toBe(400);
    const browser = new UserAgent();
    const second = await loginForm(browser);
    expect((await post(browser, { state: second.state, username: '' })).status).toBe(303);
    expect(h.fail.mock.calls[0]![1].error).toBe('access_denied');
    expect(h.finish).not.toHaveBeenCalled();
  });

  it('refuses a post the browser marks cross-site (K-07), without consuming the login', async () => {
    const browser = new UserAgent();
    const { state } = await loginForm(browser);
    const response = await browser.fetch(`${h.issuer}/callback/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'cross-site' },
      body: new URLSearchParams({ state, username: 'mallory' }).toString(),
    });
    expect(response.status).toBe(403);
    expect((await post(browser, { state, username: 'alice' })).status).toBe(303);
    expect(h.finish.mock.calls[0]![1].identity.subject).toBe('alice');
  });

  it('a GET callback on the dev path does not sign in', async () => {
    const browser = new UserAgent();
    const { state } = await loginForm(browser);
    await browser.fetch(`${h.issuer}/callback/dev?state=${state}&username=alice`);
    expect(h.finish).not.toHaveBeenCalled();
  });
});
