import fc from 'fast-check';

/**
 * What a generated request is made of. Real values (client ids, tokens, an interaction id, the
 * session cookies) are named, not copied: `{ ref }` is filled in when the request is sent, so a
 * seed replays the same request shapes against a fresh broker.
 */
export type Ref =
  | 'client_id'
  | 'redirect_uri'
  | 'access_token'
  | 'refresh_token'
  | 'id_token'
  | 'code'
  | 'interaction'
  | 'provider'
  | 'csrf'
  | 'state';

export type Value = string | { ref: Ref } | { huge: number; char: string };

export interface FuzzCase {
  method: string;
  route: RouteShape;
  query: [string, Value][];
  body: BodyShape;
  contentType: string | undefined;
  authorization: AuthShape;
  cookies: CookieShape;
  accept: string | undefined;
  origin: string | undefined;
}

export type RouteShape = { template: string; param: Value; mutation: PathMutation };
export type PathMutation = 'none' | 'upper' | 'trailing' | 'double-slash' | 'suffix' | 'dot-segment' | 'encoded' | 'latin1';
export type BodyShape =
  | { kind: 'none' }
  | { kind: 'form'; params: [string, Value][]; raw: boolean }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'json'; params: [string, Value][] }
  | { kind: 'huge'; size: number };
export type AuthShape =
  | { kind: 'none' }
  | { kind: 'basic'; id: Value; secret: Value | { secretOf: string } }
  | { kind: 'bearer'; token: Value }
  | { kind: 'raw'; value: string };
export type CookieShape = { kind: 'none' } | { kind: 'real' } | { kind: 'forged'; pairs: [string, string][] } | { kind: 'real+forged'; pairs: [string, string][] };

/** The broker's routes (relative to the issuer's path); `:p` is the one parameter. */
export const ROUTES = [
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/jwks',
  '/authorize',
  '/interaction/:p',
  '/interaction/:p/consent',
  '/interaction/:p/login',
  '/token',
  '/userinfo',
  '/introspect',
  '/revoke',
  '/logout',
  '/callback/:p',
  '/upstream/:p/login',
  '/account',
  '/account/login',
  '/account/link/:p',
  '/account/unlink',
  '/healthz',
  '/readyz',
  '/static/:p',
  '/static/providers.css',
  '/',
  '/nope',
];

const PARAM_NAMES = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'code_challenge', 'code_challenge_method',
  'prompt', 'max_age', 'id_token_hint', 'login_hint', 'provider', 'response_mode', 'request', 'request_uri', 'claims',
  'ui_locales', 'resource', 'code', 'error', 'error_description', 'iss', 'post_logout_redirect_uri', 'client_secret',
  'token', 'token_type_hint', 'grant_type', 'refresh_token', 'code_verifier', 'username', 'password', 'csrf', '_csrf',
  'decision', 'subject', 'name', 'email', 'email_verified', 'client_assertion', 'client_assertion_type', 'access_token',
  'a[b]', 'a.b', '__proto__', 'constructor', '',
];

const NASTY = [
  '', ' ', '\u0000', '\u0001\u001f\u007f', '\r\n', '\t', '%00', '%', '%G1', '%FF%FE', 'null', 'undefined', 'true', '0',
  '-1', '1e309', 'NaN', '[]', '{}', '{"a":1}', '__proto__', 'constructor', '../../etc/passwd', '..%2F..%2F',
  '<script>alert(1)</script>', '\'"', '\\', '\uD800', '\uFFFF', '😀', 'ÿþ', 'openid', 'openid profile email offline_access',
  'code', 'code id_token', 'id_token token', 'none', 'login', 'consent', 'select_account', 'S256', 'plain',
  'authorization_code', 'refresh_token', 'client_credentials', 'password', 'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'form_post', 'fragment', 'query', 'http://127.0.0.1:5000/cb', 'http://127.0.0.1:5000/cb?x=1', 'https://evil.example/cb',
  'javascript:alert(1)', 'dev', 'corp', 'nope', 'approve', 'deny', 'access_denied', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.',
];

const REFS: Ref[] = ['client_id', 'redirect_uri', 'access_token', 'refresh_token', 'id_token', 'code', 'interaction', 'provider', 'csrf', 'state'];

export const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 4, arbitrary: fc.constantFrom(...REFS).map((ref): Value => ({ ref })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.record({ huge: fc.constantFrom(4097, 9000, 70_000), char: fc.constantFrom('a', '%', 'é', '\u0000') }) },
);

const paramName = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAM_NAMES) }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) });
/** Parameter lists: duplicated, missing, empty and odd values all come out of this. */
const params = fc.array(fc.tuple(paramName, value), { maxLength: 8 });

const route: fc.Arbitrary<RouteShape> = fc.record({
  template: fc.constantFrom(...ROUTES),
  param: value,
  mutation: fc.constantFrom<PathMutation>('none', 'none', 'none', 'upper', 'trailing', 'double-slash', 'suffix', 'dot-segment', 'encoded', 'latin1'),
});

const body: fc.Arbitrary<BodyShape> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<BodyShape>({ kind: 'none' }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('form' as const), params, raw: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), params }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), size: fc.constantFrom(65_537, 300_000) }) },
);

const CONTENT_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=iso-8859-1',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded, text/html',
  '',
  ';;;',
];

const auth: fc.Arbitrary<AuthShape> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<AuthShape>({ kind: 'none' }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('basic' as const),
      id: value,
      secret: fc.oneof(value, fc.constantFrom('web', 'machine', 'other', 'legacy').map((secretOf) => ({ secretOf }))),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bearer' as const), token: value }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      value: fc.constantFrom('Basic', 'Basic ', 'Basic !!!', 'Basic Og==', 'Basic //79', 'Bearer', 'Bearer  x', 'Digest a=b', 'basic d2ViOg==', 'DPoP x', ' ', 'Basic ' + 'A'.repeat(9000)),
    }),
  },
);

const cookiePairs = fc.array(
  fc.tuple(fc.constantFrom('lb_bid', 'lb_session', 'lb_session.sig', 'koa.sess', 'x', '__Host-lb_bid'), fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', 'a'.repeat(5000), '%FF', 'A'.repeat(43)))),
  { maxLength: 4 },
);
const cookies: fc.Arbitrary<CookieShape> = fc.oneof(
  fc.constant<CookieShape>({ kind: 'none' }),
  fc.constant<CookieShape>({ kind: 'real' }),
  fc.record({ kind: fc.constant('forged' as const), pairs: cookiePairs }),
  fc.record({ kind: fc.constant('real+forged' as const), pairs: cookiePairs }),
);

export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND'),
  route,
  query: params,
  body,
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
  authorization: auth,
  cookies,
  accept: fc.option(fc.constantFrom('application/json', 'text/html', '*/*', 'text/html,application/json;q=0.9', 'image/png'), { nil: undefined }),
  origin: fc.option(fc.constantFrom('null', 'https://evil.example', 'same'), { nil: undefined }),
});
