import { SUPPORTED_SCOPES } from './claims.js';
import type { Client } from './clients.js';
import { scopeSet } from './params.js';

/**
 * Which scopes each way of getting tokens grants, and whether a refresh token comes with them:
 * decided here only. Callers turn a refusal into their own error (a redirect at /authorize,
 * invalid_scope at /token).
 */
export interface ScopeDecision {
  scopes: string[];
  /** Asked for, but not allowed: the request is refused, naming these. */
  refused: string[];
}

/**
 * /authorize: the client's allowed scopes. offline_access counts only for the code flow with
 * consent, which first-party clients have by policy (OIDC Core §11); otherwise it is dropped.
 */
export function authorizeScopes(
  requested: string | undefined,
  client: Client,
  flow: { code: boolean; prompt: string[] },
): ScopeDecision & { offlineGranted: boolean } {
  const asked = scopeSet(requested);
  const refused = asked.filter((s) => !client.scopes.has(s));
  const offlineGranted =
    asked.includes('offline_access') && flow.code && (client.first_party || flow.prompt.includes('consent'));
  const scopes = asked.filter((s) => s !== 'offline_access' || offlineGranted);
  return { scopes, refused, offlineGranted };
}

/** The password grant: user scopes only; none asked means all the client may have but offline_access. */
export function passwordScopes(requested: string | undefined, client: Client): ScopeDecision {
  const asked =
    requested === undefined
      ? SUPPORTED_SCOPES.filter((s) => client.scopes.has(s) && s !== 'offline_access')
      : scopeSet(requested);
  return { scopes: asked, refused: asked.filter((s) => !client.scopes.has(s) || !SUPPORTED_SCOPES.includes(s)) };
}

/** client_credentials: the client's own API scopes, never a user scope; none asked means all of them. */
export function machineScopes(requested: string | undefined, client: Client): ScopeDecision {
  const own = [...client.scopes].filter((s) => !SUPPORTED_SCOPES.includes(s));
  const asked = requested === undefined ? own : scopeSet(requested);
  return { scopes: asked, refused: asked.filter((s) => !own.includes(s)) };
}

/** A refresh may narrow the granted scope, never broaden it (RFC 6749 §6). */
export function refreshScopes(granted: string, requested: string | undefined): ScopeDecision {
  if (requested === undefined) return { scopes: scopeSet(granted), refused: [] };
  const held = scopeSet(granted);
  const asked = scopeSet(requested);
  return { scopes: asked, refused: asked.filter((s) => !held.includes(s)) };
}

/**
 * Whether a refresh token comes with a user grant: the client must be allowed the refresh_token
 * grant, and offline_access must be granted (OIDC Core §11), or the client is first-party and
 * the deployment lets first-party clients refresh without it.
 */
export function mayRefresh(client: Client, offlineGranted: boolean, firstPartyRefresh: boolean): boolean {
  return client.grant_types.includes('refresh_token') && (offlineGranted || (client.first_party && firstPartyRefresh));
}
