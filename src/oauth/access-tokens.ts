import type { JWTPayload } from 'jose';
import type { OAuthContext } from './context.js';

export interface AccessTokenClaims extends JWTPayload {
  sub: string;
  client_id: string;
  scope: string;
  jti: string;
  exp: number;
  grant_id?: string;
  auth_time?: number;
}

/**
 * Verifies one of our access tokens and checks the revocation list (one store round trip).
 * Returns undefined for anything that is not a live access token: a bad signature, another
 * `typ` (an ID token is not an access token: RFC 9068 §4), expired, or revoked.
 */
export async function verifyAccessToken(oauth: OAuthContext, token: string): Promise<AccessTokenClaims | undefined> {
  let claims: AccessTokenClaims;
  try {
    claims = (await oauth.jwt.verify(token, 'at+jwt')) as AccessTokenClaims;
  } catch {
    return undefined;
  }
  if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || typeof claims.client_id !== 'string') return undefined;
  if (await oauth.records.accessTokenRevoked(claims.jti, claims.grant_id)) return undefined;
  return claims;
}
