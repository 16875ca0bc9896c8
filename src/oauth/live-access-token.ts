import { parseUser, userKey } from '../identity/user-records.js';
import { userTokensAllowed } from '../identity/user.js';
import { signedAccessToken, type AccessTokenClaims } from './access-tokens.js';
import type { OAuthContext } from './context.js';
import { clientTokensAllowed } from './clients.js';
import { tokenUser } from './token-user.js';

/**
 * Verifies an access token as `verifyAccessToken` does and, for a user's token, that its user
 * still exists and may use it (not disabled, login after `tokens_valid_after`): the user record is
 * read in the revocation check's round trip, so this costs one round trip too (a second only for
 * a record not yet moved from its legacy key), and that its client still accepts it (a store
 * client read through the registry's cache). Undefined for anything not live.
 */
export async function verifyLiveAccessToken(
  oauth: OAuthContext,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  const claims = await signedAccessToken(oauth, token);
  if (!claims) return undefined;
  const client = await oauth.clients.find(claims.client_id);
  if (!clientTokensAllowed(client, claims.iat)) return undefined;
  const userId = claims.auth_time === undefined ? undefined : tokenUser(client, claims);
  if (claims.auth_time !== undefined && userId === undefined) return undefined;
  const more = userId === undefined ? [] : [userKey(userId)];
  const read = await oauth.records.accessTokenRevokedAnd(claims.jti, claims.grant_id, more);
  if (read.revoked) return undefined;
  if (userId === undefined) return claims;
  const raw = read.more[0];
  const user = raw ? parseUser(raw) : await oauth.users.get(userId);
  return user && userTokensAllowed(user, claims.auth_time) ? claims : undefined;
}
