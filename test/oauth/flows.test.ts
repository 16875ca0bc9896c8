import * as oidc from 'openid-client';
import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { loginWithDev } from '../support/dev-login.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { location, UserAgent } from '../support/user-agent.js';
import { pkceAuthorization } from '../support/app-client.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';

for (const kind of STORE_KINDS) {
  describe(`openid-client as the app, ${kind} store`, () => {
    const broker = useBroker(kind);

    // openid-client defaults to client_secret_post; our confidential clients register basic.
    const discover = (clientId = 'web', secret: string | undefined = SECRETS.web, auth?: oidc.ClientAuth) =>
      oidc.discovery(
        new URL(broker().url),
        clientId,
        secret,
        auth ?? (secret ? oidc.ClientSecretBasic(secret) : oidc.None()),
        {
          execute: [oidc.allowInsecureRequests],
        },
      );

    /** A complete code + PKCE login as the app; returns the tokens and what the app saw. */
    async function codeLogin(
      config: oidc.Configuration,
      ua = new UserAgent(),
      scope = 'openid profile email offline_access',
      user = 'alice',
    ) {
      const { url, verifier, state, nonce } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope });
      const callback = await loginWithDev(ua, url, {
        username: user,
        name: 'Alice Liddell',
        email: `${user}@example.org`,
        email_verified: true,
      });
      expect(callback.origin + callback.pathname).toBe(REDIRECT);
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      return { tokens, callback, ua, state, nonce };
    }

    it('discovery advertises the contract (issuer byte-equal, iss parameter, S256 only)', async () => {
      const config = await discover();
      const meta = config.serverMetadata();
      expect(meta.issuer).toBe(broker().url);
      expect(meta.authorization_response_iss_parameter_supported).toBe(true);
      expect(meta.code_challenge_methods_supported).toEqual(['S256']);
      expect(meta.token_endpoint_auth_methods_supported).toEqual([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
        'none',
      ]);
      expect(meta.token_endpoint_auth_signing_alg_values_supported).toEqual([
        'RS256',
        'PS256',
        'ES256',
        'EdDSA',
        'Ed25519',
      ]);
      // Legacy grants are advertised only when enabled: no password source here.
      expect(meta.grant_types_supported).toEqual([
        'authorization_code',
        'refresh_token',
        'client_credentials',
        'implicit',
      ]);
      for (const endpoint of ['authorization', 'token', 'userinfo', 'introspection', 'revocation', 'end_session']) {
        expect(meta[`${endpoint}_endpoint` as keyof typeof meta]).toMatch(new RegExp(`^${broker().url}/`));
      }
      const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Record<string, unknown>[] };
      expect(jwks.keys.length).toBeGreaterThan(0);
      for (const key of jwks.keys) {
        expect(key).toMatchObject({ kid: expect.any(String), alg: 'RS256', use: 'sig' });
        expect(key).not.toHaveProperty('d');
        expect(key).not.toHaveProperty('p');
      }
    });

    it('runs code + PKCE with state and nonce, validates the ID token, and reads userinfo', async () => {
      const config = await discover();
      const { tokens, callback, state, nonce } = await codeLogin(config);
      // RFC 9207: the response carries iss, byte-equal to the issuer; state echoed exactly.
      expect(callback.searchParams.get('iss')).toBe(broker().url);
      expect(callback.searchParams.get('state')).toBe(state);
      const claims = tokens.claims()!;
      expect(claims.iss).toBe(broker().url);
      expect(claims.aud).toBe('web');
      expect(claims.azp).toBe('web');
      expect(claims.nonce).toBe(nonce);
      expect(claims.auth_time).toEqual(expect.any(Number));
      expect(claims.sid).toEqual(expect.any(String));
      expect(claims.at_hash).toEqual(expect.any(String));
      expect(claims.email).toBe('alice@example.org');
      expect(claims.email_verified).toBe(true);
      // sub is the broker's own opaque id, never the upstream username or email.
      expect(claims.sub).not.toContain('alice');
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.refresh_token).toEqual(expect.any(String));
      expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');
      const at = decodeJwt(tokens.access_token);
      expect(at).toMatchObject({
        iss: broker().url,
        aud: 'web',
        client_id: 'web',
        sub: claims.sub,
        scope: 'openid profile email offline_access',
      });
      expect(at.exp! - at.iat!).toBe(600);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      expect(info).toMatchObject({
        sub: claims.sub,
        name: 'Alice Liddell',
        email: 'alice@example.org',
        email_verified: true,
      });
    });

    it('gives the same user the same sub at the next login', async () => {
      const config = await discover();
      const first = await codeLogin(config, new UserAgent(), 'openid', 'bob');
      const second = await codeLogin(config, new UserAgent(), 'openid', 'bob');
      expect(second.tokens.claims()!.sub).toBe(first.tokens.claims()!.sub);
      const carol = await codeLogin(config, new UserAgent(), 'openid', 'carol');
      expect(carol.tokens.claims()!.sub).not.toBe(first.tokens.claims()!.sub);
    });

    it('refreshes with rotation, keeps the ID token claims (OIDC Core §12.2), and detects reuse', async () => {
      const config = await discover();
      const { tokens } = await codeLogin(config);
      const first = tokens.claims()!;
      const rt1 = tokens.refresh_token!;
      const refreshed = await oidc.refreshTokenGrant(config, rt1);
      const rt2 = refreshed.refresh_token!;
      expect(rt2).not.toBe(rt1);
      const again = refreshed.claims()!;
      expect(again).toMatchObject({ iss: first.iss, sub: first.sub, aud: first.aud, auth_time: first.auth_time });
      expect(again.nonce).toBeUndefined();
      // Narrower scope is fine; the access token carries it.
      const narrow = await oidc.refreshTokenGrant(config, rt2, { scope: 'openid' });
      expect(decodeJwt(narrow.access_token).scope).toBe('openid');
      const rt3 = narrow.refresh_token!;
      // Reusing rt1 (already rotated) revokes the family: rt3 dies too.
      await expect(oidc.refreshTokenGrant(config, rt1)).rejects.toMatchObject({ error: 'invalid_grant' });
      await expect(oidc.refreshTokenGrant(config, rt3)).rejects.toMatchObject({ error: 'invalid_grant' });
      const introspected = await oidc.tokenIntrospection(config, narrow.access_token);
      expect(introspected.active).toBe(false);
    });

    it('refuses a broader scope at refresh with invalid_scope (RFC 6749 §6)', async () => {
      const config = await discover();
      const { tokens } = await codeLogin(config, new UserAgent(), 'openid offline_access');
      await expect(
        oidc.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'openid email' }),
      ).rejects.toMatchObject({ error: 'invalid_scope' });
    });

    it('introspects and revokes (RFC 7662, RFC 7009)', async () => {
      const config = await discover();
      const { tokens } = await codeLogin(config);
      const active = await oidc.tokenIntrospection(config, tokens.access_token);
      expect(active).toMatchObject({ active: true, client_id: 'web', sub: tokens.claims()!.sub, token_type: 'Bearer' });
      const rt = await oidc.tokenIntrospection(config, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
      expect(rt).toMatchObject({ active: true, token_type: 'refresh_token' });
      // Revoking the refresh token kills the grant's access tokens too (RFC 7009 §2.1).
      await oidc.tokenRevocation(config, tokens.refresh_token!);
      expect((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
      await expect(oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).rejects.toThrow();
    });

    it('revokes a single access token at once', async () => {
      const config = await discover();
      const { tokens } = await codeLogin(config, new UserAgent(), 'openid');
      await oidc.tokenRevocation(config, tokens.access_token);
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
      const res = await fetch(`${broker().url}/userinfo`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });

    it(
      'answers another client introspecting a foreign token with active:false, and refuses its ' + 'revocation',
      async () => {
        const web = await discover();
        const { tokens } = await codeLogin(web, new UserAgent(), 'openid');
        const other = await discover('other', SECRETS.other, oidc.ClientSecretPost(SECRETS.other));
        expect((await oidc.tokenIntrospection(other, tokens.access_token)).active).toBe(false);
        // Revoking someone else's token is refused and revokes nothing (RFC 7009 §2.1).
        await expect(oidc.tokenRevocation(other, tokens.access_token)).rejects.toMatchObject({
          error: 'unauthorized_client',
        });
        expect((await oidc.tokenIntrospection(web, tokens.access_token)).active).toBe(true);
      },
    );

    it('logs out with id_token_hint and an exact post_logout_redirect_uri, revoking the session tokens', async () => {
      const config = await discover();
      const { tokens, ua } = await codeLogin(config, new UserAgent(), 'openid');
      const url = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'http://127.0.0.1:5000/',
        state: 'bye-1',
      });
      const res = await ua.get(url);
      expect(res.status).toBe(303);
      expect(location(res).toString()).toBe('http://127.0.0.1:5000/?state=bye-1');
      // The session is gone: prompt=none now answers login_required.
      const verifier = oidc.randomPKCECodeVerifier();
      const silent = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        prompt: 'none',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const after = location(await ua.get(silent));
      expect(after.searchParams.get('error')).toBe('login_required');
      expect(after.searchParams.get('iss')).toBe(broker().url);
      // Non-offline refresh tokens of the session died with it.
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });
    });

    it('keeps offline_access refresh tokens across logout (OIDC Core §11)', async () => {
      const config = await discover();
      const { tokens, ua } = await codeLogin(config);
      const url = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'http://127.0.0.1:5000/',
      });
      expect((await ua.get(url)).status).toBe(303);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token).toEqual(expect.any(String));
    });

    it('signs in a second app from the SSO session without the login page', async () => {
      const web = await discover();
      const { ua, tokens } = await codeLogin(web);
      const other = await discover('other', SECRETS.other, oidc.ClientSecretPost(SECRETS.other));
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(other, {
        redirect_uri: 'http://127.0.0.1:5002/cb',
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const res = await ua.get(url);
      expect(res.status).toBe(303);
      const callback = location(res);
      expect(callback.origin + callback.pathname).toBe('http://127.0.0.1:5002/cb');
      const second = await oidc.authorizationCodeGrant(other, callback, {
        pkceCodeVerifier: verifier,
        idTokenExpected: true,
      });
      expect(second.claims()!.sub).toBe(tokens.claims()!.sub);
      expect(second.claims()!.sid).toBe(tokens.claims()!.sid);
    });

    it('issues client_credentials tokens for the client itself, with no refresh or ID token', async () => {
      const config = await discover('machine', SECRETS.machine);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read', resource: 'https://api.example/' });
      expect(tokens.refresh_token).toBeUndefined();
      expect(tokens.id_token).toBeUndefined();
      const at = decodeJwt(tokens.access_token);
      expect(at).toMatchObject({
        sub: 'machine',
        client_id: 'machine',
        scope: 'api:read',
        aud: 'https://api.example/',
      });
      expect(at.auth_time).toBeUndefined();
      const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
      expect(introspected).toMatchObject({ active: true, sub: 'machine' });
      await expect(oidc.clientCredentialsGrant(config, { scope: 'openid' })).rejects.toMatchObject({
        error: 'invalid_scope',
      });
      await expect(
        oidc.clientCredentialsGrant(config, { resource: 'https://elsewhere.example/' }),
      ).rejects.toMatchObject({ error: 'invalid_target' });
    });

    it('runs implicit (id_token) for an opted-in client, validated by openid-client', async () => {
      const config = await oidc.discovery(
        new URL(broker().url),
        'legacy',
        SECRETS.legacy,
        oidc.ClientSecretBasic(SECRETS.legacy),
        { execute: [oidc.allowInsecureRequests, oidc.useIdTokenResponseType] },
      );
      const nonce = oidc.randomNonce();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:5003/cb',
        response_type: 'id_token',
        scope: 'openid email',
        nonce,
        state,
      });
      const callback = await loginWithDev(new UserAgent(), url, { username: 'dora', email: 'dora@example.org' });
      expect(callback.search).toBe('');
      const idToken = await oidc.implicitAuthentication(config, callback, nonce, { expectedState: state });
      expect(idToken.nonce).toBe(nonce);
      expect(idToken.email_verified).toBe(false);
      expect(new URLSearchParams(callback.hash.slice(1)).get('access_token')).toBeNull();
    });

    it('runs implicit (id_token token): tokens only in the fragment, at_hash, no refresh token', async () => {
      const nonce = `n-${oidc.randomNonce()}`;
      const url = new URL(`${broker().url}/authorize`);
      url.search = new URLSearchParams({
        client_id: 'legacy',
        redirect_uri: 'http://127.0.0.1:5003/cb',
        response_type: 'id_token token',
        scope: 'openid',
        nonce,
        state: 'st',
      }).toString();
      const callback = await loginWithDev(new UserAgent(), url, { username: 'dora' });
      expect(callback.search).toBe('');
      const fragment = new URLSearchParams(callback.hash.slice(1));
      expect(fragment.get('iss')).toBe(broker().url);
      expect(fragment.get('state')).toBe('st');
      expect(fragment.get('refresh_token')).toBeNull();
      expect(fragment.get('token_type')).toBe('Bearer');
      const accessToken = fragment.get('access_token')!;
      const jwks = createRemoteJWKSet(new URL(`${broker().url}/jwks`));
      const { payload } = await jwtVerify(fragment.get('id_token')!, jwks, {
        issuer: broker().url,
        audience: 'legacy',
      });
      expect(payload.nonce).toBe(nonce);
      // OIDC Core §3.2.2.9: at_hash is the left half of SHA-256 of the access token.
      const digest = createHash('sha256').update(accessToken).digest();
      expect(payload.at_hash).toBe(digest.subarray(0, 16).toString('base64url'));
    });

    it('refuses implicit for a client that did not opt in', async () => {
      const url = new URL(`${broker().url}/authorize`);
      url.search = new URLSearchParams({
        client_id: 'web',
        redirect_uri: REDIRECT,
        response_type: 'id_token',
        scope: 'openid',
        nonce: 'n',
        state: 's1',
      }).toString();
      const res = await new UserAgent().get(url);
      const back = location(res);
      const fragment = new URLSearchParams(back.hash.slice(1));
      expect(fragment.get('error')).toBe('unauthorized_client');
      expect(fragment.get('state')).toBe('s1');
      expect(fragment.get('iss')).toBe(broker().url);
    });
  });
}
