import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { importSPKI, jwtVerify } from 'jose';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nowS, signingKey, startHarness, type SigningKey } from './harness.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * Every shipped provider file, through the real login path (begin → provider → callback →
 * code exchange → profile → mapping), with nock answering as the provider documents.
 * Fixtures: test/fixtures/providers/<provider>/<scenario>.json.
 */

interface Scenario {
  entry?: Record<string, unknown>;
  id_token_claims?: Record<string, unknown>;
  token?: Record<string, unknown>;
  token_status?: number;
  profile?: unknown;
  profile_raw?: string;
  profile_status?: number;
  emails?: unknown;
  form_user?: unknown;
  iss_param?: boolean;
  callback_error?: Record<string, string>;
  /** More parameters on the provider's successful answer (VK ID's device_id). */
  callback_params?: Record<string, string>;
  /** oidc: a userinfo answer (the discovery document then names a userinfo endpoint). */
  userinfo?: Record<string, unknown>;
  /** The profile request's method when it is not GET (RPC-style APIs). */
  profile_method?: 'POST';
  expect_profile_body?: Record<string, string>;
  expect_auth_params?: Record<string, string>;
  expect_token_params?: Record<string, string>;
  /** The token request's media type, when not a form (Notion documents JSON). */
  expect_token_content_type?: string;
  expected?: Record<string, unknown>;
  expected_absent?: string[];
  expect_fail?: string;
  fail_description_contains?: string;
  expect_no_token_call?: boolean;
  expect_profile_header?: Record<string, string>;
}

const FIXTURES = new URL('../fixtures/providers/', import.meta.url);
const PROVIDERS = new URL('../../providers/', import.meta.url);
const shipped = readdirSync(PROVIDERS)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -5))
  .sort();

const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const APPLE = {
  team_id: 'TEAM123456',
  key_id: 'KEY1234567',
  private_key: appleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};

