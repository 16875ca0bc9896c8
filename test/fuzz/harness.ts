import { createHash, createHmac } from 'node:crypto';
import * as oidc from 'openid-client';
import { startApp, type RunningApp } from '../support/app.js';
import { BASE_CONFIG, SECRETS } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { formValue, location, UserAgent } from '../support/user-agent.js';
import type { Store } from '../../src/store/index.js';
import type { AuthShape, BodyShape, CookieShape, FuzzCase, PathMutation, Ref, Value } from './generators.js';
import { escapePath, type RawRequest } from './send.js';

export const REDIRECT = 'http://127.0.0.1:5000/cb';
export const COOKIE_SECRET = 'fuzz-cookie-secret-0123456789abcdef-0123';

/** Limits high enough that the fuzzer explores the routes instead of meeting 429s. */
const OPEN_LIMITS = Object.fromEntries(
  [
    'authorize',
    'callback',
    'interaction',
    'account',
    'client_auth_failures',
    'client_auth_failures_per_ip',
    'token_requests',
  ].map((name) => [name, { limit: 10_000_000, window_s: 60 }]),
);

export interface FuzzTarget {
  broker: RunningApp;
  base: URL;
  refs: Record<Ref, string>;
  cookie: string;
  /** Every value that must never appear in an answer. */
  secrets: string[];
}

/** The real app with real state to aim at: a signed-in browser, tokens, a code, an interaction. */
export async function startTarget(store?: Store): Promise<FuzzTarget> {
  const broker = await startApp(
    {
      ...BASE_CONFIG,
      providers: [
        { id: 'dev', use: 'dev' },
        { id: 'dev2', use: 'dev' },
      ],
      session: { cookie_secrets: [COOKIE_SECRET] },
      rate_limits: OPEN_LIMITS,
      metrics: { listen: { port: 0 } },
    },
    store ? { store } : {},
  );
  const target = { broker, base: new URL(broker.url), refs: {} as Record<Ref, string>, cookie: '' };
  await renew(target);
  return { ...target, secrets: [...Object.values(SECRETS), COOKIE_SECRET] };
}

/**
 * Fresh state in place of what the cases used up (codes redeemed, interactions finished,
 * sessions ended, refresh tokens rotated): a new signed-in browser and new values for every ref.
 */
