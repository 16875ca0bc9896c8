import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { appsecretProof } from '../../src/upstream/quirks/facebook-appsecret-proof.js';
import { startApp, type RunningApp } from '../support/app.js';

/**
 * Native sign-in with a provider access token (inbound token exchange, RFC 8693): the provider's
 * quirk asks it whether the token was issued to our app (Facebook `debug_token`, GitHub's token
 * check), then the profile is read as at a login. nock plays Facebook and GitHub.
 * docs/security.md S-VAULT-05.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const AT_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const fixture = (provider: string, name: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/providers/${provider}/${name}.json`, import.meta.url), 'utf8'),
  ) as Record<string, Record<string, unknown>>;

let broker: RunningApp;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
  broker = await startApp({
    clients: [
      {
        client_id: 'mobile',
        token_endpoint_auth_method: 'none',
        grant_types: [EXCHANGE],
        native_providers: ['facebook', 'github', 'google'],
        first_party: true,
      },
    ],
    providers: [
      { id: 'facebook', use: 'facebook', client_id: 'fb-app', client_secret: 'fb-secret' },
      { id: 'github', use: 'github', client_id: 'gh-client', client_secret: 'gh-secret' },
      { id: 'google', use: 'google', client_id: 'g-client', client_secret: 'g-secret' },
    ],
  });
});
afterEach(() => nock.cleanAll());
afterAll(async () => {
  nock.enableNetConnect();
  await broker?.close();
});

async function native(provider: string, token: string) {
  const response = await fetch(`${broker.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: EXCHANGE,
      client_id: 'mobile',
      subject_token: token,
      subject_token_type: AT_TYPE,
      subject_issuer: provider,
      scope: 'openid email profile',
    }).toString(),
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

const idTokenClaims = (idToken: string) =>
  JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe('native sign-in with a Facebook access token', () => {
  const debugToken = (data: Record<string, unknown>) =>
    nock('https://graph.facebook.com')
      .get('/v25.0/debug_token')
      .query({ input_token: 'EAAB-native', access_token: 'fb-app|fb-secret' })
      .reply(200, { data });

  it('debug_token says our app and valid: the profile is read and the user signed in', async () => {
    const scenario = fixture('facebook', 'with-email');
    debugToken({ app_id: 'fb-app', is_valid: true, user_id: '10158012345678901' });
    nock('https://graph.facebook.com')
      .get('/v25.0/me')
      .query({
        fields: 'id,name,email,first_name,last_name,picture',
        appsecret_proof: appsecretProof('EAAB-native', 'fb-secret'),
      })
      .reply(200, scenario.profile);
    const answer = await native('facebook', 'EAAB-native');
    expect(answer.status).toBe(200);
    expect(answer.body.issued_token_type).toBe(AT_TYPE);
    expect(idTokenClaims(answer.body.id_token!)).toMatchObject({ aud: 'mobile', name: 'Jane Doe' });
    expect(nock.isDone()).toBe(true);
  });

  it('a token issued to another app, or not valid, is refused before any profile call', async () => {
    debugToken({ app_id: 'someone-elses-app', is_valid: true });
    const foreign = await native('facebook', 'EAAB-native');
    expect([foreign.status, foreign.body.error]).toEqual([400, 'invalid_request']);
    expect(foreign.body.error_description).toContain('another app');
    debugToken({ app_id: 'fb-app', is_valid: false });
    expect((await native('facebook', 'EAAB-native')).body.error).toBe('invalid_request');
  });

  it('Facebook down: 503 temporarily_unavailable', async () => {
    nock('https://graph.facebook.com').get('/v25.0/debug_token').query(true).reply(503, {});
    const answer = await native('facebook', 'EAAB-native');
    expect([answer.status, answer.body.error]).toEqual([503, 'temporarily_unavailable']);
  });
});

describe('native sign-in with a GitHub access token', () => {
  it('the application token check answers 200: the profile and verified email are read', async () => {
    const scenario = fixture('github', 'verified-primary');
    nock('https://api.github.com')
      .post('/applications/gh-client/token', { access_token: 'gho_native' })
      .basicAuth({ user: 'gh-client', pass: 'gh-secret' })
      .reply(200, { id: 1, app: { client_id: 'gh-client' } });
    nock('https://api.github.com')
      .get('/user')
      .reply(200, scenario.profile as object);
    nock('https://api.github.com')
      .get('/user/emails')
      .reply(200, scenario.emails as object);
    const answer = await native('github', 'gho_native');
    expect(answer.status).toBe(200);
    expect(idTokenClaims(answer.body.id_token!)).toMatchObject({ email: 'octocat@github.com', email_verified: true });
  });

  it('a token of another OAuth app (404 at the check) is refused', async () => {
    nock('https://api.github.com').post('/applications/gh-client/token').reply(404, { message: 'Not Found' });
    const answer = await native('github', 'gho_foreign');
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_request']);
    expect(answer.body.error_description).toContain('not valid for this app');
  });
});

it('a provider without such a check refuses access tokens, naming itself', async () => {
  const answer = await native('google', 'ya29.some-token');
  expect([answer.status, answer.body.error]).toEqual([400, 'invalid_request']);
  expect(answer.body.error_description).toContain('Google access tokens cannot be checked here');
});
