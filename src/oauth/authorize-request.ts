import { redirectUriMatches, type Client, type ClientRegistry } from './clients.js';
import { UnsafeRedirectError } from './errors.js';
import { Params, scopeSet } from './params.js';
import { authorizeScopes, mayRefresh } from './scope-policy.js';
import { BrokerError, type ErrorCode } from '../http/broker-error.js';

export type ResponseType = 'code' | 'id_token' | 'id_token token';
export type ResponseMode = 'query' | 'fragment';

/** A validated authorization request: everything later steps may rely on. */
export interface AuthorizationRequest {
  client_id: string;
  redirect_uri: string;
  response_type: ResponseType;
  response_mode: ResponseMode;
  scope: string;
  state?: string;
  nonce?: string;
  code_challenge?: string;
  prompt: string[];
  max_age?: number;
  login_hint?: string;
  /** A previous ID token naming the user the app expects (OIDC Core §3.1.2.1). */
  id_token_hint?: string;
  /** The upstream provider the app asked for (`provider=github`), skipping the chooser. */
  provider?: string;
  resource?: string;
  /** Whether a refresh token may be issued (offline_access granted, or first-party policy). */
  refresh: boolean;
}

/** Where an error can be sent once the client and redirect URI are trusted. */
export interface RedirectTarget {
  redirect_uri: string;
  response_mode: ResponseMode;
  state?: string;
}

/** An authorization error to redirect back to the app (RFC 6749 §4.1.2.1) with state and iss. */
export class AuthorizationError extends BrokerError {
  constructor(
    error: ErrorCode,
    description: string,
    readonly target: RedirectTarget,
  ) {
    super(error, description, 400);
  }
}

const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const VERIFIER_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Validates an authorization request in the order that keeps redirects safe: the client and
 * its exact redirect URI first (errors before that are pages, never redirects: RFC 6749
 * §4.1.2.1, RFC 9700 §4.11.2), then everything else as redirected errors.
 */
export async function validateAuthorizationRequest(
  source: URLSearchParams,
  clients: Pick<ClientRegistry, 'find'> & Partial<Pick<ClientRegistry, 'whyUnknown'>>,
  options: { firstPartyRefresh: boolean; hasProvider: (id: string) => boolean },
): Promise<AuthorizationRequest> {
  const unsafe = new Params(source, (d) => new UnsafeRedirectError('invalid_request', d));
  // 512 for a Client ID Metadata Document URL; the broker's own ids have at most 128.
  const clientId = unsafe.get('client_id', { max: 512 });
  if (clientId === undefined) throw new UnsafeRedirectError('invalid_request', 'the client_id parameter is missing');
  if (clientId.length > 128 && !/^https?:\/\//i.test(clientId)) {
    throw new UnsafeRedirectError('invalid_request', 'parameter "client_id" is too long');
  }
  const client = await clients.find(clientId);
  if (!client) {
    throw new UnsafeRedirectError(
      'invalid_request',
      clients.whyUnknown?.(clientId) ?? 'the client_id is not registered here',
    );
  }
  const redirectUri = unsafe.get('redirect_uri', { max: 2048 });
  if (redirectUri === undefined)
    throw new UnsafeRedirectError('invalid_request', 'the redirect_uri parameter is missing');
  if (!redirectUriMatches(client.redirect_uris, redirectUri)) {
    throw new UnsafeRedirectError(
      'invalid_request',
      'the redirect_uri is not registered for this client (it must match exactly)',
    );
  }

  // From here on the redirect URI is trusted. state is read leniently so errors can echo it.
  const stateValues = source.getAll('state');
  const rawType = source.getAll('response_type');
  const implicitRequested = rawType.length === 1 && /^(id_token|id_token token|token id_token)$/.test(rawType[0]!);
  const target: RedirectTarget = {
    redirect_uri: redirectUri,
    response_mode: implicitRequested ? 'fragment' : 'query',
    state: stateValues.length === 1 && stateValues[0] ? stateValues[0].slice(0, 2048) : undefined,
  };
  const fail = (error: ErrorCode, description: string) => new AuthorizationError(error, description, target);
  const params = new Params(source, (d) => fail('invalid_request', d));

  if (stateValues.length > 1) throw fail('invalid_request', 'parameter "state" is repeated');
  const state = params.get('state', { max: 2048 });
  const responseType = parseResponseType(params.get('response_type'), client, fail);
  target.response_mode = responseType === 'code' ? 'query' : 'fragment';
  const responseMode = parseResponseMode(params.get('response_mode'), responseType, fail);
  target.response_mode = responseMode;

  if (params.get('request') !== undefined) throw fail('request_not_supported', 'request objects are not supported');
  if (params.get('request_uri') !== undefined) throw fail('request_uri_not_supported', 'request_uri is not supported');
  // Tokens in URLs end up in histories and logs (RFC 6750 §2.3, RFC 9700 §4.3.2).
  if (source.has('access_token')) throw fail('invalid_request', 'access tokens must never be sent in the URL');

  const prompt = (params.get('prompt', { max: 100 }) ?? '').split(' ').filter(Boolean);
  for (const p of prompt) if (!PROMPTS.has(p)) throw fail('invalid_request', `unknown prompt value "${p}"`);
  if (prompt.includes('none') && prompt.length > 1)
    throw fail('invalid_request', 'prompt=none cannot be combined with other values');

  const requested = params.get('scope', { max: 1000 });
  const { scopes, refused, offlineGranted } = authorizeScopes(requested, client, {
    code: responseType === 'code',
    prompt,
  });
  if (scopeSet(requested).length === 0) throw fail('invalid_scope', 'the scope parameter is required');
  if (refused.length > 0) throw fail('invalid_scope', `scope not allowed for this client: ${refused.join(' ')}`);
  if (responseType !== 'code' && !scopes.includes('openid'))
    throw fail('invalid_scope', 'the implicit flow needs the openid scope');

  const nonce = params.get('nonce', { max: 512 });
  if (responseType !== 'code' && nonce === undefined)
    throw fail('invalid_request', 'nonce is required for the implicit flow (OIDC Core section 3.2.2.1)');

  const codeChallenge =
    responseType === 'code' ? parseCodeChallenge(params, client, scopes.includes('openid'), nonce, fail) : undefined;

  const maxAgeText = params.get('max_age', { max: 10 });
  let maxAge: number | undefined;
  if (maxAgeText !== undefined) {
    if (!/^\d+$/.test(maxAgeText)) throw fail('invalid_request', 'max_age must be a non-negative integer');
    maxAge = Number(maxAgeText);
  }

  const provider = params.get('provider', { max: 64 });
  if (provider !== undefined && !options.hasProvider(provider))
    throw fail('invalid_request', `unknown provider "${provider}"`);

  const resource = params.get('resource', { max: 2048 });
  if (resource !== undefined && !client.resources.includes(resource)) {
    throw fail('invalid_target', 'this resource is not allowed for this client (RFC 8707)');
  }

  return {
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: responseType,
    response_mode: responseMode,
    scope: scopes.join(' '),
    state,
    nonce,
    code_challenge: codeChallenge,
    prompt,
    max_age: maxAge,
    login_hint: params.get('login_hint', { max: 256 }),
    id_token_hint: params.get('id_token_hint', { max: 8192 }),
    provider,
    resource,
    refresh: responseType === 'code' && mayRefresh(client, offlineGranted, options.firstPartyRefresh),
  };
}