let key: SigningKey;
beforeAll(async () => {
  key = await signingKey();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

function scenarios(provider: string): [string, Scenario][] {
  let files: string[] = [];
  try {
    files = readdirSync(new URL(`${provider}/`, FIXTURES)).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  return files.map((f) => [
    f.slice(0, -5),
    JSON.parse(readFileSync(new URL(`${provider}/${f}`, FIXTURES), 'utf8')) as Scenario,
  ]);
}

function origin(url: string): string {
  return new URL(url).origin;
}
function pathOf(url: string): string {
  return new URL(url).pathname;
}

describe('provider files', () => {
  it('ships at least 35 providers, each with fixtures', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(35);
    for (const name of shipped) expect(scenarios(name).length, name).toBeGreaterThan(0);
  });

  for (const provider of shipped) {
    describe(provider, () => {
      for (const [name, scenario] of scenarios(provider)) {
        it(name, async () => {
          const entry = {
            id: provider,
            use: provider,
            client_id: 'cid',
            client_secret: 'app-secret',
            ...(provider === 'apple' ? { apple: APPLE } : {}),
            ...(scenario.entry ?? {}),
          };
          // null in a fixture's entry removes the key (a public client has no secret).
          for (const [k, v] of Object.entries(entry)) if (v === null) delete (entry as Record<string, unknown>)[k];
          const h = await startHarness([entry]);
          try {
            await run(h, provider, scenario);
          } finally {
            await h.close();
          }
        });
      }
    });
  }
});

async function run(h: Awaited<ReturnType<typeof startHarness>>, provider: string, scenario: Scenario): Promise<void> {
  const p = h.upstream.providers.get(provider)!;
  const def = p.definition;
  const oidc = def.kind === 'oidc';

  // The provider's endpoints: oidc ones come from a discovery document served at the issuer.
  let authorizationEndpoint = def.authorization_endpoint!;
  let tokenEndpoint = def.token_endpoint!;
  let expectedIss = def.issuer!;
  if (oidc) {
    const issuer = def.issuer!;
    const base = issuer.replace(/\/$/, '');
    authorizationEndpoint = `${base}/authorize`;
    tokenEndpoint = `${base}/token`;
    const entra = provider === 'microsoft';
    const discoveryIssuer = entra ? 'https://login.microsoftonline.com/{tenantid}/v2.0' : issuer;
    if (entra) expectedIss = `https://login.microsoftonline.com/${String(scenario.id_token_claims?.tid)}/v2.0`;
    nock(origin(issuer))
      .get(`${pathOf(base)}/.well-known/openid-configuration`.replace(/^\/\//, '/'))
      .reply(200, {
        issuer: discoveryIssuer,
        authorization_endpoint: authorizationEndpoint,
        token_endpoint: tokenEndpoint,
        jwks_uri: `${base}/jwks`,
        ...(scenario.userinfo ? { userinfo_endpoint: `${base}/userinfo` } : {}),
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      });
    nock(origin(issuer))
      .get(`${pathOf(base)}/jwks`.replace(/^\/\//, '/'))
      .optionally()
      .reply(200, { keys: [key.jwk] });
    if (scenario.userinfo) {
      nock(origin(issuer))
        .get(`${pathOf(base)}/userinfo`.replace(/^\/\//, '/'))
        .reply(200, scenario.userinfo);
    }
  }

  const browser = new UserAgent();
  const auth = await h.begin(browser, provider);
  expect(`${auth.origin}${auth.pathname}`).toBe(authorizationEndpoint);
  const q = auth.searchParams;
  const state = q.get('state')!;
  expect(state.length).toBeGreaterThanOrEqual(43);
  expect(q.get('client_id')).toBe('cid');
  expect(q.get('redirect_uri')).toBe(`${h.issuer}/callback/${provider}`);
  expect(q.get('response_type')).toBe('code');
  expect(q.get('scope')).toBe(def.scopes.join(' '));
  if (def.pkce === 'S256') expect(q.get('code_challenge_method')).toBe('S256');
  else expect(q.has('code_challenge')).toBe(false);
  if (oidc) expect(q.get('nonce')!.length).toBeGreaterThanOrEqual(43);
  if (def.response_mode === 'form_post') expect(q.get('response_mode')).toBe('form_post');
  for (const [name, value] of Object.entries(scenario.expect_auth_params ?? {})) expect(q.get(name), name).toBe(value);

  let tokenBody: URLSearchParams | undefined;
  let tokenAuthHeader: string | undefined;
  let tokenContentType: string | undefined;
  if (scenario.token || scenario.id_token_claims) {
    const body: Record<string, unknown> = { token_type: 'Bearer', ...(scenario.token ?? {}) };
    // The documented token shapes, with a recognisable access token (it must never leak).
    if (scenario.id_token_claims || 'access_token' in body) body.access_token = 'at-secret-value';
    if (scenario.id_token_claims) {
      body.id_token = await key.sign({
        iss: expectedIss,
        aud: 'cid',
        iat: nowS(),
        exp: nowS() + 300,
        nonce: q.get('nonce'),
        ...scenario.id_token_claims,
      });
    }
    nock(origin(tokenEndpoint))
      .post(pathOf(tokenEndpoint), (raw: string | Record<string, string>) => {
        tokenBody = new URLSearchParams(typeof raw === 'string' ? raw : (raw as Record<string, string>));
        return true;
      })
      .reply(function () {
        tokenAuthHeader = this.req.headers.authorization as string | undefined;
        tokenContentType = this.req.headers['content-type'] as string | undefined;
        return [scenario.token_status ?? 200, body];
      });
  }
  const profileRequests: URL[] = [];
  const profileAuth: (string | undefined)[] = [];
  const profileHeaders: Record<string, unknown>[] = [];
  const profileBodies: string[] = [];
  if (def.profile && (scenario.profile !== undefined || scenario.profile_raw !== undefined)) {
    nock(origin(def.profile.url))
      .intercept((uri) => uri.split('?')[0] === pathOf(def.profile!.url), scenario.profile_method ?? 'GET')
      .reply(function (uri, body) {
        profileBodies.push(typeof body === 'string' ? body : JSON.stringify(body));
        profileRequests.push(new URL(uri, def.profile!.url));
        profileAuth.push(this.req.headers.authorization as string | undefined);
        profileHeaders.push(this.req.headers);
        return [
          scenario.profile_status ?? 200,
          scenario.profile_raw ?? scenario.profile,
          { 'content-type': scenario.profile_raw ? 'text/html' : 'application/json' },
        ];
      });
  }
  if (scenario.emails !== undefined) {
    nock(origin(def.profile!.url))
      .get(`${pathOf(def.profile!.url)}/emails`)
      .reply(200, scenario.emails as object);
  }

  // The provider's answer.
  const answer = new URLSearchParams(scenario.callback_error ?? { code: 'auth-code-1', ...scenario.callback_params });
  answer.set('state', state);
  if (scenario.iss_param) answer.set('iss', def.issuer!);
  let response: Response;
  if (def.response_mode === 'form_post') {
    if (scenario.form_user) answer.set('user', JSON.stringify(scenario.form_user));
    // A cross-site POST: no cookies at all (SameSite=Lax is not sent).
    const post = await fetch(`${h.issuer}/callback/${provider}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: answer.toString(),
      redirect: 'manual',
    });
    expect(post.status).toBe(303);
    expect(h.finish).not.toHaveBeenCalled();
    expect(h.fail).not.toHaveBeenCalled();
    const location = post.headers.get('location')!;
    expect(location.startsWith(`${h.issuer}/callback/${provider}?`)).toBe(true);
    response = await browser.fetch(location);
  } else {
    response = await browser.fetch(`${h.issuer}/callback/${provider}?${answer.toString()}`);
  }
  expect(response.status).toBe(303);

  if (scenario.expect_fail) {
    expect(h.finish).not.toHaveBeenCalled();
    expect(h.fail).toHaveBeenCalledTimes(1);
    const failure = h.fail.mock.calls[0]![1];
    expect(failure.error).toBe(scenario.expect_fail);
    expect(failure.context).toEqual({ kind: 'authorize', interaction: 'i-1' });
    if (scenario.fail_description_contains) expect(failure.description).toContain(scenario.fail_description_contains);
    if (scenario.expect_no_token_call) expect(tokenBody).toBeUndefined();
  } else {
    expect(h.fail.mock.calls.map((c) => c[1])).toEqual([]);
    expect(h.finish).toHaveBeenCalledTimes(1);
    const { identity, context, provider: id } = h.finish.mock.calls[0]![1];
    expect(id).toBe(provider);
    expect(context).toEqual({ kind: 'authorize', interaction: 'i-1' });
    expect(identity).toMatchObject({ provider, ...scenario.expected });
    for (const field of scenario.expected_absent ?? []) expect(identity, field).not.toHaveProperty(field);
    expect(typeof identity.subject).toBe('string');
    expect(JSON.stringify(identity)).not.toContain('at-secret-value');

    // The token request: the code, the PKCE verifier and the exact redirect_uri (RFC 6749 §4.1.3).
    expect(tokenBody?.get('code')).toBe('auth-code-1');
    expect(tokenBody?.get('redirect_uri')).toBe(`${h.issuer}/callback/${provider}`);
    if (def.pkce === 'S256') expect(tokenBody?.get('code_verifier')?.length).toBeGreaterThanOrEqual(43);
    else expect(tokenBody?.has('code_verifier')).toBe(false);
    if (def.token_auth === 'client_secret_basic') expect(tokenAuthHeader).toMatch(/^Basic /);
    if (def.quirks.includes('apple-client-secret')) {
      const secret = tokenBody!.get('client_secret')!;
      const publicKey = await importSPKI(
        appleKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        'ES256',
      );
      const { payload, protectedHeader } = await jwtVerify(secret, publicKey, {
        issuer: APPLE.team_id,
        subject: 'cid',
        audience: 'https://appleid.apple.com',
      });
      expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: APPLE.key_id });
      expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(15_777_000);
    } else if (def.token_auth === 'client_secret_post') {
      expect(tokenBody?.get('client_secret')).toBe('app-secret');
    }
    for (const [name, value] of Object.entries(scenario.expect_token_params ?? {})) {
      expect(tokenBody?.get(name), name).toBe(value);
    }
    expect(tokenContentType).toContain(scenario.expect_token_content_type ?? 'application/x-www-form-urlencoded');
    for (const header of profileAuth) expect(header).toBe('Bearer at-secret-value');
    expect(profileRequests.length).toBe(def.profile ? 1 : 0);
    if (scenario.expect_profile_body) {
      expect(Object.fromEntries(new URLSearchParams(profileBodies[0]))).toEqual(scenario.expect_profile_body);
    }
    for (const headers of profileHeaders) expect(headers).toMatchObject(scenario.expect_profile_header ?? {});
    if (def.quirks.includes('facebook-appsecret-proof')) {
      expect(profileRequests[0]?.searchParams.get('fields')).toBe('id,name,email,first_name,last_name,picture');
      expect(profileRequests[0]?.searchParams.get('appsecret_proof')).toMatch(/^[0-9a-f]{64}$/);
      expect(profileRequests[0]?.pathname).toMatch(/^\/v\d+\.\d+\/me$/);
    }
  }
  // The login transaction is gone: the same answer again is a 400 page, not a second login.
  const replay = await browser.fetch(`${h.issuer}/callback/${provider}?${answer.toString()}`);
  expect(replay.status).toBe(400);
  expect(h.finish.mock.calls.length + h.fail.mock.calls.length).toBe(1);
  // Nothing secret in the log lines.
  expect(JSON.stringify(h.logs)).not.toMatch(/at-secret-value|app-secret|auth-code-1/);
}
