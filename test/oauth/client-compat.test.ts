import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { clientSchema } from '../../src/config/clients.js';
import { startApp, type RunningApp } from '../support/app.js';
import { BASE_CONFIG, CLIENTS, SECRETS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';

const CLASSIC_SECRET = 'classic-secret-0123456789abcdef';
const CLASSIC_REDIRECT = 'http://127.0.0.1:5004/cb';
/** A confidential client the way mod_auth_openidc and Authlib register: no PKCE, nothing pinned. */
const CLASSIC = {
  client_id: 'classic',
  client_secret: CLASSIC_SECRET,
  redirect_uris: [CLASSIC_REDIRECT],
  pkce: 'optional',
  first_party: true,
};
const ASCII_DESCRIPTION = /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/;
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

describe('compatibility with widely used clients', () => {
  const broker = useBroker('memory', { clients: [...CLIENTS, CLASSIC] });

  const authorizeUrl = (params: Record<string, string>) => {
    const url = new URL(`${broker().url}/authorize`);
    url.search = new URLSearchParams({ response_type: 'code', scope: 'openid', ...params }).toString();
    return url;
  };
  const login = (params: Record<string, string>) =>
    loginWithDev(new UserAgent(), authorizeUrl(params), { username: 'compat' });
  const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${broker().url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  const classicCode = async (extra: Record<string, string> = {}) => {
    const back = await login({ client_id: 'classic', redirect_uri: CLASSIC_REDIRECT, nonce: 'n-1', ...extra });
    const code = back.searchParams.get('code');
    expect(code, back.toString()).toBeTruthy();
    return code!;
  };
  const redeemClassic = (code: string, extra: Record<string, string> = {}) =>
    token(
      { grant_type: 'authorization_code', code, redirect_uri: CLASSIC_REDIRECT, ...extra },
      { authorization: basic('classic', CLASSIC_SECRET) },
    );

  describe('PKCE per client (RFC 9700 section 2.1.1, section 4.8.2)', () => {
    it('a pkce: required client without code_challenge is refused, in ASCII', async () => {
      const back = await login({ client_id: 'web', redirect_uri: 'http://127.0.0.1:5000/cb', nonce: 'n' });
      expect(back.searchParams.get('error')).toBe('invalid_request');
      const description = back.searchParams.get('error_description')!;
      expect(description).toMatch(ASCII_DESCRIPTION);
      // "§" used to become "'" ("RFC 9700 '2.1.1"): it is written out.
      expect(description).toContain('RFC 9700 section 2.1.1');
    });

    it('a pkce: optional client logs in without PKCE with a nonce, and the nonce is in the ID token', async () => {
      const code = await classicCode();
      const res = await redeemClassic(code);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { id_token: string };
      expect(decodeJwt(body.id_token).nonce).toBe('n-1');
    });

    it('without PKCE, asking openid without a nonce is invalid_request', async () => {
      const back = await login({ client_id: 'classic', redirect_uri: CLASSIC_REDIRECT, state: 's' });
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('error_description')).toContain('nonce is required');
      expect(back.searchParams.get('state')).toBe('s');
    });

    it('without PKCE and without openid, no nonce is needed', async () => {
      const back = await login({ client_id: 'classic', redirect_uri: CLASSIC_REDIRECT, scope: 'profile' });
      expect(back.searchParams.get('code')).toBeTruthy();
    });

    it('code_challenge_method without code_challenge is invalid_request', async () => {
      const back = await login({
        client_id: 'classic',
        redirect_uri: CLASSIC_REDIRECT,
        nonce: 'n',
        code_challenge_method: 'S256',
      });
      expect(back.searchParams.get('error')).toBe('invalid_request');
      expect(back.searchParams.get('error_description')).toContain('code_challenge_method');
    });

    it('a code issued without a challenge cannot be redeemed with a verifier (downgrade, section 4.8.2)', async () => {
      const code = await classicCode();
      const res = await redeemClassic(code, { code_verifier: oidc.randomPKCECodeVerifier() });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_grant');
      expect(body.error_description).toContain('without code_challenge');
    });

    it('a code issued with a challenge cannot be redeemed without its verifier, even by a pkce: optional client', async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const code = await classicCode({
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const res = await redeemClassic(code);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
    });

    it('a pkce: optional client that sends PKCE gets it checked', async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      const code = await classicCode({
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      expect((await redeemClassic(code, { code_verifier: verifier })).status).toBe(200);
    });

    it('config refuses pkce: optional on a public client', () => {
      const parsed = clientSchema.safeParse({
        client_id: 'p',
        redirect_uris: ['https://p.example/cb'],
        pkce: 'optional',
      });
      expect(parsed.success).toBe(false);
      expect(JSON.stringify(parsed.error?.issues)).toContain('only for a confidential client');
    });
  });

  describe('client authentication method (RFC 6749 section 2.3.1)', () => {
    const credentials = (id: string, secret: string) => ({
      grant_type: 'refresh_token',
      refresh_token: 'x',
      client_id: id,
      client_secret: secret,
    });

    it('an unpinned confidential client may use client_secret_basic and client_secret_post', async () => {
      const viaBasic = await token(
        { grant_type: 'refresh_token', refresh_token: 'x' },
        { authorization: basic('web', SECRETS.web) },
      );
      const viaPost = await token(credentials('web', SECRETS.web));
      // Authenticated both ways: the refresh token itself is what fails.
      for (const res of [viaBasic, viaPost]) {
        expect(res.status).toBe(400);
        expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
      }
      const wrong = await token(credentials('web', 'not-the-secret-0123456789'));
      expect(wrong.status).toBe(401);
    });

    it('a pinned method stays strict', async () => {
      const res = await token(
        { grant_type: 'refresh_token', refresh_token: 'x' },
        { authorization: basic('other', SECRETS.other) },
      );
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe('invalid_client');
      expect(body.error_description).toContain('client_secret_post');
    });

    it('a public client cannot authenticate with a secret', async () => {
      const res = await token(credentials('spa', 'whatever-0123456789abcdef'));
      expect(res.status).toBe(401);
    });
  });
});

describe('RFC 8414 section 3.1: metadata of an issuer with a path', () => {
  let nested: RunningApp;
  beforeAll(async () => {
    nested = await startApp((issuer) => ({ ...BASE_CONFIG, issuer: `${issuer}/auth` }));
  });
  afterAll(() => nested.close());

  it('is served at /.well-known/oauth-authorization-server/<path> as well as under the issuer', async () => {
    const inserted = await fetch(`${nested.url}/.well-known/oauth-authorization-server/auth`);
    expect(inserted.status).toBe(200);
    expect(inserted.headers.get('content-type')).toContain('application/json');
    const meta = (await inserted.json()) as { issuer: string; token_endpoint: string };
    expect(meta.issuer).toBe(`${nested.url}/auth`);
    expect(meta.token_endpoint).toBe(`${nested.url}/auth/token`);
    const appended = await fetch(`${nested.url}/auth/.well-known/oauth-authorization-server`);
    expect(await appended.json()).toEqual(meta);
    // Another path is not this issuer's; a wrong method is an API answer.
    expect((await fetch(`${nested.url}/.well-known/oauth-authorization-server/other`)).status).toBe(404);
    const put = await fetch(`${nested.url}/.well-known/oauth-authorization-server/auth`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('content-type')).toContain('application/json');
  });

  it('works with openid-client discovery of an OAuth 2.0 server', async () => {
    const config = await oidc.discovery(new URL(`${nested.url}/auth`), 'web', SECRETS.web, undefined, {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests],
    });
    expect(config.serverMetadata().issuer).toBe(`${nested.url}/auth`);
  });
});
