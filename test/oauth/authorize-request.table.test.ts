import { describe, expect, it } from 'vitest';
import { clientsSchema } from '../../src/config/clients.js';
import {
  AuthorizationError,
  validateAuthorizationRequest,
  type AuthorizationRequest,
  type RedirectTarget,
} from '../../src/oauth/authorize-request.js';
import { ClientRegistry } from '../../src/oauth/clients.js';
import { UnsafeRedirectError } from '../../src/oauth/errors.js';

/**
 * The authorization request rules, one row each. A row either validates (and the result
 * contains `expect`), or is refused as an error page (the client or redirect URI is not
 * trusted: RFC 6749 §4.1.2.1, RFC 9700 §4.11.2) or as an error redirected to the app.
 */

const SECRET = 'a-long-random-client-secret';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const API = 'https://api.example/';

const clients = new ClientRegistry(
  clientsSchema.parse([
    // Confidential, first party, two redirect URIs, may ask tokens for the API.
    {
      client_id: 'web',
      client_secret: SECRET,
      first_party: true,
      redirect_uris: ['https://app.example/cb', 'https://app.example/other'],
      resources: [API],
    },
    // Public (a single-page app), one redirect URI.
    { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: ['https://spa.example/cb'] },
    // Confidential, third party: needs consent.
    {
      client_id: 'partner',
      client_secret: SECRET,
      redirect_uris: ['https://partner.example/cb', 'https://partner.example/cb2'],
    },
    // Legacy implicit flow enabled (RFC 9700 §2.1.2: opt-in).
    {
      client_id: 'legacy',
      token_endpoint_auth_method: 'none',
      response_types: ['code', 'id_token', 'id_token token'],
      redirect_uris: ['https://legacy.example/cb'],
    },
    // Native app on loopback (RFC 8252 §7.3).
    {
      client_id: 'cli',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback', 'http://[::1]/callback'],
    },
    // Only the implicit id_token response.
    {
      client_id: 'idonly',
      token_endpoint_auth_method: 'none',
      response_types: ['id_token'],
      redirect_uris: ['https://idonly.example/cb'],
    },
    // A machine client that may not use the code flow, with a redirect URI all the same.
    {
      client_id: 'machine',
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: ['https://machine.example/cb'],
    },
    // A narrow scope list.
    {
      client_id: 'narrow',
      client_secret: SECRET,
      scope: 'openid profile',
      redirect_uris: ['https://narrow.example/cb'],
    },
    // First party, but never refresh tokens.
    {
      client_id: 'norefresh',
      client_secret: SECRET,
      first_party: true,
      grant_types: ['authorization_code'],
      redirect_uris: ['https://norefresh.example/cb'],
    },
  ]),
);

const REDIRECT: Record<string, string> = {
  web: 'https://app.example/cb',
  spa: 'https://spa.example/cb',
  partner: 'https://partner.example/cb',
  legacy: 'https://legacy.example/cb',
  cli: 'http://127.0.0.1/callback',
  idonly: 'https://idonly.example/cb',
  machine: 'https://machine.example/cb',
  narrow: 'https://narrow.example/cb',
  norefresh: 'https://norefresh.example/cb',
};

/** A parameter's value: one string, several (a repeated parameter), or null to leave it out. */
type Value = string | string[] | null;
type Overrides = Record<string, Value>;

function build(base: Record<string, string>, overrides: Overrides): URLSearchParams {
  const source = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...base, ...overrides })) {
    if (value === null) continue;
    for (const one of Array.isArray(value) ? value : [value]) source.append(name, one);
  }
  return source;
}

/** A valid code flow request with PKCE for `client`, changed by `overrides`. */
const code = (client: string, overrides: Overrides = {}) =>
  build(
    {
      client_id: client,
      redirect_uri: REDIRECT[client]!,
      response_type: 'code',
      scope: 'openid',
      state: 'xyz',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
    },
    overrides,
  );

/** A valid implicit request (response_type=id_token) for the legacy client, changed by `overrides`. */
const implicit = (overrides: Overrides = {}) =>
  build(
    {
      client_id: 'legacy',
      redirect_uri: REDIRECT.legacy!,
      response_type: 'id_token',
      scope: 'openid',
      state: 'xyz',
      nonce: 'n-0S6_WzA2Mj',
    },
    overrides,
  );

interface Rejection {
  kind: 'page' | 'redirect';
  error: string;
  descriptionMatches: RegExp;
  /** For redirects: where the error goes (defaults checked: the request's redirect_uri and state). */
  target?: Partial<RedirectTarget>;
}

