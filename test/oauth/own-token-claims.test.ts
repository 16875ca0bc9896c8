import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { keysSchema } from '../../src/config/tokens.js';
import { Jwt } from '../../src/oauth/jwt.js';
import { SigningKeys } from '../../src/oauth/keys.js';
import { SECRETS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * Tokens correctly signed with the broker's own key (read from its store) whose claims have the
 * wrong type. Whatever reads them must treat them as invalid tokens: 401 invalid_token at
 * userinfo (RFC 6750 §3.1), inactive at introspection (RFC 7662 §2.2), never a 500.
 */
const TAMPERED: [string, Record<string, unknown>][] = [
  ['scope as a number', { scope: 42 }],
  ['scope as an array', { scope: ['openid', 'email'] }],
  ['scope as an object', { scope: { openid: true } }],
  ['scope as null', { scope: null }],
  ['sub as a number', { sub: 42 }],
  ['sub as an array', { sub: ['u1'] }],
  ['an empty sub', { sub: '' }],
  ['client_id as a number', { client_id: 7 }],
  ['client_id as an array', { client_id: ['web'] }],
  ['jti as a number', { jti: 1 }],
  ['grant_id as a number', { grant_id: 99 }],
  ['grant_id as an object', { grant_id: { id: 'g' } }],
  ['auth_time as a string', { auth_time: 'yesterday' }],
  ['aud as a number', { aud: 5 }],
  ['aud as an array of numbers', { aud: [5] }],
  ['exp as a string', { exp: '9999999999' }],
  ['iat as a string', { iat: 'now' }],
  ['no exp', { exp: undefined }],
];

describe('J-10: access tokens with malformed claims', () => {
  const broker = useBroker('memory');
  let genuine: string;
  let payload: Record<string, unknown>;
  let jwt: Jwt;
  let config: oidc.Configuration;

  beforeAll(async () => {
    const { url, store } = broker();
    config = await oidc.discovery(new URL(url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const authorize = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'http://127.0.0.1:5000/cb',
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const user = { username: 'claire', email: 'claire@example.org' };
    const callback = await loginWithDev(new UserAgent(), authorize, user);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    genuine = tokens.access_token;
    payload = decodeJwt(genuine) as Record<string, unknown>;
    // The broker's own signing key, as every broker process gets it: from the store.
    const keys = new SigningKeys(store, keysSchema.parse({}), 900);
    await keys.init();
    jwt = new Jwt(keys, url);
  });

  // A fresh jti each time: a token revoked by one case must not decide another.
  const sign = (changes: Record<string, unknown>) =>
    jwt.sign({ ...payload, jti: crypto.randomUUID(), ...changes }, 'at+jwt');
  const userinfo = (token: string) =>
    fetch(`${broker().url}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  const clientPost = (path: string, token: string) =>
    fetch(`${broker().url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }).toString(),
    });

  it('accepts the genuine claims re-signed with the same key (the baseline)', async () => {
    const token = await sign({});
    expect((await userinfo(token)).status).toBe(200);
    expect(await (await clientPost('/introspect', token)).json()).toMatchObject({ active: true, sub: payload.sub });
  });

  it.each(TAMPERED)('with %s: userinfo answers 401 invalid_token', async (_what, changes) => {
    const res = await userinfo(await sign(changes));
    const body = await res.text();
    expect(res.status, body).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="login-broker", error="invalid_token"/);
    expect(JSON.parse(body)).toMatchObject({ error: 'invalid_token' });
    expect(body).not.toMatch(/\bat .*\.[jt]s:\d+/);
  });

  it.each(TAMPERED)('with %s: introspection answers inactive and revocation 200', async (_what, changes) => {
    const token = await sign(changes);
    const introspected = await clientPost('/introspect', token);
    expect(introspected.status).toBe(200);
    expect(await introspected.json()).toEqual({ active: false });
    const revoked = await clientPost('/revoke', token);
    expect(revoked.status).toBe(200);
  });
});

describe('J-10: ID token hints with malformed claims', () => {
  const broker = useBroker('memory');
  let jwt: Jwt;
  const base = { sub: 'u-1', aud: 'web', azp: 'web', auth_time: 1, iat: 1, exp: 2 };
  beforeAll(async () => {
    const keys = new SigningKeys(broker().store, keysSchema.parse({}), 900);
    await keys.init();
    jwt = new Jwt(keys, broker().url);
  });
  const hint = (changes: Record<string, unknown>) => jwt.sign({ iss: broker().url, ...base, ...changes }, 'JWT');
  const logout = async (changes: Record<string, unknown>) =>
    fetch(`${broker().url}/logout?id_token_hint=${await hint(changes)}`, { redirect: 'manual' });

  it('accepts a well-formed (expired) hint at /logout', async () => {
    const res = await logout({});
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('You are signed out');
  });

  it.each([
    ['sub as a number', { sub: 42 }],
    ['sub as an array', { sub: ['u-1'] }],
    ['no sub', { sub: undefined }],
    ['aud as a number', { aud: 5 }],
    ['aud as an array of numbers', { aud: [5] }],
    ['no aud', { aud: undefined }],
  ])('with %s: /logout refuses it as not one of ours (RP-Initiated Logout §2)', async (_what, changes) => {
    const res = await logout(changes);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('id_token_hint is not an ID token issued by this server');
  });
});
