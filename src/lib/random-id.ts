import { randomBytes } from 'node:crypto';

/**
 * A random identifier (base64url of `bytes` random bytes) that does not start with "-": ids are
 * typed on command lines (`login-broker users show ID`), where a leading "-" reads as an option.
 */
export function randomId(bytes = 16): string {
  for (;;) {
    const id = randomBytes(bytes).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
