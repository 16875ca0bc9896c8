import * as client from 'openid-client';
import { UpstreamFailure } from './errors.js';
import type { ProviderDefinition } from './resolve.js';

/**
 * What an OpenID provider's token answer says about the user, for the code flow and the password
 * grant alike: the ID-token claims (already verified by openid-client: signature with the pinned
 * alg, iss, aud/azp, exp, iat and, in the code flow, nonce; OIDC Core §3.1.3.7), then the
 * provider's claim quirks; and userinfo, when the definition reads it and the provider has it.
 */

type Claims = Record<string, unknown>;
type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;

export function idTokenClaims(provider: ProviderDefinition, tokens: Tokens): Claims {
  const claims = tokens.claims() as Claims | undefined;
  if (!claims) throw new UpstreamFailure('access_denied', 'the provider sent no ID token');
  for (const quirk of provider.quirks) {
    const problem = quirk.checkClaims?.(claims, provider.entry, provider.definition);
    if (problem) throw new UpstreamFailure('access_denied', problem);
  }
  return claims;
}

/** Userinfo (OIDC Core §5.3), whose `sub` must equal the ID token's (§5.3.2; openid-client checks). */
export async function userinfoClaims(
  provider: ProviderDefinition,
  config: client.Configuration,
  tokens: Tokens,
  claims: Claims,
): Promise<Claims | undefined> {
  if (!provider.definition.userinfo || !config.serverMetadata().userinfo_endpoint) return undefined;
  return (await client.fetchUserInfo(config, tokens.access_token, String(claims.sub))) as Claims;
}
