import type { User } from '../identity/users.js';

/** Claims each standard scope releases (OIDC Core §5.4). */
const SCOPE_CLAIMS: Record<string, string[]> = {
  profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
};

export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'offline_access', 'identities'];
export const SUPPORTED_CLAIMS = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'azp',
  'at_hash',
  'sid',
  ...Object.values(SCOPE_CLAIMS).flat(),
  'identities',
];

export function userClaims(user: User, scopes: string[]): Record<string, unknown> {
  const available: Record<string, unknown> = { ...user.profile, updated_at: user.updated_at };
  const claims: Record<string, unknown> = {};
  for (const scope of scopes) {
    for (const name of SCOPE_CLAIMS[scope] ?? []) {
      if (available[name] !== undefined) claims[name] = available[name];
    }
  }
  if (claims.email !== undefined && claims.email_verified === undefined) claims.email_verified = false;
  // The aggregation made visible: which provider accounts this user linked (no upstream tokens).
  if (scopes.includes('identities')) {
    claims.identities = user.identities.map((i) => ({
      provider: i.provider,
      user_id: i.subject,
      ...(i.username ? { username: i.username } : {}),
    }));
  }
  return claims;
}
