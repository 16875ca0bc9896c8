import { readFileSync } from 'node:fs';
import nock from 'nock';
import * as oidc from 'openid-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { formAction, formValue, location, UserAgent } from '../support/user-agent.js';
import { nowS, signingKey, type SigningKey } from './harness.js';
import { pkceAuthorization } from '../support/app-client.js';

/**
 * The "done when": with Facebook, Google and GitHub configured (fake credentials), the
 * chooser shows them, and an app's login through each one passes against nock, through the
 * whole broker (chooser → provider → callback → the app's code → the app's tokens).
 */
const REDIRECT = 'http://127.0.0.1:5000/cb';
const fixture = (provider: string, name: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/providers/${provider}/${name}.json`, import.meta.url), 'utf8'),
  ) as Record<string, unknown>;

let broker: RunningApp;
let key: SigningKey;
let app: oidc.Configuration;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  key = await signingKey();
  broker = await startApp({
    clients: CLIENTS,
    providers: [
      { id: 'facebook', use: 'facebook', client_id: 'fb-app', client_secret: 'fb-secret' },
      { id: 'google', use: 'google', client_id: 'g-client.apps.googleusercontent.com', client_secret: 'g-secret' },
      { id: 'github', use: 'github', client_id: 'gh-client', client_secret: 'gh-secret' },
    ],
  });
  app = await oidc.discovery(new URL(broker.url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
    execute: [oidc.allowInsecureRequests],
  });
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await broker?.close();
});

async function authorize(extra: Record<string, string> = {}) {
  const { url, checks } = await pkceAuthorization(app, {
    redirect_uri: REDIRECT,
    scope: 'openid profile email',
    ...extra,
  });
  return { url, checks };
}

/** Through the chooser: picks a provider; returns the provider URL the browser is sent to. */
async function choose(ua: UserAgent, url: URL, provider: string): Promise<URL> {
  const chooser = location(await ua.get(url));
  const html = await (await ua.get(chooser)).text();
  const res = await ua.postForm(
    new URL(formAction(html), chooser),
    { csrf: formValue(html, 'csrf'), provider },
    { 'sec-fetch-site': 'same-origin', origin: chooser.origin },
  );
  expect(res.status).toBe(303);
  return location(res);
}

/** The provider's redirect back to the broker, then the broker's redirect to the app. */
async function back(ua: UserAgent, provider: string, upstream: URL): Promise<URL> {
  const res = await ua.get(
    `${broker.url}/callback/${provider}?code=upstream-code&state=${upstream.searchParams.get('state')}`,
  );
  expect(res.status).toBe(303);
  let next = location(res);
  for (let i = 0; i < 5 && next.origin + next.pathname !== REDIRECT; i++)
    next = location(await ua.get(next), next.href);
  expect(next.origin + next.pathname).toBe(REDIRECT);
  return next;
}

describe('Facebook, Google and GitHub through the whole broker (nock)', () => {
  it('the chooser shows all three', async () => {
    const ua = new UserAgent();
    const { url } = await authorize();
    const chooser = location(await ua.get(url));
    const html = await (await ua.get(chooser)).text();
    for (const label of ['Facebook', 'Google', 'GitHub']) expect(html).toContain(`Continue with ${label}`);
  });

  it('GitHub: verified primary email from /user/emails', async () => {
    const ua = new UserAgent();
    const { url, checks } = await authorize();
    const upstream = await choose(ua, url, 'github');
    expect(upstream.origin + upstream.pathname).toBe('https://github.com/login/oauth/authorize');
    const scenario = fixture('github', 'verified-primary');
    nock('https://github.com')
      .post('/login/oauth/access_token')
      .reply(200, { ...(scenario.token as object), access_token: 'gho_upstream' });
    nock('https://api.github.com')
      .get('/user')
      .reply(200, scenario.profile as object);
    nock('https://api.github.com')
      .get('/user/emails')
      .reply(200, scenario.emails as object);
    const callback = await back(ua, 'github', upstream);
    const tokens = await oidc.authorizationCodeGrant(app, callback, checks);
    const info = await oidc.fetchUserInfo(app, tokens.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ email: 'octocat@github.com', email_verified: true });
    expect(JSON.stringify(tokens)).not.toContain('gho_upstream');
  });

  it('Google: a signature-checked ID token, provider= skips the chooser', async () => {
    const ua = new UserAgent();
    const { url, checks } = await authorize({ provider: 'google' });
    nock('https://accounts.google.com')
      .get('/.well-known/openid-configuration')
      .reply(200, {
        issuer: 'https://accounts.google.com',
        authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
        token_endpoint: 'https://oauth2.googleapis.com/token',
        userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
        jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['plain', 'S256'],
      });
    nock('https://www.googleapis.com')
      .get('/oauth2/v3/certs')
      .reply(200, { keys: [key.jwk] });
    let upstream = location(await ua.get(url));
    for (let i = 0; i < 5 && upstream.origin === new URL(broker.url).origin; i++)
      upstream = location(await ua.get(upstream), upstream.href);
    expect(upstream.origin + upstream.pathname).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    const claims = fixture('google', 'verified').id_token_claims as Record<string, unknown>;
    const idToken = await key.sign({
      ...claims,
      iss: 'https://accounts.google.com',
      aud: 'g-client.apps.googleusercontent.com',
      azp: 'g-client.apps.googleusercontent.com',
      nonce: upstream.searchParams.get('nonce'),
      iat: nowS(),
      exp: nowS() + 600,
    });
    nock('https://oauth2.googleapis.com')
      .post('/token')
      .reply(200, { access_token: 'ya29.upstream', token_type: 'Bearer', expires_in: 3599, id_token: idToken });
    const callback = await back(ua, 'google', upstream);
    const tokens = await oidc.authorizationCodeGrant(app, callback, checks);
    const info = await oidc.fetchUserInfo(app, tokens.access_token, tokens.claims()!.sub);
    expect(info).toMatchObject({ email: 'jane.doe@gmail.com', email_verified: true, name: 'Jane Doe' });
  });

  it('Facebook without an email: signs in, with no email', async () => {
    const ua = new UserAgent();
    const { url, checks } = await authorize();
    const upstream = await choose(ua, url, 'facebook');
    expect(upstream.origin + upstream.pathname).toBe('https://www.facebook.com/v25.0/dialog/oauth');
    const scenario = fixture('facebook', 'no-email');
    nock('https://graph.facebook.com')
      .post('/v25.0/oauth/access_token')
      .reply(200, scenario.token as object);
    nock('https://graph.facebook.com')
      .get('/v25.0/me')
      .query((q) => q.fields === 'id,name,email,first_name,last_name,picture' && typeof q.appsecret_proof === 'string')
      .reply(200, scenario.profile as object);
    const callback = await back(ua, 'facebook', upstream);
    const tokens = await oidc.authorizationCodeGrant(app, callback, checks);
    const info = await oidc.fetchUserInfo(app, tokens.access_token, tokens.claims()!.sub);
    expect(info.email).toBeUndefined();
    expect(info.name).toBe('Phone User');
  });

  it('GitHub 200-with-error: the app gets an error redirect, not a code', async () => {
    const ua = new UserAgent();
    const { url } = await authorize();
    const upstream = await choose(ua, url, 'github');
    nock('https://github.com')
      .post('/login/oauth/access_token')
      .reply(200, fixture('github', 'token-200-error').token as object);
    const callback = await back(ua, 'github', upstream);
    expect(callback.searchParams.get('code')).toBeNull();
    expect(callback.searchParams.get('error')).toBeTruthy();
  });
});
