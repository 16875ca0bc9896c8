import type { AccessTokenClaims } from './access-tokens.js';
import { openUser, type PairwiseSector, SEALED_USER_CLAIM, subjectFor } from './subjects.js';

/**
 * The broker user of an access token: its `sub`, or for a pairwise client (whose `sub` cannot be
 * turned back) the user sealed in the token. A client that became pairwise or public since the
 * token was issued gets no user (undefined) rather than another user's.
 */
export function tokenUser(
  client: { pairwise?: PairwiseSector } | undefined,
  claims: AccessTokenClaims,
): string | undefined {
  const sealed = claims[SEALED_USER_CLAIM];
  if (!client?.pairwise) {
    return sealed === undefined ? claims.sub : undefined;
  }
  const userId = sealed === undefined ? undefined : openUser(client.pairwise.keys, sealed);
  return userId !== undefined && subjectFor(client, userId) === claims.sub ? userId : undefined;
}
