import { randomToken } from './crypto.js';

/** The hash tag of a grant: its code, tokens, markers, index and revocation share one cluster slot. */
const g = (grantId: string) => `{g:${grantId}}`;

/**
 * Where codes, refresh tokens and revocations live in the store (hashes only, never a token).
 * A grant's keys carry its hash tag, so spending a code or rotating a token is one atomic step
 * on a Redis Cluster too. A session's index and an access token's revocation are keyed by their
 * own ids (other slots): they are read and written next to the grant's keys, never atomically.
 */
export const recordKeys = {
  code: (grantId: string, hash: string) => `code:${g(grantId)}:${hash}`,
  codeUsed: (grantId: string, hash: string) => `code-used:${g(grantId)}:${hash}`,
  rt: (grantId: string, hash: string) => `rt:${g(grantId)}:${hash}`,
  /** The first refresh token's record, written with the code and moved into place when it is spent. */
  rtNext: (grantId: string) => `rt-next:${g(grantId)}`,
  rtUsed: (grantId: string, hash: string) => `rt-used:${g(grantId)}:${hash}`,
  grantTokens: (grantId: string) => `grant:${g(grantId)}:rts`,
  grantRevoked: (grantId: string) => `grant-revoked:${g(grantId)}`,
  atRevoked: (jti: string) => `at-revoked:${jti}`,
  /** A session's grants as a string of ids, each followed by a space (appended as they come). */
  sessionGrantIds: (sid: string) => `sid:${sid}:gids`,
  /** The same as a set, as earlier versions wrote it: still read and removed at logout. */
  sessionGrants: (sid: string) => `sid:${sid}:grants`,
};

/**
 * Codes and refresh tokens are `<grant id>.<256 random bits>`: the grant id lets a replay be
 * traced to its grant inside the same atomic step that spends the token, so a replay racing the
 * first use still revokes what that use issues.
 */
const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/;

export const newGrantId = () => randomToken(16);
export const mintToken = (grantId: string) => `${grantId}.${randomToken()}`;
export const grantOf = (token: string) => TOKEN_SHAPE.exec(token)?.[1];
