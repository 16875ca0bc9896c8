import * as oidc from 'openid-client';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { pkceAuthorization } from '../support/app-client.js';
import { CLIENTS, SECRETS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * Who may call /introspect and /revoke, and how: RFC 7662 §2.1 (the caller must authenticate),
 * RFC 7009 §2.1 (public clients may revoke their own tokens, nobody may revoke another's).
 */

const PUBLIC_REDIRECT = 'http://127.0.0.1:5004/cb';
const PUBLIC_CLIENT = { client_id: 'pub', redirect_uris: [PUBLIC_REDIRECT], first_party: true };
const JWT_KEY = await generateKeyPair('ES256');
const JWT_CLIENT = {
  client_id: 'jwt',
  token_endpoint_auth_method: 'private_key_jwt',
  jwks: { keys: [{ ...(await exportJWK(JWT_KEY.publicKey)), kid: 'k1', alg: 'ES256' }] },
  grant_types: ['client_credentials'],
  scope: 'api:read',
};

type Form = Record<string, string>;
interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> | undefined;
}

describe('client authentication at introspection and revocation', () => {
  const broker = useBroker('memory', { clients: [...CLIENTS, PUBLIC_CLIENT, JWT_CLIENT] });

  const discover = (clientId: string, auth: oidc.ClientAuth, secret?: string) =>
    oidc.discovery(new URL(broker().url), clientId, secret, auth, { execute: [oidc.allowInsecureRequests] });
  const web = () => discover('web', oidc.ClientSecretBasic(SECRETS.web), SECRETS.web);
  const pub = () => discover('pub', oidc.None());

  async function login(config: oidc.Configuration, redirect: string) {
    const { url, checks } = await pkceAuthorization(config, { redirect_uri: redirect, scope: 'openid offline_access' });
    const callback = await loginWithDev(new UserAgent(), url, { username: 'pat' });
    return oidc.authorizationCodeGrant(config, callback, checks);
  }

  /** A raw form POST: the answers openid-client would turn into exceptions are what is tested here. */
  async function post(path: string, form: Form, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${broker().url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
    const text = await res.text();
    const body = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
    return { status: res.status, headers: res.headers, body };
  }
  const basic = (id: string, secret: string) => ({
    authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
  });

  it('refuses a public client at /introspect, even with its own token (RFC 7662 §2.1)', async () => {
    const tokens = await login(await pub(), PUBLIC_REDIRECT);
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const answer = await post('/introspect', { token, client_id: 'pub' });
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ error: 'invalid_client' });
      expect(answer.body).not.toHaveProperty('active');
      // RFC 6749 §5.2: a 401 carries a WWW-Authenticate challenge.
      expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
  });

  it('lets a public client revoke its own refresh and access tokens (RFC 7009 §2.1)', async () => {
    const config = await pub();
    const tokens = await login(config, PUBLIC_REDIRECT);
    expect(await post('/revoke', { token: tokens.access_token, client_id: 'pub' })).toMatchObject({ status: 200 });
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const userinfo = await fetch(`${broker().url}/userinfo`, { headers: bearer });
    expect(userinfo.status).toBe(401);
    expect(await post('/revoke', { token: tokens.refresh_token!, client_id: 'pub' })).toMatchObject({ status: 200 });
    const refresh = oidc.refreshTokenGrant(config, tokens.refresh_token!);
    await expect(refresh).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it("refuses a public client revoking another client's tokens, and revokes nothing (RFC 7009 §2.1)", async () => {
    const webConfig = await web();
    const tokens = await login(webConfig, 'http://127.0.0.1:5000/cb');
    for (const token of [tokens.access_token, tokens.refresh_token!]) {
      const answer = await post('/revoke', { token, client_id: 'pub' });
      expect(answer).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
    }
    expect((await oidc.tokenIntrospection(webConfig, tokens.access_token)).active).toBe(true);
    expect((await oidc.tokenIntrospection(webConfig, tokens.refresh_token!)).active).toBe(true);
  });

  it('answers 200 for an unknown or malformed token; only a valid foreign one is refused (RFC 7009 §2.2)', async () => {
    for (const token of ['not-a-token', 'aaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cc']) {
      expect(await post('/revoke', { token, client_id: 'pub' })).toMatchObject({ status: 200 });
      expect(await post('/revoke', { token }, basic('web', SECRETS.web))).toMatchObject({ status: 200 });
    }
  });

  it('enforces exactly the auth methods discovery advertises for introspection and revocation', async () => {
    const discovery = await fetch(`${broker().url}/.well-known/openid-configuration`);
    const meta = (await discovery.json()) as Record<string, unknown>;
    // One request per method, each from a client registered for it (RFC 7591 §2 names these).
    type Request = { form: Form; headers?: Record<string, string> };
    const requests: Record<string, () => Request | Promise<Request>> = {
      client_secret_basic: () => ({ form: {}, headers: basic('web', SECRETS.web) }),
      client_secret_post: () => ({ form: { client_id: 'other', client_secret: SECRETS.other } }),
      none: () => ({ form: { client_id: 'pub' } }),
      private_key_jwt: async () => ({
        form: {
          client_id: 'jwt',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await new SignJWT({ jti: crypto.randomUUID() })
            .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
            .setIssuer('jwt')
            .setSubject('jwt')
            .setAudience(broker().config.issuer)
            .setExpirationTime('2m')
            .sign(JWT_KEY.privateKey),
        },
      }),
    };
    for (const endpoint of ['introspection', 'revocation']) {
      const advertised = meta[`${endpoint}_endpoint_auth_methods_supported`] as string[];
      expect(advertised.length).toBeGreaterThan(0);
      for (const method of advertised) expect(Object.keys(requests)).toContain(method);
      const url = new URL(meta[`${endpoint}_endpoint`] as string);
      for (const [method, request] of Object.entries(requests)) {
        const { form, headers } = await request();
        const answer = await post(url.pathname, { token: 'not-a-token', ...form }, headers);
        const expected = advertised.includes(method) ? 200 : 401;
        expect({ endpoint, method, status: answer.status }).toEqual({ endpoint, method, status: expected });
        if (expected === 401) expect(answer.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      }
    }
    expect(meta.introspection_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ]);
    const all = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];
    expect(meta.revocation_endpoint_auth_methods_supported).toEqual(all);
  });
});
