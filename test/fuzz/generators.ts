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
  | 'account_csrf'
  | 'consent_csrf'
  | 'logout_csrf'
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
export type PathMutation =
  | 'none'
  | 'upper'
  | 'trailing'
  | 'double-slash'
  | 'suffix'
  | 'dot-segment'
  | 'encoded'
  | 'latin1';
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
export type CookieShape =
  | { kind: 'none' }
  | { kind: 'real' }
  | { kind: 'forged'; pairs: [string, string][] }
  | { kind: 'real+forged'; pairs: [string, string][] };

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
  'client_id',
  'redirect_uri',
  'response_type',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'max_age',
  'id_token_hint',
  'login_hint',
  'provider',
  'response_mode',
  'request',
  'request_uri',
  'claims',
  'ui_locales',
  'resource',
  'code',
  'error',
  'error_description',
  'iss',
  'post_logout_redirect_uri',
  'client_secret',
  'token',
  'token_type_hint',
  'grant_type',
  'refresh_token',
  'code_verifier',
  'username',
  'password',
  'csrf',
  '_csrf',
  'decision',
  'subject',
  'name',
  'email',
  'email_verified',
  'client_assertion',
  'client_assertion_type',
  'access_token',
  'a[b]',
  'a.b',
  '__proto__',
  'constructor',
  '',
];

const NASTY = [
  '',
  ' ',
  '\u0000',
  '\u0001\u001f\u007f',
  '\r\n',
  '\t',
  '%00',
  '%',
  '%G1',
  '%FF%FE',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  '1e309',
  'NaN',
  '[]',
  '{}',
  '{"a":1}',
  '__proto__',
  'constructor',
  '../../etc/passwd',
  '..%2F..%2F',
  '<script>alert(1)</script>',
  '\'"',
  '\\',
  '\uD800',
  '\uFFFF',
  '😀',
  'ÿþ',
  'openid',
  'openid profile email offline_access',
  'code',
  'code id_token',
  'id_token token',
  'none',
  'login',
  'consent',
  'select_account',
  'S256',
  'plain',
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'form_post',
  'fragment',
  'query',
  'http://127.0.0.1:5000/cb',
  'http://127.0.0.1:5000/cb?x=1',
  'https://evil.example/cb',
  'javascript:alert(1)',
  'dev',
  'corp',
  'nope',
  'approve',
  'deny',
  'access_denied',
  'a.b.c',
  'eyJhbGciOiJub25lIn0.e30.',
];

const REFS: Ref[] = [
  'client_id',
  'redirect_uri',
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  'interaction',
  'provider',
  'csrf',
  'account_csrf',
  'consent_csrf',
  'logout_csrf',
  'state',
];

export const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 4, arbitrary: fc.constantFrom(...REFS).map((ref): Value => ({ ref })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  {
    weight: 1,
    arbitrary: fc.record({ huge: fc.constantFrom(4097, 9000), char: fc.constantFrom('a', '%', 'é', '\u0000') }),
  },
);

/** Values for where size is not bounded by the header limit (form bodies): up to 70,000 characters. */
const bodyValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 12, arbitrary: value },
  { weight: 1, arbitrary: fc.record({ huge: fc.constantFrom(70_000), char: fc.constantFrom('a', '%', 'é') }) },
);

/** Values for the query and headers: rarely long (the server's header limit answers 431 then). */
const shortValue: fc.Arbitrary<Value> = fc.oneof(
  { weight: 8, arbitrary: value.filter((v) => typeof v === 'string' || 'ref' in v) },
  { weight: 1, arbitrary: value },
);

const paramName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...PARAM_NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
/** Parameter lists: duplicated, missing, empty and odd values all come out of this. */
const params = fc.array(fc.tuple(paramName, shortValue), { maxLength: 8 });
const bodyParams = fc.array(fc.tuple(paramName, bodyValue), { maxLength: 8 });

const route: fc.Arbitrary<RouteShape> = fc.record({
  template: fc.constantFrom(...ROUTES),
  param: value,
  mutation: fc.constantFrom<PathMutation>(
    'none',
    'none',
    'none',
    'upper',
    'trailing',
    'double-slash',
    'suffix',
    'dot-segment',
    'encoded',
    'latin1',
  ),
});

const body: fc.Arbitrary<BodyShape> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<BodyShape>({ kind: 'none' }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('form' as const), params: bodyParams, raw: fc.boolean() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ maxLength: 200 }) }),
  },
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
      id: shortValue,
      secret: fc.oneof(
        shortValue,
        fc.constantFrom('web', 'machine', 'other', 'legacy').map((secretOf) => ({ secretOf })),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('bearer' as const), token: shortValue }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      value: fc.constantFrom(
        'Basic',
        'Basic ',
        'Basic !!!',
        'Basic Og==',
        'Basic //79',
        'Bearer',
        'Bearer  x',
        'Digest a=b',
        'basic d2ViOg==',
        'DPoP x',
        ' ',
        `Basic ${'A'.repeat(9000)}`,
      ),
    }),
  },
);