export async function renew(target: Pick<FuzzTarget, 'broker' | 'refs' | 'cookie'>): Promise<void> {
  const { broker } = target;
  const ua = new UserAgent();
  const code = async (): Promise<{ code: string; verifier: string }> => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = new URL(`${broker.url}/authorize`);
    url.search = new URLSearchParams({
      client_id: 'web',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      provider: 'dev',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const back = await loginWithDev(ua, url, { username: 'fuzzy', email: 'fuzzy@example.com', email_verified: true });
    return { code: back.searchParams.get('code')!, verifier };
  };
  const redeem = async (grant: { code: string; verifier: string }) => {
    const answer = await fetch(`${broker.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: grant.code,
        code_verifier: grant.verifier,
        redirect_uri: REDIRECT,
      }),
    });
    return (await answer.json()) as { access_token: string; refresh_token: string; id_token: string };
  };
  // Separate grants: rotating or revoking the refresh token must not end the access token's grant.
  const forAccess = await redeem(await code());
  const forRefresh = await redeem(await code());
  const unused = await code();

  // A pending interaction (the chooser: two providers, prompt=login) and its CSRF token.
  const authorize = (extra: string) =>
    `${broker.url}/authorize?client_id=web&response_type=code&scope=openid&prompt=login` +
    `&redirect_uri=${encodeURIComponent(REDIRECT)}` +
    `&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256${extra}`;
  const interactionUrl = location(await ua.get(authorize('')), broker.url);
  const interaction = interactionUrl.pathname.split('/').pop()!;
  const page = await (await ua.get(interactionUrl)).text();
  const account = await (await ua.get(`${broker.url}/account`)).text();
  const upstreamState =
    location(await ua.get(authorize('&provider=dev')), broker.url).searchParams.get('state') ?? 'none';

  target.refs = {
    client_id: 'web',
    redirect_uri: REDIRECT,
    access_token: forAccess.access_token,
    refresh_token: forRefresh.refresh_token,
    id_token: forAccess.id_token,
    code: unused.code,
    interaction,
    provider: 'dev',
    csrf: formValue(page, 'csrf'),
    account_csrf: formValue(account, 'csrf'),
    consent_csrf: purposeToken(ua, `consent:${interaction}`),
    logout_csrf: purposeToken(ua, 'logout'),
    state: upstreamState,
  };
  target.cookie = [...ua.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The anti-CSRF token of a purpose for this browser, as src/http/csrf.ts computes it. */
function purposeToken(ua: UserAgent, purpose: string): string {
  const id = ua.cookies.get('lb_bid') ?? '';
  const binding = createHash('sha256').update(id).digest('base64url');
  return createHmac('sha256', binding).update(purpose).digest('base64url');
}

/** Strings as sent: lone surrogates cannot be UTF-8 encoded, so they become U+FFFD. */
function resolve(value: Value, target: FuzzTarget): string {
  if (typeof value === 'string')
    return value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  if ('ref' in value) return target.refs[value.ref];
  return value.char.repeat(value.huge);
}

function mutatePath(path: string, mutation: PathMutation): string {
  switch (mutation) {
    case 'none':
      return path;
    case 'upper':
      return path.toUpperCase();
    case 'trailing':
      return `${path}/`;
    case 'double-slash':
      return path.replace('/', '//');
    case 'suffix':
      return `${path}/x`;
    case 'dot-segment':
      return `/x/..${path}`;
    case 'encoded':
      return path.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    case 'latin1':
      return `${path}\u00ff`;
  }
}

/** Percent-encodes a form or query pair, or (raw) sends the text as it is. */
function pair(name: string, value: string, raw: boolean): string {
  return raw ? `${name}=${value}` : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
}

function encodeParams(list: [string, Value][], target: FuzzTarget, raw = false): string {
  return list.map(([name, v]) => pair(name, resolve(v, target), raw)).join('&');
}

function bodyOf(shape: BodyShape, target: FuzzTarget): Buffer | undefined {
  switch (shape.kind) {
    case 'none':
      return undefined;
    case 'form':
      return Buffer.from(encodeParams(shape.params, target, shape.raw), shape.raw ? 'latin1' : 'utf8');
    case 'bytes':
      return Buffer.from(shape.bytes);
    case 'json':
      return Buffer.from(JSON.stringify(Object.fromEntries(shape.params.map(([k, v]) => [k, resolve(v, target)]))));
    case 'huge':
      return Buffer.alloc(shape.size, 'a=b&');
  }
}

function authorizationOf(shape: AuthShape, target: FuzzTarget): string | undefined {
  switch (shape.kind) {
    case 'none':
      return undefined;
    case 'basic': {
      const id = resolve(shape.id, target);
      const secret =
        typeof shape.secret === 'object' && 'secretOf' in shape.secret
          ? SECRETS[shape.secret.secretOf as keyof typeof SECRETS]
          : resolve(shape.secret, target);
      return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    case 'bearer':
      return `Bearer ${resolve(shape.token, target)}`;
    case 'raw':
      return shape.value;
  }
}

function cookieOf(shape: CookieShape, target: FuzzTarget): string | undefined {
  const forged = 'pairs' in shape ? shape.pairs.map(([k, v]) => `${k}=${v}`).join('; ') : '';
  switch (shape.kind) {
    case 'none':
      return undefined;
    case 'real':
      return target.cookie;
    case 'forged':
      return forged;
    case 'real+forged':
      return [target.cookie, forged].filter(Boolean).join('; ');
  }
}

export function materialize(c: FuzzCase, target: FuzzTarget): RawRequest {
  const param = encodeURIComponent(resolve(c.route.param, target)).slice(0, 5000);
  const path = mutatePath(c.route.template.replace(':p', param), c.route.mutation);
  const query = encodeParams(c.query, target);
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  else if (c.body.kind === 'form') headers['content-type'] = 'application/x-www-form-urlencoded';
  const authorization = authorizationOf(c.authorization, target);
  if (authorization !== undefined) headers.authorization = authorization;
  const cookie = cookieOf(c.cookies, target);
  if (cookie !== undefined) headers.cookie = cookie;
  if (c.accept !== undefined) headers.accept = c.accept;
  if (c.origin !== undefined) {
    headers.origin = c.origin === 'same' ? target.base.origin : c.origin;
    headers['sec-fetch-site'] = c.origin === 'same' ? 'same-origin' : 'cross-site';
  }
  return {
    method: c.method,
    path: escapePath(`${target.base.pathname.replace(/\/$/, '')}${path}${query ? `?${query}` : ''}`),
    headers,
    body: c.method === 'GET' || c.method === 'HEAD' ? undefined : bodyOf(c.body, target),
  };
}
