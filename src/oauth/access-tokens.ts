import type { JWTPayload } from 'jose';
import { z } from 'zod';
import type { OAuthContext } from './context.js';
import { SEALED_USER_CLAIM } from './subjects.js';
import { CLIENT_GENERATION_CLAIM, clientTokensAllowed } from './clients.js';
import { nowS } from '../lib/clock.js';

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
  [CLIENT_GENERATION_CLAIM]: z.string().min(1).optional(),
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
 * `typ` (an ID token is not an access token: RFC 9068 §4), malformed claims, expired, revoked,
 * or of a client that is gone (or was created again since).
 */
export async function verifyAccessToken(oauth: OAuthContext, token: string): Promise<AccessTokenClaims | undefined> {
  const claims = await signedAccessToken(oauth, token);
  if (!claims) return undefined;
  const client = await oauth.clients.find(claims.client_id);
  if (!clientTokensAllowed(client, claims[CLIENT_GENERATION_CLAIM])) return undefined;
  if (await oauth.records.accessTokenRevoked(claims.jti, claims.grant_id)) return undefined;
  return claims;
}

/**
 * Access tokens already verified by this process, by the exact token string, with the kid that
 * signed them: a resource server introspects the same token many times in its life, and a
 * hit skips the signature check and the JSON and shape parsing. Only what `signedAccessToken`
 * accepted goes in, so nothing can be planted without a valid signature; `exp` and the kid
 * are checked again on each hit, and the revocation and user checks run every time after it
 * (verifyAccessToken, verifyLiveAccessToken). Bounded: the oldest entry leaves first.
 */
const VERIFIED_MAX = 4096;
type VerifiedCache = Map<string, { claims: AccessTokenClaims; kid: string }>;
/** One cache per issuer (per Jwt): a token verified by one broker says nothing to another. */
const caches = new WeakMap<object, VerifiedCache>();

/** The claims of one of our access tokens, signature and shape checked; nothing read from the store. */
export async function signedAccessToken(oauth: OAuthContext, token: string): Promise<AccessTokenClaims | undefined> {
  let verified = caches.get(oauth.jwt);
  if (!verified) {
    verified = new Map();
    caches.set(oauth.jwt, verified);
  }
  const hit = verified.get(token);
  if (hit) {
    if (hit.claims.exp > nowS() && oauth.keys.byKid(hit.kid)) return hit.claims;
    verified.delete(token);
    return undefined;
  }
  let verifiedToken: { payload: JWTPayload; kid: string };
  try {
    verifiedToken = oauth.jwt.verifyNow(token, 'at+jwt');
  } catch {
    return undefined;
  }
  const claims = parseAccessTokenClaims(verifiedToken.payload);
  if (!claims) return undefined;
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value as string);
  verified.set(token, { claims: Object.freeze(claims), kid: verifiedToken.kid });
  return claims;
}
