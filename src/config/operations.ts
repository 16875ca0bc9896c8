import { z } from 'zod';

/**
 * `metrics:` and `rate_limits:`, the operations side of the broker: what it tells a Prometheus
 * and what it refuses to do too often.
 */

const port = z.coerce.number().int().min(0).max(65535);

/** A separate listener serving GET /metrics (Prometheus text format); off when absent. */
export const metricsSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: port.default(9464),
    })
    .prefault({}),
});

/** At most `limit` requests per `window_s` seconds (a fixed window); limit 0 switches it off. */
const limit = (requests: number, windowS: number) =>
  z
    .strictObject({
      limit: z.coerce.number().int().min(0).max(100_000_000).default(requests),
      window_s: z.coerce.number().int().min(1).max(86_400).default(windowS),
    })
    .prefault({});

export const rateLimitsSchema = z
  .strictObject({
    /** Per client IP: GET and POST /authorize. */
    authorize: limit(300, 60),
    /** Per client IP: the upstream callbacks and the development login page. */
    callback: limit(300, 60),
    /** Per client IP: the chooser's and the consent page's POSTs. */
    interaction: limit(120, 60),
    /** Per client IP: the account pages' POSTs (sign in, link, unlink). */
    account: limit(60, 60),
    /** Per client IP and per browser: wrong user codes entered on the device page (RFC 8628 §5.1). */
    device_user_codes: limit(20, 300),
    /** Per client IP and client id: failed client authentications at /token, /introspect, /revoke. */
    client_auth_failures: limit(20, 300),
    /** Per client IP, whatever the client id: failed client authentications. */
    client_auth_failures_per_ip: limit(100, 300),
    /** Per client IP: requests to the dynamic registration endpoint POST /register (RFC 7591). */
    registrations: limit(20, 3600),
    /** Per client id: every token request of an authenticated client. */
    token_requests: limit(300_000, 60),
  })
  .prefault({});

export type MetricsConfig = z.output<typeof metricsSchema>;
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
export type RateLimitName = keyof RateLimitsConfig;
export type RateLimitConfig = RateLimitsConfig[RateLimitName];
