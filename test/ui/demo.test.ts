import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { loginWithDev } from '../support/dev-login.js';
import { location, UserAgent } from '../support/user-agent.js';

describe('the demo app at /demo', () => {
  let broker: RunningApp;
  beforeAll(async () => {
    broker = await startApp((issuer) => ({
      providers: [{ id: 'dev', use: 'dev' }],
      clients: [{ client_id: 'demo-app', redirect_uris: [`${issuer}/demo/callback`], first_party: true }],
      demo: { client_id: 'demo-app' },
    }));
  });
  afterAll(() => broker.close());

  it('signs in with code + PKCE through the broker and shows the ID token claims and userinfo', async () => {
    const ua = new UserAgent();
    const home = await ua.get(`${broker.url}/demo`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Sign in');
    const start = await ua.get(`${broker.url}/demo/login`);
    expect(start.status).toBe(303);
    const authorize = location(start);
    expect(authorize.pathname).toBe('/authorize');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const callback = await loginWithDev(ua, authorize, {
      username: 'demo-user',
      name: 'Demo User',
      email: 'demo@example.org',
      email_verified: true,
    });
    expect(callback.pathname).toBe('/demo/callback');
    const result = await ua.get(callback);
    const page = await result.text();
    expect(result.status).toBe(200);
    expect(page).toContain('Signed in');
    expect(page).toContain('Hello Demo User');
    expect(page).toContain('&quot;email&quot;: &quot;demo@example.org&quot;');
    expect(page).toContain('&quot;nonce&quot;');
  });

  it('refuses a callback it did not start', async () => {
    const res = await new UserAgent().get(`${broker.url}/demo/callback?code=x&state=y`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('not started here');
  });
});

describe('demo configuration', () => {
  it('is refused with a non-loopback issuer or a client without the demo redirect URI', async () => {
    const { configSchema } = await import('../../src/config/schema.js');
    const result = configSchema.safeParse({
      issuer: 'http://127.0.0.1:4000',
      clients: [{ client_id: 'demo-app', redirect_uris: ['http://127.0.0.1:4000/elsewhere'] }],
      demo: { client_id: 'demo-app' },
    });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('/demo/callback');
    const remote = configSchema.safeParse({ issuer: 'https://login.example.com', demo: { client_id: 'x' } });
    expect(JSON.stringify(remote.error?.issues)).toContain('loopback issuer');
  });
});
