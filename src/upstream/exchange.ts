import * as client from 'openid-client';
import { UpstreamFailure } from './errors.js';
import { mapIdentity, MappingError } from './mapping.js';
import type { Provider } from './provider.js';
import { isObject, type ApiRequest } from './quirks/types.js';
import type { Transaction } from './transaction.js';
import type { UpstreamIdentity } from './types.js';

/** The authorization-response parameters handed to openid-client (RFC 6749 §4.1.2, RFC 9207). */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'];

const MAX_API_BYTES = 1024 * 1024;

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}

/** Turns anything thrown on the way into a fail() code; never leaks tokens (messages only). */
export function classify(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  if (err instanceof MappingError) return new UpstreamFailure('server_error', err.message, undefined, 'mapping');
  const e = err as { name?: string; code?: string; message?: string; error?: string; status?: number; cause?: unknown };
  const cause = e.cause as { name?: string; code?: string } | undefined;
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || cause?.name === 'TimeoutError' || e.code === 'OAUTH_TIMEOUT' || e.code === 'OAUTH_ABORT') {
    return new UpstreamFailure('temporarily_unavailable', 'the provider did not answer in time', undefined, 'timeout');
  }
  if (err instanceof client.ResponseBodyError) {
    const status = err.status;
    const code = printable(err.error);
    if (status >= 500 || err.error === 'temporarily_unavailable') {
      return new UpstreamFailure('temporarily_unavailable', `the provider answered ${code}`, { status }, 'upstream_5xx');
    }
    return new UpstreamFailure('access_denied', `the provider refused the code: ${code}`, { status }, 'token_refused');
  }
  if (e.name === 'TypeError' && /fetch failed/.test(e.message ?? '')) {
    return new UpstreamFailure('temporarily_unavailable', 'the provider could not be reached', undefined, 'unreachable');
  }
  if (err instanceof client.ClientError) {
    const status = e.cause instanceof Response ? e.cause.status : undefined;
    if (e.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && status !== undefined && (status >= 500 || status === 429)) {
      return new UpstreamFailure('temporarily_unavailable', `the provider answered ${status}`, { status }, 'upstream_5xx');
    }
    // Verification failures (iss, aud, nonce, signature, alg, state) and malformed answers.
    // The library's own reason (which claim, which check); never a parser's, which quotes the body.
    const why = cause?.name === 'SyntaxError' ? undefined : (cause as { message?: string } | undefined)?.message;
    return new UpstreamFailure('access_denied', `the provider's answer did not verify: ${e.message ?? 'invalid'}${why && why !== e.message ? ` (${why})` : ''}`, { code: e.code }, 'invalid_response');
  }
  // Only the error's name: a message can quote a response body (JSON.parse does), tokens included.
  return new UpstreamFailure('server_error', 'the login with the provider failed', { name: e.name }, 'internal');
}

async function readJson(response: Response, what: string): Promise<unknown> {
  if (response.status >= 500 || response.status === 429) {
    throw new UpstreamFailure('temporarily_unavailable', `the provider's ${what} answered ${response.status}`, undefined, 'upstream_5xx');
  }
  if (!response.ok) throw new UpstreamFailure('server_error', `the provider's ${what} answered ${response.status}`, undefined, 'api_refused');
  const text = await response.text();
  if (text.length > MAX_API_BYTES) {
    throw new UpstreamFailure('server_error', `the provider's ${what} answer is too large`, undefined, 'invalid_response');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamFailure('server_error', `the provider's ${what} answer is not JSON`, undefined, 'invalid_response');
  }
}

/**
 * Code exchange and identity: openid-client validates the authorization response (state, iss
 * per RFC 9207), exchanges the code with the PKCE verifier, and verifies the ID token (signature
 * with the pinned alg, iss, aud/azp, exp, iat, nonce: OIDC Core §3.1.3.7). Then the profile and
 * quirks, then the mapping.
 */
export async function exchange(provider: Provider, txn: Transaction, state: string, params: URLSearchParams): Promise<UpstreamIdentity> {
  const { definition, entry, quirks } = provider;
  const config = await provider.configuration();
  await provider.prepareExchange();

  const current = new URL(provider.redirectUri);
  for (const key of RESPONSE_PARAMS) for (const value of params.getAll(key)) current.searchParams.append(key, value);

  const oidc = definition.kind === 'oidc';
  const tokenParams: Record<string, string> = {};
  for (const quirk of quirks) Object.assign(tokenParams, quirk.tokenParams?.(params, entry) ?? {});
  const tokens = await client.authorizationCodeGrant(
    config,
    current,
    {
      expectedState: state,
      ...(txn.v ? { pkceCodeVerifier: txn.v } : {}),
      ...(oidc && txn.n ? { expectedNonce: txn.n } : {}),
      idTokenExpected: oidc,
    },
    tokenParams,
  );

  const claims = oidc ? (tokens.claims() as Record<string, unknown> | undefined) : undefined;
  if (oidc) {
    if (!claims) throw new UpstreamFailure('access_denied', 'the provider sent no ID token');
    for (const quirk of quirks) {
      const problem = quirk.checkClaims?.(claims, entry, definition);
      if (problem) throw new UpstreamFailure('access_denied', problem);
    }
  }
  const accessToken = tokens.access_token;

  const api = async (target: string, extra?: { headers?: Record<string, string>; query?: Record<string, string> }): Promise<unknown> => {
    const url = new URL(target);
    for (const [k, v] of Object.entries(extra?.query ?? {})) url.searchParams.set(k, v);
    for (const quirk of quirks) quirk.apiUrl?.(url, accessToken, entry);
    const headers = new Headers({ accept: 'application/json', 'user-agent': 'login-broker', ...(extra?.headers ?? {}) });
    let request: ApiRequest | undefined;
    for (const quirk of quirks) request = quirk.apiRequest?.(url, accessToken, entry) ?? request;
    const method = request?.method ?? 'GET';
    let response = await client.fetchProtectedResource(config, accessToken, url, method, request?.body, headers);
    for (const quirk of quirks) if (quirk.apiResponse) response = await quirk.apiResponse(response);
    return readJson(response, 'API');
  };

  const sources: Record<string, unknown>[] = [];
  const raw: Record<string, unknown> = {};
  if (claims) {
    sources.push(claims);
    raw.id_token_claims = claims;
  }
  if (oidc && definition.userinfo && config.serverMetadata().userinfo_endpoint) {
    // fetchUserInfo requires the userinfo sub to equal the ID token's (OIDC Core §5.3.2).
    const userinfo = await client.fetchUserInfo(config, accessToken, String(claims!.sub));
    sources.push(userinfo as Record<string, unknown>);
    raw.userinfo = userinfo;
  }
  if (definition.profile) {
    const profile = await api(definition.profile.url, { ...(definition.profile.headers ? { headers: definition.profile.headers } : {}), ...(definition.profile.query ? { query: definition.profile.query } : {}) });
    if (!isObject(profile)) throw new UpstreamFailure('server_error', 'the provider sent a profile that is not an object');
    sources.push(profile);
    raw.profile = profile;
  }

  const issuer = oidc ? String(claims!.iss) : definition.issuer!;
  const identity = mapIdentity(definition, sources, provider.id, issuer, raw);
  for (const quirk of quirks) await quirk.enrich?.({ identity, entry, definition, params, api: (url) => api(url) });
  return identity;
}
