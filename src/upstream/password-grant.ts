import * as client from 'openid-client';
import { idTokenClaims, userinfoClaims } from './claims.js';
import type { ProviderClient } from './client.js';
import type { PasswordConnector, UpstreamPasswordCheck } from './connector.js';
import { classify, safeToken } from './errors.js';
import { mapIdentity } from './mapping.js';
import type { ProviderDefinition } from './resolve.js';

/**
 * The password connector of an `oidc` provider that supports the password grant (`password_grant:
 * true`; RFC 6749 §4.3): openid-client's generic grant with the provider's client (its
 * credentials, fetch and timeout), then the same checks and mapping as a code-flow login: the ID
 * token is required and verified (signature with the pinned alg, iss, aud/azp, exp, iat; no nonce
 * exists in this grant), the provider's claim quirks run, userinfo is read when advertised (its
 * sub must match), and the claims are mapped with the provider's mapping.
 *
 * Credentials are sent only to the token endpoint and never logged; upstream tokens stay here.
 */
export function passwordConnector(provider: ProviderDefinition, upstream: ProviderClient): PasswordConnector {
  const { definition } = provider;
  return {
    id: provider.id,
    async authenticate(username, password) {
      let config: client.Configuration;
      let tokens: Awaited<ReturnType<typeof client.genericGrantRequest>>;
      try {
        config = await upstream.configuration();
        const scope = definition.scopes.join(' ');
        tokens = await client.genericGrantRequest(config, 'password', { username, password, scope });
      } catch (err) {
        return refused(err);
      }
      try {
        const claims = idTokenClaims(provider, tokens);
        const sources: Record<string, unknown>[] = [claims];
        const raw: Record<string, unknown> = { id_token_claims: claims };
        const userinfo = await userinfoClaims(provider, config, tokens, claims);
        if (userinfo) {
          sources.push(userinfo);
          raw.userinfo = userinfo;
        }
        return { ok: true, identity: mapIdentity(definition, sources, provider.id, String(claims.iss), raw) };
      } catch (err) {
        return notVerified(err);
      }
    },
  };
}

/**
 * The provider's refusal (invalid_grant for bad credentials; mfa_required, unauthorized_client...)
 * is the user's failure; its text is not passed on. A provider that cannot answer throws.
 */
function refused(err: unknown): UpstreamPasswordCheck {
  if (err instanceof client.ResponseBodyError && err.status < 500 && err.error !== 'temporarily_unavailable') {
    return { ok: false, reason: `the provider answered ${safeToken(err.error)}` };
  }
  return notVerified(err);
}

function notVerified(err: unknown): UpstreamPasswordCheck {
  const failure = classify(err);
  if (failure.code === 'temporarily_unavailable') throw failure;
  return { ok: false, reason: failure.description };
}
