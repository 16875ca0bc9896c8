import { createHmac, generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { providersSchema, type ProviderEntry } from '../../src/config/providers.js';
import { parseDefinition, type Definition } from '../../src/upstream/definition.js';
import { appleClientSecret, appleClientSecretQuirk } from '../../src/upstream/quirks/apple-client-secret.js';
import { appleFormPost } from '../../src/upstream/quirks/apple-form-post.js';
import { entraTenantIssuer } from '../../src/upstream/quirks/entra-tenant-issuer.js';
import { appsecretProof, facebookAppsecretProof } from '../../src/upstream/quirks/facebook-appsecret-proof.js';
import { github200Errors } from '../../src/upstream/quirks/github-200-errors.js';
import { githubEmails } from '../../src/upstream/quirks/github-emails.js';
import { slackOkFalse } from '../../src/upstream/quirks/slack-ok-false.js';
import { twitchScopeArray } from '../../src/upstream/quirks/twitch-scope-array.js';
import { dropboxRpcPost } from '../../src/upstream/quirks/dropbox-rpc-post.js';
import { kakaoEmailValid } from '../../src/upstream/quirks/kakao-email-valid.js';
import { naver200Errors } from '../../src/upstream/quirks/naver-200-errors.js';
import { notionJsonToken } from '../../src/upstream/quirks/notion-json-token.js';
import { tiktokClientKey } from '../../src/upstream/quirks/tiktok-client-key.js';
import { vkId } from '../../src/upstream/quirks/vk-id.js';
import type { EnrichInput } from '../../src/upstream/quirks/types.js';
import type { UpstreamIdentity } from '../../src/upstream/types.js';

function entry(extra: Record<string, unknown> = {}): ProviderEntry {
  return providersSchema.parse([{ id: 'p', use: 'p', client_id: 'cid', client_secret: 's3cret', ...extra }])[0]!;
}
const oauth2 = (extra: Record<string, unknown> = {}): Definition =>
  parseDefinition('t', {
    name: 'T',
    kind: 'oauth2',
    issuer: 'https://t.example',
    authorization_endpoint: 'https://t.example/a',
    token_endpoint: 'https://t.example/t',
    scopes: ['x'],
    profile: { url: 'https://api.t.example/user' },
    mapping: { subject: 'id' },
    ...extra,
  });
const identity = (): UpstreamIdentity => ({
  provider: 'p',
  issuer: 'https://t.example',
  subject: '1',
  email: 'public@example.com',
  email_verified: false,
  raw: {},
});
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

function enrichInput(
  id: UpstreamIdentity,
  answers: Record<string, unknown>,
  params = new URLSearchParams(),
): EnrichInput {
  return { identity: id, entry: entry(), definition: oauth2(), params, api: async (url) => answers[url] };
}

describe('github-emails', () => {
  it('takes the verified primary address only', async () => {
    const id = identity();
    await githubEmails.enrich!(
      enrichInput(id, {
        'https://api.t.example/user/emails': [
          { email: 'a@x.com', primary: false, verified: true },
          { email: 'p@x.com', primary: true, verified: true },
        ],
      }),
    );
    expect(id).toMatchObject({ email: 'p@x.com', email_verified: true });
  });
  it('an unverified primary gives no email at all (not the public one, not a secondary)', async () => {
    const id = identity();
    await githubEmails.enrich!(
      enrichInput(id, {
        'https://api.t.example/user/emails': [
          { email: 'p@x.com', primary: true, verified: false },
          { email: 'a@x.com', primary: false, verified: true },
        ],
      }),
    );
    expect(id.email).toBeUndefined();
    expect(id.email_verified).toBe(false);
  });
  it('verified as a string does not count; a non-list answer gives nothing', async () => {
    const id = identity();
    await githubEmails.enrich!(
      enrichInput(id, { 'https://api.t.example/user/emails': [{ email: 'p@x.com', primary: true, verified: 'true' }] }),
    );
    expect(id.email_verified).toBe(false);
    const id2 = identity();
    await githubEmails.enrich!(enrichInput(id2, { 'https://api.t.example/user/emails': { message: 'Not Found' } }));
    expect(id2.email).toBeUndefined();
  });
});

describe('github-200-errors', () => {
  it('turns a 200 with {error} into a 400 with the same body', async () => {
    const out = await github200Errors.tokenResponse!(
      json({ error: 'bad_verification_code', error_description: 'expired' }),
    );
    expect(out.status).toBe(400);
    expect(await out.json()).toEqual({ error: 'bad_verification_code', error_description: 'expired' });
  });
  it('leaves a good answer and other statuses alone', async () => {
    const good = json({ access_token: 'x', token_type: 'bearer' });
    expect(await github200Errors.tokenResponse!(good)).toBe(good);
    const down = json({ message: 'x' }, 502);
    expect(await github200Errors.tokenResponse!(down)).toBe(down);
  });
});

describe('slack-ok-false', () => {
  it('turns {ok:false} into a 400 invalid_* error', async () => {
    const out = await slackOkFalse.tokenResponse!(json({ ok: false, error: 'invalid_code' }));
    expect(out.status).toBe(400);
    expect(await out.json()).toEqual({ error: 'invalid_code' });
  });
  it('leaves {ok:true} alone', async () => {
    const ok = json({ ok: true, access_token: 'x' });
    expect(await slackOkFalse.apiResponse!(ok)).toBe(ok);
  });
});

describe('facebook-appsecret-proof', () => {
  it('is the hex HMAC-SHA256 of the token keyed with the app secret', () => {
    expect(appsecretProof('token', 'secret')).toBe(createHmac('sha256', 'secret').update('token').digest('hex'));
    const url = new URL('https://graph.facebook.com/v25.0/me?fields=id');
    facebookAppsecretProof.apiUrl!(url, 'token', entry());
    expect(url.searchParams.get('appsecret_proof')).toBe(appsecretProof('token', 's3cret'));
  });
  it('requires a pinned Graph version and the explicit fields', () => {
    expect(
      facebookAppsecretProof.check!(
        entry(),
        oauth2({
          profile: {
            url: 'https://graph.facebook.com/v25.0/me',
            query: { fields: 'id,name,email,first_name,last_name,picture' },
          },
        }),
      ),
    ).toEqual([]);
    expect(
      facebookAppsecretProof.check!(
        entry(),
        oauth2({ profile: { url: 'https://graph.facebook.com/me', query: { fields: 'id,name' } } }),
      ).join(' '),
    ).toMatch(/version.*fields must list email, first_name, last_name, picture/s);
  });
});

describe('apple-client-secret', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
  const apple = { team_id: 'TEAM', key_id: 'KID', private_key: key };
  it('mints an ES256 JWT: kid, iss = team, sub = client_id, aud = appleid, short exp; reused while fresh', async () => {
    const e = entry({ apple });
    const now = Math.floor(Date.now() / 1000);
    const secret = await appleClientSecret(e, now);
    expect(decodeProtectedHeader(secret)).toEqual({ alg: 'ES256', kid: 'KID' });
    const claims = decodeJwt(secret);
    expect(claims).toMatchObject({ iss: 'TEAM', sub: 'cid', aud: 'https://appleid.apple.com', iat: now });
    expect(claims.exp! - now).toBeLessThanOrEqual(15_777_000);
    expect(await appleClientSecret(e, now + 60)).toBe(secret);
    expect(await appleClientSecret(e, claims.exp! - 60)).not.toBe(secret);
  });
  it('needs the apple key block', () => {
    expect(appleClientSecretQuirk.check!(entry(), oauth2())).toHaveLength(1);
    expect(appleClientSecretQuirk.check!(entry({ apple }), oauth2())).toEqual([]);
  });
});

