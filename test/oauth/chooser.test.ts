import { describe, expect, it } from 'vitest';
import { CLIENTS, useBroker } from '../support/broker-fixture.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

describe('the provider chooser', () => {
  const broker = useBroker('memory', {
    clients: CLIENTS,
    providers: [
      { id: 'dev', use: 'dev', name: 'Dev One' },
      { id: 'dev2', use: 'dev', name: 'Dev Two' },
    ],
  });
  const authorizeUrl = (extra: Record<string, string> = {}) =>
    `${broker().url}/authorize?${new URLSearchParams({
      client_id: 'web',
      redirect_uri: 'https://app.example/cb',
      response_type: 'code',
      scope: 'openid',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      ...extra,
    })}`;

  async function openChooser(ua: UserAgent) {
    const res = await ua.get(authorizeUrl());
    expect(res.status).toBe(303);
    const chooser = location(res);
    expect(chooser.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]{32}$/);
    const page = await ua.get(chooser);
    expect(page.status).toBe(200);
    return { chooser, html: await page.text() };
  }

  it('lists every provider with the app name, one form button each', async () => {
    const { html } = await openChooser(new UserAgent());
    expect(html).toContain('Sign in to Web App');
    expect(html).toContain('Continue with Dev One');
    expect(html).toContain('Continue with Dev Two');
    expect(html.match(/<form method="post"/g)).toHaveLength(2);
    expect(html).not.toMatch(/<script|style=|https?:\/\/(?!127\.0\.0\.1)/);
  });

  it('starts the chosen provider on a same-origin POST with the CSRF token', async () => {
    const ua = new UserAgent();
    const { chooser, html } = await openChooser(ua);
    const res = await ua.postForm(
      new URL(formAction(html), chooser),
      { csrf: formValue(html, 'csrf'), provider: 'dev2' },
      { 'sec-fetch-site': 'same-origin' },
    );
    expect(res.status).toBe(303);
    expect(location(res).pathname).toBe('/upstream/dev2/login');
  });

  it('S-CSRF-01: refuses the POST without the token, from another site, or from another browser', async () => {
    const ua = new UserAgent();
    const { chooser, html } = await openChooser(ua);
    const action = new URL(formAction(html), chooser);
    const csrf = formValue(html, 'csrf');
    expect((await ua.postForm(action, { provider: 'dev' })).status).toBe(403);
    expect((await ua.postForm(action, { provider: 'dev', csrf }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await ua.postForm(action, { provider: 'dev', csrf }, { origin: 'https://evil.example' })).status).toBe(403);
    const stranger = new UserAgent();
    expect((await stranger.postForm(action, { provider: 'dev', csrf })).status).toBe(400);
    expect((await stranger.get(chooser)).status).toBe(400);
  });

  it('skips the chooser when the app names a provider', async () => {
    const res = await new UserAgent().get(authorizeUrl({ provider: 'dev2' }));
    expect(location(res).pathname).toBe('/upstream/dev2/login');
  });
});
