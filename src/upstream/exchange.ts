import * as client from 'openid-client';
import { providerApi } from './api.js';
import { idTokenClaims, userinfoClaims } from './claims.js';
import type { LoginSecrets } from './connector.js';
import { UpstreamFailure } from './errors.js';
import { mapIdentity } from './mapping.js';
import { isObject } from './quirks/types.js';
import type { ProviderDefinition } from './resolve.js';
import type { VerifiedLogin } from './connector.js';
import type { UpstreamTokenSet } from './types.js';
import { nowS } from '../lib/clock.js';

/** The authorization-response parameters handed to openid-client (RFC 6749 §4.1.2, RFC 9207). */
const RESPONSE_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'];

export interface CodeAnswer {
  /** The callback's parameters. */
  params: URLSearchParams;
  /** The state the login was started with (its transaction was found by it). */
  state: string;
  secrets: LoginSecrets;
}

/**
 * Code exchange and identity: openid-client validates the authorization response (state, iss
 * per RFC 9207), exchanges the code with the PKCE verifier (RFC 7636 §4.5), and verifies the ID
 * token (OIDC Core §3.1.3.7). Then userinfo, the profile and the quirks, then the mapping.
 */
export async function exchange(
  provider: ProviderDefinition,
  config: client.Configuration,
  answer: CodeAnswer,
): Promise<VerifiedLogin> {
  const { definition, entry, quirks } = provider;
  const oidc = definition.kind === 'oidc';
  const { params, state, secrets } = answer;
  const tokens = await client.authorizationCodeGrant(
    config,
    callbackWithAnswer(provider, params),
    {
      expectedState: state,
      ...(secrets.verifier ? { pkceCodeVerifier: secrets.verifier } : {}),
      ...(oidc && secrets.nonce ? { expectedNonce: secrets.nonce } : {}),
      idTokenExpected: oidc,
    },
    tokenParams(provider, params),
  );

  const sources: Record<string, unknown>[] = [];
  const raw: Record<string, unknown> = {};
  const claims = oidc ? idTokenClaims(provider, tokens) : undefined;
  if (claims) {
    sources.push(claims);
    raw.id_token_claims = claims;
    const userinfo = await userinfoClaims(provider, config, tokens, claims);
    if (userinfo) {
      sources.push(userinfo);
      raw.userinfo = userinfo;
    }
  }
  const api = providerApi(provider, config, tokens.access_token);
  if (definition.profile) {
    const { url, headers, query } = definition.profile;
    const profile = await api(url, { ...(headers ? { headers } : {}), ...(query ? { query } : {}) });
    if (!isObject(profile))
      throw new UpstreamFailure('server_error', 'the provider sent a profile that is not an object');
    sources.push(profile);
    raw.profile = profile;
  }

  const issuer = claims ? String(claims.iss) : definition.issuer!;
  const identity = mapIdentity(definition, sources, provider.id, issuer, raw);
  for (const quirk of quirks) await quirk.enrich?.({ identity, entry, definition, params, api: (url) => api(url) });
  // The tokens leave only for the vault, and only from providers that keep them.
  return entry.store_tokens ? { identity, tokens: tokenSet(tokens, definition.scopes) } : { identity };
}

/** The provider's token answer as the vault keeps it (RFC 6749 §5.1: no `scope` means the requested ones). */
export function tokenSet(
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  requested: readonly string[],
  previous?: Partial<Pick<UpstreamTokenSet, 'refreshToken' | 'scope'>>,
): UpstreamTokenSet {
  const expiresIn = tokens.expiresIn();
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
  return {
    accessToken: tokens.access_token,
    tokenType: tokens.token_type ? normalTokenType(tokens.token_type) : 'Bearer',
    ...(expiresIn !== undefined ? { expiresAt: nowS() + expiresIn } : {}),
    scope: typeof tokens.scope === 'string' ? tokens.scope : (previous?.scope ?? requested.join(' ')),
    ...(refreshToken ? { refreshToken } : {}),
  };
}

/** token_type is case-insensitive (RFC 6749 §7.1); openid-client lowercases it. */
const normalTokenType = (type: string) => (type.toLowerCase() === 'bearer' ? 'Bearer' : type);

/** The URL openid-client checks the answer against: our callback with the answer's parameters. */
function callbackWithAnswer(provider: ProviderDefinition, params: URLSearchParams): URL {
  const current = new URL(provider.redirectUri);
  for (const key of RESPONSE_PARAMS) for (const value of params.getAll(key)) current.searchParams.append(key, value);
  return current;
}

/** Extra token request parameters the quirks take from the callback (VK ID's device_id). */
function tokenParams(provider: ProviderDefinition, params: URLSearchParams): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const quirk of provider.quirks) Object.assign(extra, quirk.tokenParams?.(params, provider.entry) ?? {});
  return extra;
}
