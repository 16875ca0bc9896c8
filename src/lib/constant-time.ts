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
