import type { OAuthContext } from './context.js';

/** What the broker reads from one of its own ID tokens presented back as a hint. */
export interface IdTokenHint {
  sub: string;
  /** The client it was issued to. */
  aud: string;
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/**
 * An ID token this server issued, presented back as a hint (OIDC Core §3.1.2.1 at /authorize;
 * RP-Initiated Logout 1.0 §2 at /logout). Signature, issuer and typ are checked, expiry is not:
 * an expired ID token is still a fine hint. Undefined when it is not one of ours, or when `sub`
 * or `aud` do not have the types we issue them with.
 */
export async function verifyIdTokenHint(
  oauth: Pick<OAuthContext, 'jwt'>,
  hint: string,
): Promise<IdTokenHint | undefined> {
  let claims;
  try {
    claims = await oauth.jwt.verify(hint, 'JWT', { ignoreExpiry: true });
  } catch {
    return undefined;
  }
  const aud: unknown = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud;
  if (!nonEmpty(claims.sub) || !nonEmpty(aud)) return undefined;
  return { sub: claims.sub, aud };
}
