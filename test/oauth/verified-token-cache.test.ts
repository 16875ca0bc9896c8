import * as oidc from 'openid-client';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keysSchema } from '../../src/config/tokens.js';
import { setClock } from '../../src/lib/clock.js';
import { signedAccessToken } from '../../src/oauth/access-tokens.js';
import type { OAuthContext } from '../../src/oauth/context.js';
import { Jwt } from '../../src/oauth/jwt.js';
import { SigningKeys } from '../../src/oauth/keys.js';
import { MemoryStore } from '../../src/store/memory.js';
import { pkceAuthorization, webApp } from '../support/app-client.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * Access tokens this process already verified are remembered by their exact string
 * (src/oauth/access-tokens.ts): a hit skips the signature check, never the expiry, the key,
 * the revocation or the user checks.
 */
const ISSUER = 'http://127.0.0.1:4000';
const now = () => Math.floor(Date.now() / 1000);

describe('the verified access token cache', () => {
  let jwt: Jwt;
  let keys: SigningKeys;
  let published = true;
  let oauth: OAuthContext;
  const claims = () => ({
    iss: ISSUER,
    sub: 'u1',
    client_id: 'web',
    aud: 'web',
    scope: 'openid',
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + 60,
  });

  beforeAll(async () => {
    keys = new SigningKeys(new MemoryStore(), keysSchema.parse({}), 900);
    await keys.init();
    jwt = new Jwt(keys, ISSUER);
    const view = { byKid: (kid: string) => (published ? keys.byKid(kid) : undefined) };
    oauth = { jwt, keys: view } as unknown as OAuthContext;
  });
  afterEach(() => {
    setClock();
    published = true;
    vi.restoreAllMocks();
  });

  it('verifies a token once and answers the same claims from memory after', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    const verify = vi.spyOn(jwt, 'verifyNow');
    const first = await signedAccessToken(oauth, token);
    expect(first).toMatchObject({ sub: 'u1' });
    expect(await signedAccessToken(oauth, token)).toEqual(first);
    expect(verify).toHaveBeenCalledTimes(1);
    // The remembered claims are shared: nobody may change them.
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('never remembers a refused token: a bad one is checked, and refused, every time', async () => {
    const token = `${await jwt.sign(claims(), 'at+jwt')}x`;
    const verify = vi.spyOn(jwt, 'verifyNow');
    expect(await signedAccessToken(oauth, token)).toBeUndefined();
    expect(await signedAccessToken(oauth, token)).toBeUndefined();
    expect(verify).toHaveBeenCalledTimes(2);
  });

  it('refuses a remembered token once it has expired', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    expect(await signedAccessToken(oauth, token)).toBeDefined();
    const later = Date.now() + 61_000;
    setClock(() => later);
    expect(await signedAccessToken(oauth, token)).toBeUndefined();
  });

  it('refuses a remembered token once its key is no longer published', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    expect(await signedAccessToken(oauth, token)).toBeDefined();
    published = false;
    expect(await signedAccessToken(oauth, token)).toBeUndefined();
  });

  it('is per issuer: a token remembered by one broker is verified again by another', async () => {
    const token = await jwt.sign(claims(), 'at+jwt');
    expect(await signedAccessToken(oauth, token)).toBeDefined();
    const otherKeys = new SigningKeys(new MemoryStore(), keysSchema.parse({}), 900);
    await otherKeys.init();
    const other = { jwt: new Jwt(otherKeys, ISSUER), keys: otherKeys } as unknown as OAuthContext;
    expect(await signedAccessToken(other, token)).toBeUndefined();
  });
});

describe.each(STORE_KINDS)('revocation wins over the verified token cache (%s store)', (kind) => {
  const broker = useBroker(kind);
  const post = (path: string, body: Record<string, string>) =>
    fetch(`${broker().url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: new URLSearchParams(body).toString(),
    });
  const introspect = async (token: string) =>
    ((await (await post('/introspect', { token })).json()) as { active: boolean }).active;
  const userinfo = async (token: string) =>
    (await fetch(`${broker().url}/userinfo`, { headers: { authorization: `Bearer ${token}` } })).status;

  async function login() {
    const config = await webApp(broker().url);
    const { url, checks } = await pkceAuthorization(config, {
      redirect_uri: 'http://127.0.0.1:5000/cb',
      scope: 'openid email offline_access',
      prompt: 'consent',
    });
    const callback = await loginWithDev(new UserAgent(), url, { username: 'rhea', email: 'rhea@example.org' });
    return oidc.authorizationCodeGrant(config, callback, checks);
  }

  it('an access token introspected and used, then revoked, is inactive and refused at once (RFC 7009 §2.1)', async () => {
    const tokens = await login();
    expect(await introspect(tokens.access_token)).toBe(true);
    expect(await userinfo(tokens.access_token)).toBe(200);
    expect((await post('/revoke', { token: tokens.access_token })).status).toBe(200);
    expect(await introspect(tokens.access_token)).toBe(false);
    expect(await userinfo(tokens.access_token)).toBe(401);
  });

  it('revoking the refresh token makes its grant’s remembered access token inactive', async () => {
    const tokens = await login();
    expect(tokens.refresh_token).toBeDefined();
    expect(await introspect(tokens.access_token)).toBe(true);
    expect((await post('/revoke', { token: tokens.refresh_token! })).status).toBe(200);
    expect(await introspect(tokens.access_token)).toBe(false);
    expect(await userinfo(tokens.access_token)).toBe(401);
  });
});
