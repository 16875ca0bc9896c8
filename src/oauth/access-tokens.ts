import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { OAuthContext } from './context.js';
import { SEALED_USER_CLAIM } from './subjects.js';

/**
 * The claims of our access tokens (RFC 9068 §2.2) and the type each must have. A token correctly
 * signed by us but with another shape (a number for `scope`, an array for `sub`…) is not one we
 * issued as it is: it is refused like any invalid token, never read as if it were well formed.
 */
const accessTokenClaims = z.looseObject({
  sub: z.string().min(1),
  client_id: z.string().min(1),
  scope: z.string(),
  jti: z.string().min(1),
  exp: z.number(),
  iat: z.number(),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  grant_id: z.string().min(1).optional(),
  auth_time: z.number().optional(),
  [SEALED_USER_CLAIM]: z.string().min(1).optional(),
});

export type AccessTokenClaims = z.infer<typeof accessTokenClaims> & JWTPayload;

/** The claims of a verified access token payload when every one we read has its type; undefined otherwise. */
export function parseAccessTokenClaims(payload: JWTPayload): AccessTokenClaims | undefined {
  const parsed = accessTokenClaims.safeParse(payload);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Verifies one of our access tokens and checks the revocation list (one store round trip).
 * Returns undefined for anything that is not a live access token: a bad signature, another
 * `typ` (an ID token is not an access token: RFC 9068 §4), malformed claims, expired, or revoked.
 */
export async function verifyAccessToken(oauth: OAuthContext, token: string): Promise<AccessTokenClaims | undefined> {
  const claims = await signedAccessToken(oauth, token);
  if (!claims) return undefined;
  if (await oauth.records.accessTokenRevoked(claims.jti, claims.grant_id)) return undefined;
  return claims;
}

/** The claims of one of our access tokens, signature and shape checked; nothing read from the store. */
export async function signedAccessToken(oauth: OAuthContext, token: string): Promise<AccessTokenClaims | undefined> {
  let payload: JWTPayload;
  try {
    payload = oauth.jwt.verifyNow(token, 'at+jwt');
  } catch {
    return undefined;
  }
  return parseAccessTokenClaims(payload);
}