interface Row {
  name: string;
  params: URLSearchParams;
  /** tokens.first_party_refresh_without_offline_access; on unless a row says otherwise. */
  firstPartyRefresh?: boolean;
  expect: Partial<AuthorizationRequest> | Rejection;
}

const page = (error: string, descriptionMatches: RegExp): Rejection => ({ kind: 'page', error, descriptionMatches });
const redirect = (error: string, descriptionMatches: RegExp, target?: Partial<RedirectTarget>): Rejection => ({
  kind: 'redirect',
  error,
  descriptionMatches,
  target,
});

const NOT_REGISTERED = /redirect_uri is not registered for this client/;
const long = (n: number) => 'a'.repeat(n);

const rows: Row[] = [
  // --- A valid request, in full.
  {
    name: 'a complete code request with PKCE validates',
    params: code('web', { login_hint: 'ada@example.com', nonce: 'n1', max_age: '600', prompt: 'consent' }),
    expect: {
      client_id: 'web',
      redirect_uri: 'https://app.example/cb',
      response_type: 'code',
      response_mode: 'query',
      scope: 'openid',
      state: 'xyz',
      nonce: 'n1',
      code_challenge: CHALLENGE,
      prompt: ['consent'],
      max_age: 600,
      login_hint: 'ada@example.com',
      id_token_hint: undefined,
      provider: undefined,
      resource: undefined,
      refresh: true,
    },
  },

  // --- client_id: errors are pages, never redirects (RFC 6749 §4.1.2.1).
  {
    name: 'client_id missing: page (RFC 6749 §4.1.2.1)',
    params: code('web', { client_id: null }),
    expect: page('invalid_request', /client_id parameter is missing/),
  },
  {
    name: 'client_id empty counts as missing (RFC 6749 §3.1)',
    params: code('web', { client_id: '' }),
    expect: page('invalid_request', /client_id parameter is missing/),
  },
  {
    name: 'client_id unknown: page (RFC 6749 §4.1.2.1)',
    params: code('web', { client_id: 'nope' }),
    expect: page('invalid_request', /client_id is not registered/),
  },
  {
    name: 'client_id in another case is unknown',
    params: code('web', { client_id: 'WEB' }),
    expect: page('invalid_request', /client_id is not registered/),
  },
  {
    name: 'client_id repeated: page (RFC 6749 §3.1)',
    params: code('web', { client_id: ['web', 'web'] }),
    expect: page('invalid_request', /client_id. is repeated/),
  },
  {
    name: 'client_id repeated with another client: page (RFC 6749 §3.1)',
    params: code('web', { client_id: ['web', 'spa'] }),
    expect: page('invalid_request', /client_id. is repeated/),
  },
  {
    name: 'client_id over 128 characters: page',
    params: code('web', { client_id: long(129) }),
    expect: page('invalid_request', /client_id. is too long/),
  },

  // --- redirect_uri: exact string match (RFC 9700 §4.1.3, RFC 6749 §3.1.2.3); errors are pages.
  {
    name: 'redirect_uri missing, one registered: page (OIDC Core §3.1.2.1 requires it)',
    params: code('spa', { redirect_uri: null }),
    expect: page('invalid_request', /redirect_uri parameter is missing/),
  },
  {
    name: 'redirect_uri missing, two registered: page (RFC 6749 §3.1.2.3)',
    params: code('web', { redirect_uri: null }),
    expect: page('invalid_request', /redirect_uri parameter is missing/),
  },
  {
    name: 'redirect_uri empty counts as missing (RFC 6749 §3.1)',
    params: code('web', { redirect_uri: '' }),
    expect: page('invalid_request', /redirect_uri parameter is missing/),
  },
  {
    name: 'redirect_uri repeated: page (RFC 6749 §3.1)',
    params: code('web', { redirect_uri: [REDIRECT.web!, REDIRECT.web!] }),
    expect: page('invalid_request', /redirect_uri. is repeated/),
  },
  {
    name: 'redirect_uri over 2048 characters: page',
    params: code('web', { redirect_uri: `https://app.example/cb?${long(2048)}` }),
    expect: page('invalid_request', /redirect_uri. is too long/),
  },
  {
    name: 'the second registered redirect_uri validates',
    params: code('web', { redirect_uri: 'https://app.example/other' }),
    expect: { redirect_uri: 'https://app.example/other' },
  },
  {
    name: 'redirect_uri with a trailing slash: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example/cb/' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri host in upper case: page (RFC 9700 §4.1.3, no normalising)',
    params: code('web', { redirect_uri: 'https://APP.example/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri path in upper case: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example/CB' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with the default port spelled out: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example:443/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with another port: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example:8443/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with an added query: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example/cb?next=/admin' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with a fragment: page (RFC 6749 §3.1.2)',
    params: code('web', { redirect_uri: 'https://app.example/cb#x' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with an empty fragment: page (RFC 6749 §3.1.2)',
    params: code('web', { redirect_uri: 'https://app.example/cb#' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with the app as userinfo before another host: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://app.example@evil.example/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with userinfo before the app host: page (RFC 9700 §4.1.3)',
    params: code('web', { redirect_uri: 'https://evil.example@app.example/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with path traversal back to the registered path: page',
    params: code('web', { redirect_uri: 'https://app.example/x/../cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri with a percent-encoded path: page (nothing is decoded)',
    params: code('web', { redirect_uri: 'https://app.example/%63b' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri downgraded to http: page',
    params: code('web', { redirect_uri: 'http://app.example/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri on a look-alike host: page',
    params: code('web', { redirect_uri: 'https://app.example.evil.example/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri of another client: page',
    params: code('web', { redirect_uri: REDIRECT.spa! }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'redirect_uri on loopback for a client without loopback URIs: page',
    params: code('web', { redirect_uri: 'http://127.0.0.1:8080/cb' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'a bad redirect_uri wins over any later error: page, never a redirect (RFC 9700 §4.11.2)',
    params: code('web', { redirect_uri: 'https://evil.example/cb', response_type: 'token', scope: null }),
    expect: page('invalid_request', NOT_REGISTERED),
  },

  // --- Native apps on loopback: any port, nothing else may vary (RFC 8252 §7.3, §8.3).
  {
    name: 'native: the registered loopback URI as is',
    params: code('cli'),
    expect: { redirect_uri: 'http://127.0.0.1/callback' },
  },
  {
    name: 'native: any port on 127.0.0.1 (RFC 8252 §7.3)',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:51234/callback' }),
    expect: { redirect_uri: 'http://127.0.0.1:51234/callback' },
  },
  {
    name: 'native: any port on [::1] (RFC 8252 §7.3)',
    params: code('cli', { redirect_uri: 'http://[::1]:8080/callback' }),
    expect: { redirect_uri: 'http://[::1]:8080/callback' },
  },
  {
    name: 'native: localhost instead of the IP literal: page (RFC 8252 §8.3)',
    params: code('cli', { redirect_uri: 'http://localhost:51234/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: another loopback address: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.2:51234/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: another path: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:51234/other' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: a trailing slash: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:51234/callback/' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: an added query: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:51234/callback?x=1' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: a fragment: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:51234/callback#x' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: https instead of http: page',
    params: code('cli', { redirect_uri: 'https://127.0.0.1:51234/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: a port out of range: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:99999/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: loopback as userinfo before another host: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:80@evil.example/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },
  {
    name: 'native: a backslash after the host: page',
    params: code('cli', { redirect_uri: 'http://127.0.0.1:80\\@evil.example/callback' }),
    expect: page('invalid_request', NOT_REGISTERED),
  },

  // --- From here the redirect URI is trusted: errors go back to the app (RFC 6749 §4.1.2.1).
  // response_type (RFC 6749 §3.1.1, §4.1.2.1, §4.2.2.1).
  {
    name: 'response_type missing: invalid_request (RFC 6749 §4.1.2.1)',
    params: code('web', { response_type: null }),
    expect: redirect('invalid_request', /response_type parameter is missing/, { response_mode: 'query' }),
  },
  {
    name: 'response_type repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { response_type: ['code', 'code'] }),
    expect: redirect('invalid_request', /response_type. is repeated/),
  },
  {
    name: 'response_type=token: unsupported_response_type (RFC 9700 §2.1.2)',
    params: code('web', { response_type: 'token' }),
    expect: redirect('unsupported_response_type', /not supported/),
  },
  {
    name: 'response_type=code id_token (hybrid): unsupported_response_type',
    params: code('web', { response_type: 'code id_token' }),
    expect: redirect('unsupported_response_type', /not supported/),
  },
  {
    name: 'response_type=code token: unsupported_response_type',
    params: code('web', { response_type: 'code token' }),
    expect: redirect('unsupported_response_type', /not supported/),
  },
  {
    name: 'response_type=none: unsupported_response_type',
    params: code('web', { response_type: 'none' }),
    expect: redirect('unsupported_response_type', /not supported/),
  },
  {
    name: 'response_type is case-sensitive: CODE is unsupported (RFC 6749 §3.1.1)',
    params: code('web', { response_type: 'CODE' }),
    expect: redirect('unsupported_response_type', /not supported/),
  },
  {
    name: 'implicit for a client without it: unauthorized_client, in the fragment (RFC 9700 §2.1.2)',
    params: code('web', { response_type: 'id_token', nonce: 'n' }),
    expect: redirect('unauthorized_client', /may not use response_type .id_token./, { response_mode: 'fragment' }),
  },
  {
    name: 'token id_token for a client without it: unauthorized_client, in the fragment',
    params: code('web', { response_type: 'token id_token', nonce: 'n' }),
    expect: redirect('unauthorized_client', /may not use response_type .id_token token./, {
      response_mode: 'fragment',
    }),
  },
  {
    name: 'code for a client allowed only id_token: unauthorized_client',
    params: code('idonly'),
    expect: redirect('unauthorized_client', /may not use response_type .code./),
  },
  {
    name: 'code for a client without the authorization_code grant: unauthorized_client',
    params: code('machine'),
    expect: redirect('unauthorized_client', /may not use the authorization code flow/),
  },
  {
    name: 'implicit id_token for a client with it: fragment, no PKCE, no refresh',
    params: implicit(),
    expect: {
      response_type: 'id_token',
      response_mode: 'fragment',
      nonce: 'n-0S6_WzA2Mj',
      code_challenge: undefined,
      refresh: false,
    },
  },
  {
    name: 'response_type values in any order: token id_token is id_token token (RFC 6749 §3.1.1)',
    params: implicit({ response_type: 'token id_token' }),
    expect: { response_type: 'id_token token', response_mode: 'fragment' },
  },

  // --- response_mode (OAuth 2.0 Multiple Response Types §2.1, §5).
  {
    name: 'response_mode=query for code',
    params: code('web', { response_mode: 'query' }),
    expect: { response_mode: 'query' },
  },
  {
    name: 'response_mode=fragment for code',
    params: code('web', { response_mode: 'fragment' }),
    expect: { response_mode: 'fragment' },
  },
  {
    name: 'response_mode=form_post is not supported: invalid_request in the query',
    params: code('web', { response_mode: 'form_post' }),
    expect: redirect('invalid_request', /response_mode .form_post. is not supported/, { response_mode: 'query' }),
  },
  {
    name: 'response_mode=query for implicit: invalid_request, sent in the fragment (Multiple Response Types §2.1)',
    params: implicit({ response_mode: 'query' }),
    expect: redirect('invalid_request', /response_mode .query. is not supported for response_type .id_token./, {
      response_mode: 'fragment',
    }),
  },
  {
    name: 'response_mode=fragment for implicit',
    params: implicit({ response_mode: 'fragment' }),
    expect: { response_mode: 'fragment' },
  },
  {
    name: 'response_mode repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { response_mode: ['query', 'query'] }),
    expect: redirect('invalid_request', /response_mode. is repeated/),
  },
  {
    name: 'a later error goes where response_mode=fragment says',
    params: code('web', { response_mode: 'fragment', scope: null }),
    expect: redirect('invalid_scope', /scope parameter is required/, { response_mode: 'fragment' }),
  },

  // --- state (RFC 6749 §4.1.2.1: errors carry it back).
  {
    name: 'state is echoed with errors (RFC 6749 §4.1.2.1)',
    params: code('web', { state: 'abc', response_type: 'token' }),
    expect: redirect('unsupported_response_type', /not supported/, { state: 'abc' }),
  },
  {
    name: 'state repeated: invalid_request, no state echoed (RFC 6749 §3.1)',
    params: code('web', { state: ['a', 'b'] }),
    expect: redirect('invalid_request', /state. is repeated/, { state: undefined }),
  },
  {
    name: 'state empty counts as absent (RFC 6749 §3.1)',
    params: code('web', { state: '' }),
    expect: { state: undefined },
  },
  { name: 'state absent is fine', params: code('web', { state: null }), expect: { state: undefined } },
  {
    name: 'state over 2048 characters: invalid_request',
    params: code('web', { state: long(2049) }),
    expect: redirect('invalid_request', /state. is too long/),
  },

  // --- Request objects and tokens in URLs (OIDC Core §3.1.2.6, §6; RFC 6750 §2.3).
  {
    name: 'request object: request_not_supported (OIDC Core §3.1.2.6)',
    params: code('web', { request: 'eyJhbGciOiJub25lIn0.e30.' }),
    expect: redirect('request_not_supported', /request objects are not supported/),
  },
  {
    name: 'request_uri: request_uri_not_supported (OIDC Core §3.1.2.6)',
    params: code('web', { request_uri: 'https://app.example/r' }),
    expect: redirect('request_uri_not_supported', /request_uri is not supported/),
  },
  {
    name: 'access_token in the URL: invalid_request (RFC 6750 §2.3, RFC 9700 §4.3.2)',
    params: code('web', { access_token: 'tok' }),
    expect: redirect('invalid_request', /access tokens must never be sent in the URL/),
  },
  {
    name: 'access_token in the URL even when empty: invalid_request',
    params: code('web', { access_token: '' }),
    expect: redirect('invalid_request', /access tokens must never be sent in the URL/),
  },

  // --- prompt (OIDC Core §3.1.2.1).
  { name: 'prompt=none alone', params: code('web', { prompt: 'none' }), expect: { prompt: ['none'] } },
  {
    name: 'prompt=none with another value: invalid_request (OIDC Core §3.1.2.1)',
    params: code('web', { prompt: 'none login' }),
    expect: redirect('invalid_request', /prompt=none cannot be combined/),
  },
  {
    name: 'prompt=consent none: invalid_request (OIDC Core §3.1.2.1)',
    params: code('web', { prompt: 'consent none' }),
    expect: redirect('invalid_request', /prompt=none cannot be combined/),
  },
  {
    name: 'prompt=login consent: both kept (OIDC Core §3.1.2.1)',
    params: code('web', { prompt: 'login consent' }),
    expect: { prompt: ['login', 'consent'] },
  },
  {
    name: 'prompt=select_account',
    params: code('web', { prompt: 'select_account' }),
    expect: { prompt: ['select_account'] },
  },
  {
    name: 'prompt with extra spaces',
    params: code('web', { prompt: '  login   consent ' }),
    expect: { prompt: ['login', 'consent'] },
  },
  { name: 'prompt absent is an empty list', params: code('web'), expect: { prompt: [] } },
  {
    name: 'prompt with an unknown value: invalid_request',
    params: code('web', { prompt: 'create' }),
    expect: redirect('invalid_request', /unknown prompt value .create./),
  },
  {
    name: 'prompt values are case-sensitive: NONE is unknown',
    params: code('web', { prompt: 'NONE' }),
    expect: redirect('invalid_request', /unknown prompt value .NONE./),
  },
  {
    name: 'prompt repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { prompt: ['login', 'consent'] }),
    expect: redirect('invalid_request', /prompt. is repeated/),
  },

  // --- scope (RFC 6749 §3.3).
  {
    name: 'scope missing: invalid_scope (RFC 6749 §3.3)',
    params: code('web', { scope: null }),
    expect: redirect('invalid_scope', /scope parameter is required/),
  },
  {
    name: 'scope of spaces only: invalid_scope (RFC 6749 §3.3)',
    params: code('web', { scope: '   ' }),
    expect: redirect('invalid_scope', /scope parameter is required/),
  },
  {
    // OIDC Core §3.1.2.1 says unknown scopes SHOULD be ignored; RFC 6749 §4.1.2.1 allows refusing them.
    name: 'an unknown scope: invalid_scope (RFC 6749 §4.1.2.1: "invalid, unknown, or malformed")',
    params: code('web', { scope: 'openid admin' }),
    expect: redirect('invalid_scope', /scope not allowed for this client: admin$/),
  },
  {
    name: 'a scope the client may not ask for: invalid_scope',
    params: code('narrow', { scope: 'openid email' }),
    expect: redirect('invalid_scope', /scope not allowed for this client: email$/),
  },
  {
    name: 'scopes are case-sensitive: OpenID is unknown (RFC 6749 §3.3)',
    params: code('web', { scope: 'OpenID' }),
    expect: redirect('invalid_scope', /OpenID/),
  },
  {
    name: 'code flow without openid is plain OAuth 2 and validates',
    params: code('web', { scope: 'profile' }),
    expect: { scope: 'profile' },
  },
  {
    name: 'duplicate scopes are named once',
    params: code('web', { scope: 'openid openid  profile' }),
    expect: { scope: 'openid profile' },
  },
  {
    name: 'scope repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { scope: ['openid', 'profile'] }),
    expect: redirect('invalid_request', /scope. is repeated/),
  },
  {
    name: 'implicit without openid: invalid_scope (OIDC Core §3.2.2.1)',
    params: implicit({ scope: 'profile' }),
    expect: redirect('invalid_scope', /implicit flow needs the openid scope/),
  },

  // --- offline_access and refresh tokens (OIDC Core §11).
  {
    name: 'first party asking offline_access: granted, refresh (OIDC Core §11)',
    params: code('web', { scope: 'openid offline_access' }),
    expect: { scope: 'openid offline_access', refresh: true },
  },
  {
    name: 'first party asking offline_access with first-party refresh off: still granted',
    params: code('web', { scope: 'openid offline_access' }),
    firstPartyRefresh: false,
    expect: { scope: 'openid offline_access', refresh: true },
  },
  {
    name: 'first party without offline_access, first-party refresh on: refresh',
    params: code('web'),
    expect: { scope: 'openid', refresh: true },
  },
  {
    name: 'first party without offline_access, first-party refresh off: no refresh',
    params: code('web'),
    firstPartyRefresh: false,
    expect: { scope: 'openid', refresh: false },
  },
  {
    name: 'third party asking offline_access without prompt=consent: dropped, no refresh (OIDC Core §11)',
    params: code('partner', { scope: 'openid offline_access' }),
    expect: { scope: 'openid', refresh: false },
  },
  {
    name: 'third party asking offline_access with prompt=consent: granted, refresh (OIDC Core §11)',
    params: code('partner', { scope: 'openid offline_access', prompt: 'consent' }),
    expect: { scope: 'openid offline_access', refresh: true },
  },
  {
    name: 'third party without offline_access, first-party refresh on: no refresh',
    params: code('partner'),
    expect: { scope: 'openid', refresh: false },
  },
  {
    name: 'public client asking offline_access with prompt=consent: refresh (OIDC Core §11)',
    params: code('spa', { scope: 'openid offline_access', prompt: 'consent' }),
    expect: { scope: 'openid offline_access', refresh: true },
  },
  {
    name: 'implicit asking offline_access, even with consent: ignored (OIDC Core §11)',
    params: implicit({ scope: 'openid offline_access', prompt: 'consent' }),
    expect: { scope: 'openid', refresh: false },
  },
  {
    name: 'first party without the refresh_token grant: no refresh, even with offline_access',
    params: code('norefresh', { scope: 'openid offline_access' }),
    expect: { refresh: false },
  },

  // --- nonce (OIDC Core §3.1.2.1, §3.2.2.1).
  {
    name: 'implicit without nonce: invalid_request (OIDC Core §3.2.2.1)',
    params: implicit({ nonce: null }),
    expect: redirect('invalid_request', /nonce is required for the implicit flow/, { response_mode: 'fragment' }),
  },
  {
    name: 'id_token token without nonce: invalid_request (OIDC Core §3.2.2.1)',
    params: implicit({ response_type: 'id_token token', nonce: null }),
    expect: redirect('invalid_request', /nonce is required/),
  },
  { name: 'code without nonce is fine (OIDC Core §3.1.2.1)', params: code('web'), expect: { nonce: undefined } },
  {
    name: 'nonce repeated: invalid_request',
    params: code('web', { nonce: ['a', 'b'] }),
    expect: redirect('invalid_request', /nonce. is repeated/),
  },
  {
    name: 'nonce over 512 characters: invalid_request',
    params: code('web', { nonce: long(513) }),
    expect: redirect('invalid_request', /nonce. is too long/),
  },

  // --- PKCE (RFC 7636 §4.3, §4.4.1; RFC 9700 §2.1.1).
  {
    name: 'code_challenge missing: invalid_request (RFC 7636 §4.4.1)',
    params: code('web', { code_challenge: null }),
    expect: redirect('invalid_request', /code_challenge is required/),
  },
  {
    name: 'code_challenge missing with a method given: invalid_request (RFC 7636 §4.4.1)',
    params: code('web', { code_challenge: null, code_challenge_method: 'S256' }),
    expect: redirect('invalid_request', /code_challenge is required/),
  },
  {
    name: 'code_challenge_method missing means plain: invalid_request (RFC 7636 §4.3, RFC 9700 §2.1.1)',
    params: code('web', { code_challenge_method: null }),
    expect: redirect('invalid_request', /the default, plain, is not accepted/),
  },
  {
    name: 'code_challenge_method=plain: invalid_request (RFC 7636 §4.4.1, RFC 9700 §2.1.1)',
    params: code('web', { code_challenge_method: 'plain' }),
    expect: redirect('invalid_request', /must be S256, not plain/),
  },
  {
    name: 'code_challenge_method unknown: invalid_request (RFC 7636 §4.4.1)',
    params: code('web', { code_challenge_method: 'S512' }),
    expect: redirect('invalid_request', /must be S256, not S512/),
  },
  {
    name: 'code_challenge_method is case-sensitive: s256 fails (RFC 7636 §4.3)',
    params: code('web', { code_challenge_method: 's256' }),
    expect: redirect('invalid_request', /must be S256, not s256/),
  },
  {
    name: 'code_challenge_method repeated: invalid_request',
    params: code('web', { code_challenge_method: ['S256', 'S256'] }),
    expect: redirect('invalid_request', /code_challenge_method. is repeated/),
  },
  {
    name: 'code_challenge of 42 characters: invalid_request (RFC 7636 §4.2)',
    params: code('web', { code_challenge: CHALLENGE.slice(1) }),
    expect: redirect('invalid_request', /43 characters/),
  },
  {
    name: 'code_challenge of 44 characters: invalid_request (RFC 7636 §4.2)',
    params: code('web', { code_challenge: `${CHALLENGE}A` }),
    expect: redirect('invalid_request', /43 characters/),
  },
  {
    name: 'code_challenge padded with =: invalid_request (RFC 7636 §4.2, base64url without padding)',
    params: code('web', { code_challenge: `${CHALLENGE.slice(1)}=` }),
    expect: redirect('invalid_request', /43 characters/),
  },
  {
    name: 'code_challenge in plain base64 (+ and /): invalid_request (RFC 7636 §4.2)',
    params: code('web', { code_challenge: `+/${CHALLENGE.slice(2)}` }),
    expect: redirect('invalid_request', /43 characters/),
  },
  {
    name: 'code_challenge over 128 characters: invalid_request',
    params: code('web', { code_challenge: long(129) }),
    expect: redirect('invalid_request', /code_challenge. is too long/),
  },
  {
    name: 'code_challenge repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { code_challenge: [CHALLENGE, CHALLENGE] }),
    expect: redirect('invalid_request', /code_challenge. is repeated/),
  },
  {
    name: 'implicit ignores PKCE parameters',
    params: implicit({ code_challenge: 'junk', code_challenge_method: 'plain' }),
    expect: { code_challenge: undefined },
  },

  // --- max_age (OIDC Core §3.1.2.1).
  { name: 'max_age=0', params: code('web', { max_age: '0' }), expect: { max_age: 0 } },
  { name: 'max_age=3600', params: code('web', { max_age: '3600' }), expect: { max_age: 3600 } },
  { name: 'max_age with leading zeros', params: code('web', { max_age: '0010' }), expect: { max_age: 10 } },
  {
    name: 'max_age empty counts as absent (RFC 6749 §3.1)',
    params: code('web', { max_age: '' }),
    expect: { max_age: undefined },
  },
  {
    name: 'max_age negative: invalid_request (OIDC Core §3.1.2.1)',
    params: code('web', { max_age: '-1' }),
    expect: redirect('invalid_request', /max_age must be a non-negative integer/),
  },
  {
    name: 'max_age not a number: invalid_request',
    params: code('web', { max_age: 'abc' }),
    expect: redirect('invalid_request', /max_age must be a non-negative integer/),
  },
  {
    name: 'max_age fractional: invalid_request',
    params: code('web', { max_age: '1.5' }),
    expect: redirect('invalid_request', /max_age must be a non-negative integer/),
  },
  {
    name: 'max_age in exponent form: invalid_request',
    params: code('web', { max_age: '1e3' }),
    expect: redirect('invalid_request', /max_age must be a non-negative integer/),
  },
  {
    name: 'max_age with a space: invalid_request',
    params: code('web', { max_age: ' 5' }),
    expect: redirect('invalid_request', /max_age must be a non-negative integer/),
  },
  {
    name: 'max_age over 10 digits: invalid_request',
    params: code('web', { max_age: '12345678901' }),
    expect: redirect('invalid_request', /max_age. is too long/),
  },
  {
    name: 'max_age repeated: invalid_request (RFC 6749 §3.1)',
    params: code('web', { max_age: ['1', '2'] }),
    expect: redirect('invalid_request', /max_age. is repeated/),
  },

  // --- provider= (skips the chooser).
  { name: 'provider known', params: code('web', { provider: 'github' }), expect: { provider: 'github' } },
  {
    name: 'provider unknown: invalid_request',
    params: code('web', { provider: 'myspace' }),
    expect: redirect('invalid_request', /unknown provider .myspace./),
  },
  {
    name: 'provider in another case is unknown',
    params: code('web', { provider: 'GitHub' }),
    expect: redirect('invalid_request', /unknown provider/),
  },
  {
    name: 'provider repeated: invalid_request',
    params: code('web', { provider: ['github', 'google'] }),
    expect: redirect('invalid_request', /provider. is repeated/),
  },

  // --- resource (RFC 8707 §2).
  { name: 'resource allowed for the client', params: code('web', { resource: API }), expect: { resource: API } },
  {
    name: 'resource not allowed for the client: invalid_target (RFC 8707 §2)',
    params: code('web', { resource: 'https://other.example/' }),
    expect: redirect('invalid_target', /resource is not allowed for this client/),
  },
  {
    name: 'resource of another client: invalid_target (RFC 8707 §2)',
    params: code('spa', { resource: API }),
    expect: redirect('invalid_target', /resource is not allowed/),
  },
  {
    name: 'resource must match exactly: no trailing slash is another one (RFC 8707 §2)',
    params: code('web', { resource: 'https://api.example' }),
    expect: redirect('invalid_target', /resource is not allowed/),
  },
  {
    name: 'resource repeated: invalid_request (RFC 8707 §2 allows several; the broker takes one)',
    params: code('web', { resource: [API, API] }),
    expect: redirect('invalid_request', /resource. is repeated/),
  },

  // --- Hints, and what is not ours to read.
  { name: 'login_hint passed on', params: code('web', { login_hint: 'ada' }), expect: { login_hint: 'ada' } },
  {
    name: 'login_hint over 256 characters: invalid_request',
    params: code('web', { login_hint: long(257) }),
    expect: redirect('invalid_request', /login_hint. is too long/),
  },
  {
    name: 'id_token_hint passed on (verified later)',
    params: code('web', { id_token_hint: 'a.b.c' }),
    expect: { id_token_hint: 'a.b.c' },
  },
  {
    name: 'id_token_hint repeated: invalid_request',
    params: code('web', { id_token_hint: ['a.b.c', 'a.b.c'] }),
    expect: redirect('invalid_request', /id_token_hint. is repeated/),
  },
  {
    name: 'unrecognised parameters are ignored (RFC 6749 §3.1)',
    params: code('web', { display: 'page', ui_locales: 'de' }),
    expect: { client_id: 'web' },
  },
  {
    name: 'unrecognised parameters are ignored even when repeated (RFC 6749 §3.1)',
    params: code('web', { foo: ['1', '2'] }),
    expect: { client_id: 'web' },
  },
];

async function outcome(row: Row): Promise<AuthorizationRequest | BrokerErrorLike> {
  try {
    return await validateAuthorizationRequest(row.params, clients, {
      firstPartyRefresh: row.firstPartyRefresh ?? true,
      hasProvider: (id) => id === 'github' || id === 'google',
    });
  } catch (err) {
    if (err instanceof UnsafeRedirectError || err instanceof AuthorizationError) return { thrown: err };
    throw err;
  }
}

interface BrokerErrorLike {
  thrown: UnsafeRedirectError | AuthorizationError;
}

const isRejection = (e: Row['expect']): e is Rejection => 'kind' in e;

describe('validateAuthorizationRequest, one rule a row', () => {
  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const result = await outcome(row);
    if (!isRejection(row.expect)) {
      if ('thrown' in result) throw new Error(`refused: ${result.thrown.message}`);
      expect(result).toMatchObject(row.expect);
      return;
    }
    if (!('thrown' in result)) throw new Error(`validated, but should be refused with ${row.expect.error}`);
    const err = result.thrown;
    expect(err.error).toBe(row.expect.error);
    expect(err.error_description).toMatch(row.expect.descriptionMatches);
    if (row.expect.kind === 'page') {
      expect(err).not.toBeInstanceOf(AuthorizationError);
      return;
    }
    expect(err).toBeInstanceOf(AuthorizationError);
    const target = (err as AuthorizationError).target;
    const states = row.params.getAll('state');
    expect(target).toMatchObject({
      redirect_uri: row.params.get('redirect_uri'),
      state: states.length === 1 && states[0] ? states[0].slice(0, 2048) : undefined,
      ...row.expect.target,
    });
  });

  it('has no two rows with the same name', () => {
    const names = rows.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
