import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import type { ScryptParams } from '../config/password.js';
import { constantTimeEqual } from '../lib/constant-time.js';

/**
 * Password hashes with scrypt (RFC 7914), node's built-in memory-hard KDF, in the self-describing
 * form `scrypt$<N>$<r>$<p>$<salt>$<key>` (salt and key base64url): a hash keeps verifying when
 * the configured parameters change, and needsRehash() tells when to upgrade it.
 */

const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Longer passwords are refused before any KDF work (a cheap bound on request cost). */
export const MAX_PASSWORD_LENGTH = 1024;

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  // NIST SP 800-63B §5.1.1.2: normalize Unicode so the same password typed on another device matches.
  const options: ScryptOptions = { N, r, p, maxmem: 256 * N * r * p + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFKC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function parse(encoded: string): Parsed | undefined {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map((n) => Number(n)) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return undefined;
  return { N, r, p, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') };
}

export async function hashPassword(password: string, params: ScryptParams): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { cost: N, block_size: r, parallelization: p } = params;
  const key = await derive(password, salt, N, r, p);
  return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when the password matches; constant-time comparison of the derived keys. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parse(encoded);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.N, parsed.r, parsed.p);
  return constantTimeEqual(key, parsed.key);
}

/** The hash was made with other parameters than the configured ones. */
export function needsRehash(encoded: string, params: ScryptParams): boolean {
  const parsed = parse(encoded);
  return !parsed || parsed.N !== params.cost || parsed.r !== params.block_size || parsed.p !== params.parallelization;
}

/**
 * A hash of a random password nobody knows, with the configured parameters: unknown usernames
 * are checked against it, so they cost the same KDF work as a wrong password (no enumeration by
 * timing).
 */
export function dummyHash(params: ScryptParams): Promise<string> {
  return hashPassword(randomBytes(32).toString('base64url'), params);
}
