import { z } from 'zod';

const seconds = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** Lifetimes and policies of what the broker issues. */
export const tokensSchema = z
  .strictObject({
    /** Authorization codes: single use, short (RFC 6749 §4.1.2 says at most 10 minutes). */
    code_ttl_s: seconds(5, 600, 60),
    /** Device flow (RFC 8628 §3.2): how long the device code and user code can be used. */
    device_code_ttl_s: seconds(60, 1800, 600),
    /** Device flow: the polling interval the device is told (grows by 5 s on slow_down). */
    device_poll_interval_s: seconds(1, 60, 5),
    access_token_ttl_s: seconds(30, 86_400, 600),
    id_token_ttl_s: seconds(30, 86_400, 600),
    /** A refresh token unused for this long dies. */
    refresh_token_idle_ttl_s: seconds(60, 31_536_000, 1_209_600),
    /** No refresh token of a grant outlives this, however often it is rotated. */
    refresh_token_absolute_ttl_s: seconds(60, 31_536_000, 2_592_000),
    /**
     * How long after its rotation a refresh token may be presented again while its successor is
     * unused: a client whose answer was lost (timeout, 503, dropped connection) retries and gets
     * a new pair, and the unused successor is retired. 0: strict, any second use is a replay.
     */
    refresh_token_reuse_grace_s: seconds(0, 60, 30),
    /** First-party clients get a refresh token without asking for offline_access. */
    first_party_refresh_without_offline_access: z.boolean().default(true),
  })
  .prefault({});

export const keysSchema = z
  .strictObject({
    /** The signing algorithm of ID tokens and access tokens. */
    algorithm: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
    /** Days a signing key is used before the next one takes over. */
    rotation_days: z.coerce.number().positive().max(3650).default(90),
    /** A new key is published in the JWKS this long before it signs anything (client caches). */
    publish_ahead_s: seconds(0, 604_800, 3600),
    /**
     * PEM or JWK files holding private keys; when set, keys are not generated or rotated by the
     * broker. The first file signs; the others are still published (for a manual rotation).
     */
    files: z.array(z.string().min(1)).default([]),
  })
  .prefault({});

/** Delivery of Back-Channel Logout tokens: bounded, retried with backoff, finished by any instance. */
export const backchannelLogoutSchema = z
  .strictObject({
    /** One POST to a client waits at most this long. */
    timeout_ms: z.coerce.number().int().min(100).max(30_000).default(5000),
    /** Tries per client and logout, the first included; then the delivery is given up (and logged). */
    attempts: z.coerce.number().int().min(1).max(10).default(4),
    /** The wait before the first retry; each next wait is 4 times longer. */
    retry_base_ms: z.coerce.number().int().min(100).max(600_000).default(2000),
    /** How often each instance looks for deliveries that are due (another instance's included). */
    scan_interval_ms: z.coerce.number().int().min(100).max(600_000).default(10_000),
  })
  .prefault({});

export type BackchannelLogoutConfig = z.output<typeof backchannelLogoutSchema>;
export type TokensConfig = z.output<typeof tokensSchema>;
export type KeysConfig = z.output<typeof keysSchema>;

export const sessionSchema = z
  .strictObject({
    /** The SSO session ends after this long without use. */
    idle_ttl_s: seconds(60, 31_536_000, 43_200),
    /** ...and after this long in any case. */
    absolute_ttl_s: seconds(60, 31_536_000, 1_209_600),
    /**
     * Secrets that sign the session cookie, newest first (older ones still verify). When empty,
     * one is generated and kept in the store, so every broker process shares it.
     */
    cookie_secrets: z.array(z.string().min(32, 'must be at least 32 characters')).default([]),
  })
  .prefault({});

export type SessionConfig = z.output<typeof sessionSchema>;
