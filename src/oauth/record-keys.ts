import { randomToken } from './crypto.js';

/** Where codes, refresh tokens and revocations live in the store (hashes only, never a token). */
export const recordKeys = {
  code: (hash: string) => `code:${hash}`,
  codeUsed: (hash: string) => `code-used:${hash}`,
  rt: (hash: string) => `rt:${hash}`,
  rtUsed: (hash: string) => `rt-used:${hash}`,
  grantTokens: (grantId: string) => `grant:${grantId}:rts`,
  grantRevoked: (grantId: string) => `grant-revoked:${grantId}`,
  atRevoked: (jti: string) => `at-revoked:${jti}`,
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