/**
 * PKCE with S256 (RFC 7636), required unless the client's `pkce: optional` allows a request
 * without it; such a request must then carry a nonce when it asks for openid (RFC 9700 §2.1.1).
 */
function parseCodeChallenge(
  params: Params,
  client: Client,
  openid: boolean,
  nonce: string | undefined,
  fail: (e: ErrorCode, d: string) => BrokerError,
): string | undefined {
  const codeChallenge = params.get('code_challenge', { max: 128 });
  const method = params.get('code_challenge_method');
  if (codeChallenge === undefined) {
    if (client.pkce !== 'optional')
      throw fail(
        'invalid_request',
        'code_challenge is required: use PKCE with S256 (RFC 7636, RFC 9700 section 2.1.1)',
      );
    if (method !== undefined) throw fail('invalid_request', 'code_challenge_method was sent without code_challenge');
    if (openid && nonce === undefined)
      throw fail('invalid_request', 'nonce is required when openid is asked without PKCE (RFC 9700 section 2.1.1)');
    return undefined;
  }
  if (method !== 'S256') {
    throw fail(
      'invalid_request',
      `code_challenge_method must be S256${method ? `, not ${method}` : ' (the default, plain, is not accepted)'}`,
    );
  }
  if (!VERIFIER_SHAPE.test(codeChallenge))
    throw fail('invalid_request', 'code_challenge must be a base64url SHA-256 hash (43 characters)');
  return codeChallenge;
}

function parseResponseType(
  value: string | undefined,
  client: Client,
  fail: (e: ErrorCode, d: string) => BrokerError,
): ResponseType {
  if (value === undefined) throw fail('invalid_request', 'the response_type parameter is missing');
  const normalized = value.split(' ').filter(Boolean).sort().join(' ');
  const known: Record<string, ResponseType> = {
    code: 'code',
    id_token: 'id_token',
    'id_token token': 'id_token token',
  };
  const type = known[normalized];
  if (!type) throw fail('unsupported_response_type', `response_type "${value}" is not supported`);
  if (!client.response_types.includes(type)) {
    // Implicit is legacy and opt-in per client (RFC 9700 §2.1.2).
    throw fail('unauthorized_client', `this client may not use response_type "${type}"`);
  }
  if (type === 'code' && !client.grant_types.includes('authorization_code')) {
    throw fail('unauthorized_client', 'this client may not use the authorization code flow');
  }
  return type;
}

function parseResponseMode(
  value: string | undefined,
  type: ResponseType,
  fail: (e: ErrorCode, d: string) => BrokerError,
): ResponseMode {
  if (value === undefined) return type === 'code' ? 'query' : 'fragment';
  if (value === 'fragment') return 'fragment';
  // Tokens never travel in a query string (OAuth 2.0 Multiple Response Types §2.1).
  if (value === 'query' && type === 'code') return 'query';
  throw fail('invalid_request', `response_mode "${value}" is not supported for response_type "${type}"`);
}