const cookiePairs = fc.array(
  fc.tuple(
    fc.constantFrom('lb_bid', 'lb_session', 'lb_session.sig', 'koa.sess', 'x', '__Host-lb_bid'),
    fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('', 'a'.repeat(5000), '%FF', 'A'.repeat(43))),
  ),
  { maxLength: 4 },
);
const cookies: fc.Arbitrary<CookieShape> = fc.oneof(
  fc.constant<CookieShape>({ kind: 'none' }),
  fc.constant<CookieShape>({ kind: 'real' }),
  fc.record({ kind: fc.constant('forged' as const), pairs: cookiePairs }),
  fc.record({ kind: fc.constant('real+forged' as const), pairs: cookiePairs }),
);

/** Anything: any method, any route, any parameters. */
const wildCase: fc.Arbitrary<FuzzCase> = fc.record({
  method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'PROPFIND'),
  route,
  query: params,
  body,
  contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
  authorization: auth,
  cookies,
  accept: fc.option(
    fc.constantFrom('application/json', 'text/html', '*/*', 'text/html,application/json;q=0.9', 'image/png'),
    { nil: undefined },
  ),
  origin: fc.option(fc.constantFrom('null', 'https://evil.example', 'same'), { nil: undefined }),
});

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const VERIFIER = 'dBjftJeZ4CVP-mJ92K9ZdYJA8PohgCmFp2X4bvr0nJUPVEk0W1b1mmfnS7WfE8zX9UVA';
const r = (ref: Ref): Value => ({ ref });
type Template = {
  method: string;
  template: string;
  param?: Value;
  query?: [string, Value][];
  form?: [string, Value][];
  auth?: AuthShape;
};
const web: AuthShape = { kind: 'basic', id: 'web', secret: { secretOf: 'web' } };
const machine: AuthShape = { kind: 'basic', id: 'machine', secret: { secretOf: 'machine' } };

/** A well-formed request per route, which the mutations below then bend. */
const TEMPLATES: Template[] = [
  {
    method: 'GET',
    template: '/authorize',
    query: [
      ['client_id', 'web'],
      ['redirect_uri', r('redirect_uri')],
      ['response_type', 'code'],
      ['scope', 'openid email'],
      ['code_challenge', CHALLENGE],
      ['code_challenge_method', 'S256'],
      ['state', 's1'],
      ['nonce', 'n1'],
    ],
  },
  {
    method: 'POST',
    template: '/authorize',
    form: [
      ['client_id', 'web'],
      ['redirect_uri', r('redirect_uri')],
      ['response_type', 'code'],
      ['scope', 'openid'],
      ['code_challenge', CHALLENGE],
      ['code_challenge_method', 'S256'],
      ['provider', 'dev'],
    ],
  },
  { method: 'GET', template: '/interaction/:p', param: r('interaction') },
  {
    method: 'POST',
    template: '/interaction/:p/login',
    param: r('interaction'),
    form: [
      ['csrf', r('csrf')],
      ['provider', 'dev'],
    ],
  },
  {
    method: 'POST',
    template: '/interaction/:p/consent',
    param: r('interaction'),
    form: [
      ['csrf', r('consent_csrf')],
      ['decision', 'allow'],
    ],
  },
  {
    method: 'POST',
    template: '/token',
    form: [
      ['grant_type', 'authorization_code'],
      ['code', r('code')],
      ['code_verifier', VERIFIER],
      ['redirect_uri', r('redirect_uri')],
    ],
    auth: web,
  },
  {
    method: 'POST',
    template: '/token',
    form: [
      ['grant_type', 'refresh_token'],
      ['refresh_token', r('refresh_token')],
      ['scope', 'openid'],
    ],
    auth: web,
  },
  {
    method: 'POST',
    template: '/token',
    form: [
      ['grant_type', 'client_credentials'],
      ['scope', 'api:read'],
      ['resource', 'https://api.example/'],
    ],
    auth: machine,
  },
  {
    method: 'POST',
    template: '/token',
    form: [
      ['grant_type', 'password'],
      ['username', 'fuzzy'],
      ['password', 'pw'],
    ],
    auth: web,
  },
  {
    method: 'POST',
    template: '/introspect',
    form: [
      ['token', r('access_token')],
      ['token_type_hint', 'access_token'],
    ],
    auth: web,
  },
  {
    method: 'POST',
    template: '/introspect',
    form: [
      ['token', r('refresh_token')],
      ['token_type_hint', 'refresh_token'],
    ],
    auth: web,
  },
  { method: 'POST', template: '/revoke', form: [['token', r('refresh_token')]], auth: web },
  { method: 'GET', template: '/userinfo', auth: { kind: 'bearer', token: r('access_token') } },
  { method: 'POST', template: '/userinfo', form: [['access_token', r('access_token')]] },
  {
    method: 'GET',
    template: '/logout',
    query: [
      ['id_token_hint', r('id_token')],
      ['post_logout_redirect_uri', 'http://127.0.0.1:5000/'],
      ['state', 'x'],
      ['client_id', 'web'],
    ],
  },
  {
    method: 'POST',
    template: '/logout',
    form: [
      ['csrf', r('logout_csrf')],
      ['confirm', 'yes'],
    ],
  },
  {
    method: 'GET',
    template: '/callback/:p',
    param: 'dev',
    query: [
      ['state', r('state')],
      ['code', 'c'],
      ['iss', 'x'],
    ],
  },
  {
    method: 'POST',
    template: '/callback/:p',
    param: 'dev',
    form: [
      ['state', r('state')],
      ['username', 'fuzzy2'],
      ['email', 'f@example.com'],
    ],
  },
  { method: 'GET', template: '/upstream/:p/login', param: 'dev', query: [['state', r('state')]] },
  { method: 'GET', template: '/account' },
  {
    method: 'POST',
    template: '/account/login',
    form: [
      ['csrf', r('account_csrf')],
      ['provider', 'dev'],
    ],
  },
  { method: 'POST', template: '/account/link/:p', param: 'dev2', form: [['csrf', r('account_csrf')]] },
  {
    method: 'POST',
    template: '/account/unlink',
    form: [
      ['csrf', r('account_csrf')],
      ['provider', 'dev'],
      ['subject', 'fuzzy'],
    ],
  },
  { method: 'GET', template: '/.well-known/openid-configuration' },
  { method: 'GET', template: '/jwks' },
  { method: 'GET', template: '/readyz' },
];

