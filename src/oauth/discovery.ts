import { SUPPORTED_CLAIMS, SUPPORTED_SCOPES } from './claims.js';
import { ASSERTION_ALGS } from './client-assertion.js';
import { ENDPOINT_AUTH_METHODS } from './client-auth.js';
import type { OAuthContext } from './context.js';
import { GRANTS } from './token.js';
import { deviceCodeGrant } from './grants/device-code.js';
import { registrationEnabled } from './registration/enabled.js';

/** OpenID Provider Metadata (Discovery §3) with the RFC 8414 fields; `issuer` is the config's, byte for byte. */
export function discoveryDocument(oauth: OAuthContext): Record<string, unknown> {
  const issuer = oauth.config.issuer;
  const implicit = oauth.clients.all().some((c) => c.response_types.some((t) => t !== 'code'));
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    ...(deviceCodeGrant.enabled?.(oauth) ? { device_authorization_endpoint: `${issuer}/device_authorization` } : {}),
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    introspection_endpoint: `${issuer}/introspect`,
    revocation_endpoint: `${issuer}/revoke`,
    end_session_endpoint: `${issuer}/logout`,
    // RFC 8414 §2 / OIDC Discovery §3: only when someone may register (RFC 7591).
    ...(registrationEnabled(oauth.config.registration) ? { registration_endpoint: `${issuer}/register` } : {}),
    // The Client ID Metadata Document draft's server metadata: https URLs are client ids here.
    ...(oauth.config.registration.client_id_metadata_documents ? { client_id_metadata_document_supported: true } : {}),
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: implicit ? ['code', 'id_token', 'id_token token'] : ['code'],
    response_modes_supported: implicit ? ['query', 'fragment'] : ['query'],
    grant_types_supported: [
      ...GRANTS.filter((g) => g.enabled?.(oauth) !== false).map((g) => g.grantType),
      ...(implicit ? ['implicit'] : []),
    ],
    // Pairwise subjects need the salt (OIDC Core §8.1); clients choose with subject_type.
    subject_types_supported: oauth.config.subjects.pairwise_salt ? ['public', 'pairwise'] : ['public'],
    id_token_signing_alg_values_supported: [oauth.config.keys.algorithm],
    token_endpoint_auth_methods_supported: [...ENDPOINT_AUTH_METHODS.token],
    introspection_endpoint_auth_methods_supported: [...ENDPOINT_AUTH_METHODS.introspection],
    revocation_endpoint_auth_methods_supported: [...ENDPOINT_AUTH_METHODS.revocation],
    // RFC 8414 §2: required with private_key_jwt.
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    code_challenge_methods_supported: ['S256'],
    claims_supported: SUPPORTED_CLAIMS,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    frontchannel_logout_supported: false,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
  };
}
