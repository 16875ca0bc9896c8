import type { Store, StoreOp } from '../../store/index.js';
import { scopeSet } from '../params.js';

/** What a user allowed a third-party client, remembered per user, client and scope. */
const consentKey = (userId: string, clientId: string) => `consent:${userId}:${clientId}`;
const CONSENT_TTL_S = 365 * 86_400;

export async function grantedScopes(store: Store, userId: string, clientId: string): Promise<string[]> {
  return JSON.parse((await store.get(consentKey(userId, clientId))) ?? '[]') as string[];
}

/** The scopes of `scope` not yet granted. */
export function missingScopes(granted: string[], scope: string): string[] {
  return scopeSet(scope).filter((s) => !granted.includes(s));
}

/** The write that remembers `scope` on top of what was granted before. */
export function rememberConsentOp(userId: string, clientId: string, previous: string[], scope: string): StoreOp {
  const granted = [...new Set([...previous, ...scopeSet(scope)])];
  return { op: 'put', key: consentKey(userId, clientId), value: JSON.stringify(granted), ttl: CONSENT_TTL_S };
}

/** Reading a provider's stored token is consented like a scope, under this name (never a scope of a token). */
export const upstreamConsent = (provider: string) => `upstream_token:${provider}`;

/** What a third-party client's consent covers: the requested scopes and the providers of `upstream_tokens`. */
export function consentScope(client: { upstream_tokens: string[] }, scope: string): string {
  return [...scopeSet(scope), ...client.upstream_tokens.map(upstreamConsent)].join(' ');
}