describe('apple-form-post', () => {
  it('asks for form_post and takes the first-login name from the user field, never the email', async () => {
    expect(appleFormPost.authorizationParams!(entry())).toEqual({ response_mode: 'form_post' });
    const id = identity();
    delete id.email;
    await appleFormPost.enrich!(
      enrichInput(
        id,
        {},
        new URLSearchParams({
          user: JSON.stringify({ name: { firstName: 'Ana', lastName: 'Li' }, email: 'attacker@evil.example' }),
        }),
      ),
    );
    expect(id).toMatchObject({ given_name: 'Ana', family_name: 'Li', name: 'Ana Li' });
    expect(id.email).toBeUndefined();
  });
  it('ignores a malformed user field', async () => {
    const id = identity();
    await appleFormPost.enrich!(enrichInput(id, {}, new URLSearchParams({ user: '{not json' })));
    expect(id.name).toBeUndefined();
  });
});

describe('entra-tenant-issuer', () => {
  const tid = '72f988bf-86f1-41af-91ab-2d7cd011db47';
  const claims = (extra: Record<string, unknown> = {}) => ({
    tid,
    oid: 'o-1',
    iss: `https://login.microsoftonline.com/${tid}/v2.0`,
    ...extra,
  });
  it('accepts an allowed tenant whose issuer carries its tid', () => {
    expect(entraTenantIssuer.checkClaims!(claims(), entry({ allowed_tenants: [tid] }), oauth2())).toBeUndefined();
  });
  it('rejects a tenant outside the allowlist (L-12)', () => {
    expect(
      entraTenantIssuer.checkClaims!(
        claims({
          tid: '9188040d-6c67-4c5b-b112-36a304b66dad',
          iss: 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0',
        }),
        entry({ allowed_tenants: [tid] }),
        oauth2(),
      ),
    ).toMatch(/not allowed/);
  });
  it('rejects an issuer that is not the template with this tid', () => {
    expect(
      entraTenantIssuer.checkClaims!(
        claims({ iss: 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0' }),
        entry({ allowed_tenants: [tid] }),
        oauth2(),
      ),
    ).toMatch(/issuer/);
  });
  it('a single-tenant deployment allows that tenant; common needs an allowlist at start', () => {
    expect(entraTenantIssuer.checkClaims!(claims(), entry({ tenant: tid }), oauth2())).toBeUndefined();
    expect(entraTenantIssuer.check!(entry({ tenant: 'common' }), oauth2())).toHaveLength(1);
    expect(entraTenantIssuer.check!(entry({ tenant: tid }), oauth2())).toEqual([]);
  });
});

describe('twitch-scope-array', () => {
  it('joins an array scope into the RFC 6749 §3.3 string, keeping the rest', async () => {
    const out = await twitchScopeArray.tokenResponse!(
      json({ access_token: 'a', token_type: 'bearer', scope: ['user:read:email', 'chat:read'] }),
    );
    expect(await out.json()).toEqual({ access_token: 'a', token_type: 'bearer', scope: 'user:read:email chat:read' });
  });
  it('leaves a string scope and errors alone', async () => {
    const ok = json({ access_token: 'a', scope: 'x' });
    expect(await twitchScopeArray.tokenResponse!(ok)).toBe(ok);
    const bad = json({ error: 'invalid_grant' }, 400);
    expect(await twitchScopeArray.tokenResponse!(bad)).toBe(bad);
  });
});

describe('dropbox-rpc-post', () => {
  it('makes the API call a POST without a body (the token stays in the header)', () => {
    const url = new URL('https://api.dropboxapi.com/2/users/get_current_account');
    expect(dropboxRpcPost.apiRequest!(url, 'at', entry())).toEqual({ method: 'POST' });
  });
});

describe('vk-id', () => {
  it('repeats the callback device_id and state at the token endpoint, and nothing else', () => {
    const callback = new URLSearchParams({ code: 'c', state: 's', device_id: 'dev-1', type: 'code_v2' });
    expect(vkId.tokenParams!(callback, entry())).toEqual({ device_id: 'dev-1', state: 's' });
    expect(vkId.tokenParams!(new URLSearchParams({ code: 'c' }), entry())).toEqual({});
  });
  it('posts client_id and the access token as a form to user_info (RFC 6750 §2.2)', () => {
    const request = vkId.apiRequest!(new URL('https://id.vk.com/oauth2/user_info'), 'at-1', entry());
    expect(request?.method).toBe('POST');
    expect(Object.fromEntries(request!.body!)).toEqual({ client_id: 'cid', access_token: 'at-1' });
  });
  it('drops the id_token from a good token answer, keeps the rest; leaves errors alone', async () => {
    const answer = json({ access_token: 'a', token_type: 'Bearer', id_token: 'x.y.z', user_id: 1 });
    const out = await vkId.tokenResponse!(answer);
    expect(await out.json()).toEqual({ access_token: 'a', token_type: 'Bearer', user_id: 1 });
    const bad = json({ error: 'invalid_grant', id_token: 'x' }, 400);
    expect(await vkId.tokenResponse!(bad)).toBe(bad);
    const plain = json({ access_token: 'a' });
    expect(await vkId.tokenResponse!(plain)).toBe(plain);
  });
});

describe('notion-json-token', () => {
  it('sends the form parameters as a JSON body, keeping the other headers', () => {
    const form = { grant_type: 'authorization_code', code: 'c', redirect_uri: 'https://b/cb' };
    const init = notionJsonToken.tokenRequest!({
      method: 'POST',
      headers: { authorization: 'Basic x', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
    });
    const headers = new Headers(init.headers);
    expect(headers.get('content-type')).toBe('application/json');
    expect(headers.get('authorization')).toBe('Basic x');
    expect(JSON.parse(init.body as string)).toEqual(form);
  });
  it('leaves a body that is not a form alone', () => {
    const init = { method: 'POST', body: '{}' };
    expect(notionJsonToken.tokenRequest!(init)).toBe(init);
  });
});

describe('tiktok-client-key', () => {
  it('names the client client_key in the authorization and token requests', () => {
    expect(tiktokClientKey.authorizationParams!(entry())).toEqual({ client_key: 'cid' });
    expect(tiktokClientKey.tokenParams!(new URLSearchParams(), entry())).toEqual({ client_key: 'cid' });
  });
});

describe('kakao-email-valid', () => {
  const kakao = (account: Record<string, unknown>): UpstreamIdentity => ({
    ...identity(),
    email_verified: true,
    raw: { profile: { id: 1, kakao_account: account } },
  });
  it('keeps verified only while is_email_valid is true', async () => {
    const valid = kakao({ is_email_valid: true, is_email_verified: true });
    await kakaoEmailValid.enrich!(enrichInput(valid, {}));
    expect(valid.email_verified).toBe(true);
    for (const flag of [false, 'true', undefined]) {
      const id = kakao({ is_email_valid: flag, is_email_verified: true });
      await kakaoEmailValid.enrich!(enrichInput(id, {}));
      expect(id.email_verified, String(flag)).toBe(false);
    }
  });
});

describe('naver-200-errors', () => {
  it('turns a 200 with {error} into a 400 with the same body; leaves a token alone', async () => {
    const error = { error: 'invalid_request', error_description: 'no valid data in session' };
    const out = await naver200Errors.tokenResponse!(json(error));
    expect(out.status).toBe(400);
    expect(await out.json()).toEqual(error);
    const good = json({ access_token: 'x', token_type: 'bearer' });
    expect(await naver200Errors.tokenResponse!(good)).toBe(good);
  });
});
