import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * The broker's one constant-time comparison, for secrets, hashes and bindings. Both sides are
 * hashed first, so the time spent says nothing about where they differ, nor about their lengths.
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}

/**
 * Whether the SHA-256 of `presented` is `digest` (a stored hash of a secret), in constant time:
 * one hash of the presented value, compared with the stored digest as it is (its length is the
 * hash's, public; a digest of any other length never matches).
 */
export function sha256Matches(presented: string, digest: Uint8Array): boolean {
  const hashed = createHash('sha256').update(presented, 'utf8').digest();
  return digest.length === hashed.length && timingSafeEqual(hashed, digest);
}
