import type { Config } from './config/schema.js';
import type { RateLimitName } from './config/operations.js';
import type { Logger } from './http/log.js';
import { Metrics, NO_METRICS, type BrokerMetrics } from './http/metrics.js';
import { Limit, type BrowserLimits } from './http/rate-limit.js';
import { clientLimits, type ClientLimits } from './oauth/index.js';
import { openRateWindow, type Store } from './store/index.js';

/** The operations side of one app: its metrics (when configured) and its rate limits. */
export interface Operations {
  /** The Prometheus registry's owner; undefined when `metrics:` is absent. */
  metrics?: Metrics;
  /** What the areas report to: the metrics, or NO_METRICS. */
  reporter: BrokerMetrics;
  browserLimits: BrowserLimits;
  clientLimits: ClientLimits;
  /** Wrong user codes on the device page. */
  deviceCodeLimit?: Limit;
  /** Requests to POST /register, per client IP (RFC 7591). */
  registrationLimit?: Limit;
  /** Route patterns of the client endpoints, whose error answers are counted by error code. */
  clientEndpoints: ReadonlyMap<string, string>;
}

/** Token requests are counted in leases of this share of the limit (one store call per lease). */
const TOKEN_LEASE_SHARE = 1 / 1000;

export function operations(config: Config, store: Store, log: Logger, base: string): Operations {
  const metrics = config.metrics ? new Metrics() : undefined;
  metrics?.watchStore(store);
  const reporter = metrics ?? NO_METRICS;
  const limitLog = log.child({ component: 'rate-limit' });
  const limit = (name: RateLimitName, lease = 1): Limit | undefined => {
    const { limit: max, window_s: windowS } = config.rate_limits[name];
    if (max === 0) return undefined;
    const counter = openRateWindow(store, name, max, windowS);
    return new Limit(name, counter, { log: limitLog, limited: (n) => reporter.rateLimited(n), lease });
  };
  const tokenLimit = config.rate_limits.token_requests.limit;
  return {
    metrics,
    reporter,
    browserLimits: {
      authorize: limit('authorize'),
      callback: limit('callback'),
      interaction: limit('interaction'),
      account: limit('account'),
    },
    deviceCodeLimit: limit('device_user_codes'),
    registrationLimit: limit('registrations'),
    clientLimits: clientLimits({
      failures: limit('client_auth_failures'),
      failuresPerIp: limit('client_auth_failures_per_ip'),
      tokens: limit('token_requests', Math.max(1, Math.floor(tokenLimit * TOKEN_LEASE_SHARE))),
    }),
    clientEndpoints: new Map([
      [`${base}/token`, 'token'],
      [`${base}/introspect`, 'introspection'],
      [`${base}/revoke`, 'revocation'],
    ]),
  };
}
