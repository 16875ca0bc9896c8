import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * What a client needs to know to compute its users' subjects: the sector of a pairwise client
 * (OIDC Core §8.1) and the keys derived from the configured salt.
 */
export interface PairwiseSector {
  /** The host of the sector_identifier_uri, or of the client's redirect URIs. */
  sector: string;
  keys: PairwiseKeys;
}

export interface PairwiseKeys {
  /** Keys the subject HMAC. */
  subject: Buffer;
  /** Seals the real user id into a pairwise client's access tokens (AES-256-GCM). */
  seal: Buffer;
}

/** Both keys come from the one secret salt, separated by HKDF (RFC 5869). */
export function pairwiseKeys(salt: string): PairwiseKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', salt, 'login-broker pairwise', info, 32));
  return { subject: derive('subject'), seal: derive('access token user') };
}

/**
 * The `sub` a client sees for a user (OIDC Core §8): the broker's user id for a public client;
 * for a pairwise client, an HMAC of its sector and the user id, so clients of one sector see the
 * same value and clients of different sectors cannot correlate theirs. Use it wherever a `sub`
 * goes to a client: ID tokens, access tokens, userinfo, introspection, logout tokens.
 */
export function subjectFor(client: { pairwise?: PairwiseSector } | undefined, userId: string): string {
  const pairwise = client?.pairwise;
  if (!pairwise) return userId;
  return createHmac('sha256', pairwise.keys.subject)
    .update(`${pairwise.sector}\n${userId}`, 'utf8')
    .digest('base64url');
}

/**
 * A pairwise `sub` cannot be turned back into the user, so a pairwise client's access tokens also
 * carry the user id sealed (AES-256-GCM, a fresh IV each time): the client cannot read it or
 * correlate tokens by it, and userinfo opens it. Public clients' tokens carry no such claim.
 */
export function sealUser(pairwise: PairwiseSector, userId: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', pairwise.keys.seal, iv);
  const sealed = Buffer.concat([cipher.update(userId, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
}

/** The user id sealed by `sealUser`, or undefined when the value was not sealed with these keys. */
export function openUser(keys: PairwiseKeys, value: string): string | undefined {
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length < 12 + 16 + 1) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.seal, bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** The private claim of an access token that holds the sealed user id. */
export const SEALED_USER_CLAIM = 'lb_user';
