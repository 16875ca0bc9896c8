import { DEVICE_CODE_GRANT, type ClientConfig } from '../../config/clients.js';
import { SUPPORTED_SCOPES } from '../claims.js';

/**
 * Who is registering: anyone (`open`), a holder of an initial access token (`trusted`, RFC 7591
 * §3), or a Client ID Metadata Document (`document`: the client is whoever serves the URL).
 */
export type RegistrationAccess = 'open' | 'trusted' | 'document';

/** A refused metadata value: the field it names and why (RFC 7591 §3.2.2). */
export interface MetadataProblem {
  field: string;
  /** Where inside the field, e.g. "redirect_uris.1"; the field itself when absent. */
  at?: string;
  message: string;
}

const CODE_GRANTS = new Set(['authorization_code', 'refresh_token']);
const TRUSTED_GRANTS = new Set([...CODE_GRANTS, 'client_credentials', DEVICE_CODE_GRANT]);

/**
 * A redirect URI an untrusted registrant may use: https, or http on a literal loopback IP
 * (RFC 8252 §7.3; `localhost` is refused, RFC 8252 §8.3). The config schema already refused
 * wildcards, fragments and other schemes.
 */
export function openRedirectProblem(uri: string): string | undefined {
  if (!URL.canParse(uri)) return 'must be an absolute URL';
  const url = new URL(uri);
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && (url.hostname === '127.0.0.1' || url.hostname === '[::1]')) return undefined;
  return 'must use https, or http on 127.0.0.1 or [::1] (RFC 8252 §7.3)';
}

/**
 * What the registration policy refuses in an already valid client (the config schema's rules
 * hold). Every access: never first_party (consent is always shown), code flow only (no implicit,
 * no password, no token exchange: those need the operator's trust), PKCE required. Open and
 * document clients also: public (no secret), authorization_code (+ refresh_token) only,
 * redirect URIs https or loopback, standard scopes only, no resource audiences. Nothing the
 * broker would fetch or POST to is registered at all (jwks_uri, sector_identifier_uri,
 * backchannel_logout_uri: server-side requests to URLs a registrant chose).
 */
export function policyProblems(
  client: ClientConfig,
  access: RegistrationAccess,
  options: { pairwiseSalt: boolean },
): MetadataProblem[] {
  const problems: MetadataProblem[] = [];
  const refuse = (field: string, message: string) => problems.push({ field, message });
  if (client.first_party) refuse('first_party', 'cannot be registered: consent is always asked of a registered client');
  if (client.upstream_tokens.length > 0) refuse('upstream_tokens', 'cannot be registered');
  if (client.native_providers.length > 0) refuse('native_providers', 'cannot be registered');
  if (client.pkce !== 'required') refuse('pkce', 'must be "required" for a registered client (RFC 9700 §2.1.1)');
  if (client.response_types.some((t) => t !== 'code')) {
    refuse('response_types', 'only "code" may be registered (RFC 9700 §2.1.2: no implicit flow)');
  }
  const allowed = access === 'trusted' ? TRUSTED_GRANTS : CODE_GRANTS;
  const refused = client.grant_types.filter((g) => !allowed.has(g));
  if (refused.length > 0) refuse('grant_types', `may not include ${refused.join(', ')}`);
  if (client.subject_type === 'pairwise' && !options.pairwiseSalt) {
    refuse('subject_type', 'pairwise is not available on this broker');
  }
  // The broker would send requests to these URLs, and its plain fetches of them make no address
  // check (S-REG-01): a registrant, even one with an initial access token, could aim them at the
  // broker's own network. An operator sets them with `login-broker clients update`.
  for (const key of ['jwks_uri', 'sector_identifier_uri', 'backchannel_logout_uri'] as const) {
    if (client[key] !== undefined) {
      refuse(key, 'cannot be registered: the broker would send requests to it (an operator can set it with the CLI)');
    }
  }
  if (access === 'trusted') return problems;

  if (!client.grant_types.includes('authorization_code')) {
    refuse('grant_types', 'must include authorization_code (the only flow of an open registration)');
  }
  if (client.token_endpoint_auth_method !== 'none') {
    refuse(
      'token_endpoint_auth_method',
      'must be "none": only public clients (with PKCE) may register without a token',
    );
  }
  for (const key of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    for (const uri of client[key]) {
      const problem = openRedirectProblem(uri);
      if (problem) refuse(key, `${uri} ${problem}`);
    }
  }
  const unknownScopes = client.scope.split(' ').filter((s) => !SUPPORTED_SCOPES.includes(s));
  if (unknownScopes.length > 0)
    refuse('scope', `may only hold ${SUPPORTED_SCOPES.join(' ')}; not ${unknownScopes.join(' ')}`);
  if (client.resources.length > 0) refuse('resources', 'needs an initial access token');
  return problems;
}
