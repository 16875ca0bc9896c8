import { createHash, randomBytes } from 'node:crypto';

/** 256 bits of randomness, URL-safe: codes, refresh tokens, ids. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString('base64url');

/** What the store keeps instead of a code or token (RFC 6819 §5.1.4.1.3). */
export const tokenHash = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

/** S256 code challenge of a verifier (RFC 7636 §4.2). */
export const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

/**
 * at_hash / c_hash: the left half of the hash of the value, with the hash of the signing
 * algorithm (OIDC Core §3.1.3.6, §3.2.2.9): SHA-256 for RS256 and ES256, SHA-512 for Ed25519.
 */
export function halfHash(value: string, alg: string): string {
  const digest = createHash(alg === 'EdDSA' ? 'sha512' : 'sha256')
    .update(value, 'ascii')
    .digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}
