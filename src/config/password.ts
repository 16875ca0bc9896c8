import { z } from 'zod';

/**
 * `password_grant:`, the resource-owner password credentials grant (RFC 6749 §4.3). Legacy and
 * off by default (RFC 9700 §2.4): it is served only when a password source exists (local
 * accounts here, or an `oidc` provider entry with `password_grant: true`) and only to clients
 * that list `password` in grant_types and are confidential and first_party.
 */

const powerOfTwo = z.coerce
  .number()
  .int()
  .min(1024)
  .max(2 ** 22)
  .refine((n) => (n & (n - 1)) === 0, 'must be a power of two');

/** scrypt (RFC 7914), node's built-in: memory use is 128 × cost × block_size bytes. */
export const scryptSchema = z
  .strictObject({
    /** N, the CPU/memory cost: a power of two. 32768 with block_size 8 uses 32 MiB per hash. */
    cost: powerOfTwo.default(32768),
    /** r, the block size. */
    block_size: z.coerce.number().int().min(1).max(32).default(8),
    /** p, the parallelization. */
    parallelization: z.coerce.number().int().min(1).max(16).default(1),
  })
  .prefault({});

export type ScryptParams = z.output<typeof scryptSchema>;

export const localAccountsSchema = z.strictObject({
  /** The source's id: what `provider=` names, and the provider of the identities it makes. */
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "-" and "_"')
    .default('local'),
  scrypt: scryptSchema,
  /** The CLI refuses shorter passwords (NIST SP 800-63B §3.1.1.2: at least 8). */
  min_password_length: z.coerce.number().int().min(8).max(256).default(12),
});

export const lockoutSchema = z
  .strictObject({
    /** Failed attempts on one username (known or not) within window_s before it is locked. */
    username_failures: z.coerce.number().int().min(1).max(1000).default(5),
    /** Failed attempts from one client IP address within window_s before it is locked. */
    ip_failures: z.coerce.number().int().min(1).max(100_000).default(20),
    /** How long failures are remembered (seconds). */
    window_s: z.coerce.number().positive().max(86_400).default(900),
    /** The first lock (seconds); each further lock within window_s of the last doubles it. */
    lock_s: z.coerce.number().positive().max(86_400).default(60),
    /** No lock is longer than this (seconds). */
    max_lock_s: z.coerce.number().positive().max(604_800).default(3600),
  })
  .prefault({});

export const passwordGrantSchema = z
  .strictObject({
    /** Local accounts (username or email, and a scrypt hash), managed with `login-broker users`. */
    local: localAccountsSchema.optional(),
    lockout: lockoutSchema,
  })
  .prefault({});

export type PasswordGrantConfig = z.output<typeof passwordGrantSchema>;
export type LocalAccountsConfig = z.output<typeof localAccountsSchema>;
export type LockoutConfig = z.output<typeof lockoutSchema>;