/** The arbitrary's value one time in `every`, null otherwise. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, every: number) =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

/** Bends a parameter list: drops, duplicates, replaces one, adds some. */
const bend = (list: [string, Value][]) =>
  fc
    .record({
      drop: sometimes(fc.nat(), 4),
      dup: sometimes(fc.nat(), 4),
      replace: sometimes(fc.tuple(fc.nat(), bodyValue), 3),
      extra: fc.array(fc.tuple(paramName, shortValue), { maxLength: 2 }),
    })
    .map(({ drop, dup, replace, extra }) => {
      const out = list.map(([k, v]): [string, Value] => [k, v]);
      if (replace !== null && out.length) out[replace[0] % out.length]![1] = replace[1];
      if (dup !== null && out.length) out.push(out[dup % out.length]!);
      if (drop !== null && out.length) out.splice(drop % out.length, 1);
      return [...out, ...extra];
    });

/** A well-formed request with a few things wrong. */
const nearCase: fc.Arbitrary<FuzzCase> = fc.constantFrom(...TEMPLATES).chain((t) =>
  fc.record({
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constant(t.method) },
      { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'HEAD', 'PUT') },
    ),
    route: fc.record({
      template: fc.constant(t.template),
      param: fc.oneof({ weight: 8, arbitrary: fc.constant<Value>(t.param ?? '') }, { weight: 1, arbitrary: value }),
      mutation: fc.oneof(
        { weight: 12, arbitrary: fc.constant<PathMutation>('none') },
        { weight: 1, arbitrary: route.map((x) => x.mutation) },
      ),
    }),
    query: t.query ? bend(t.query) : fc.constant<[string, Value][]>([]),
    body: t.form
      ? fc.oneof(
          { weight: 8, arbitrary: bend(t.form).map((p): BodyShape => ({ kind: 'form', params: p, raw: false })) },
          { weight: 1, arbitrary: body },
        )
      : fc.constant<BodyShape>({ kind: 'none' }),
    contentType: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    ),
    authorization: fc.oneof(
      { weight: 6, arbitrary: fc.constant<AuthShape>(t.auth ?? { kind: 'none' }) },
      { weight: 1, arbitrary: auth },
    ),
    cookies: fc.oneof(
      { weight: 6, arbitrary: fc.constant<CookieShape>({ kind: 'real' }) },
      { weight: 1, arbitrary: cookies },
    ),
    accept: fc.option(fc.constantFrom('application/json', 'text/html', '*/*'), { nil: undefined }),
    origin: fc.oneof(
      { weight: 4, arbitrary: fc.constant<string | undefined>(t.method === 'POST' ? 'same' : undefined) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, 'null', 'https://evil.example') },
    ),
  }),
);

/** Two thirds near the real requests, one third anything. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 2, arbitrary: nearCase },
  { weight: 1, arbitrary: wildCase },
);
