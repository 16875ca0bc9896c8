import type { Middleware } from 'koa';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { CounterFamily, HistogramFamily, ReadMetric, type CounterCell, type HistogramCell } from './metric-families.js';

/** The step of an upstream login a request to a provider belongs to. */
export type UpstreamStep = 'discovery' | 'jwks' | 'token' | 'userinfo' | 'api';

/**
 * What the areas report. Every method costs a few Map lookups and an increment; with metrics
 * off the areas get NO_METRICS, whose methods do nothing.
 */
export interface BrokerMetrics {
  /** A finished upstream login: `success`, `denied`, the upstream error class, or `error`. */
  login(provider: string, outcome: string): void;
  upstreamRequest(provider: string, step: UpstreamStep, seconds: number): void;
  upstreamError(provider: string, kind: string): void;
  tokenIssued(grantType: string): void;
  rateLimited(limit: string): void;
}

export const NO_METRICS: BrokerMetrics = {
  login() {},
  upstreamRequest() {},
  upstreamError() {},
  tokenIssued() {},
  rateLimited() {},
};

/** The store's counters as metrics read them (src/store/stats.ts has that shape). */
export interface StoreReadings {
  readonly stats: {
    roundTrips: number;
    commands: number;
    unavailable: number;
    refused: number;
    limiterRoundTrips: number;
  };
  isUp(): boolean;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPSTREAM_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The cells of one route: its duration histogram and its counters by method and status. */
interface RouteCells {
  duration: HistogramCell;
  requests: Map<string, Map<number, CounterCell>>;
}

/** The broker's Prometheus metrics, in a registry of their own (GET /metrics on its own port). */
export class Metrics implements BrokerMetrics {
  readonly registry = new Registry();
  readonly #requests = new CounterFamily(
    'login_broker_http_requests_total',
    'HTTP requests answered, by route pattern, method and status',
    ['route', 'method', 'status'],
  );
  readonly #duration = new HistogramFamily(
    'login_broker_http_request_duration_seconds',
    'Time to answer an HTTP request, by route pattern',
    ['route'],
    HTTP_BUCKETS,
  );
  readonly #logins = new CounterFamily(
    'login_broker_logins_total',
    'Finished upstream logins, by provider and outcome',
    ['provider', 'outcome'],
  );
  readonly #upstreamDuration = new HistogramFamily(
    'login_broker_upstream_request_duration_seconds',
    'Time until a provider answered (headers), by provider and step',
    ['provider', 'step'],
    UPSTREAM_BUCKETS,
  );
  readonly #upstreamErrors = new CounterFamily(
    'login_broker_upstream_errors_total',
    'Failed upstream logins and discoveries, by provider and kind',
    ['provider', 'kind'],
  );
  readonly #tokens = new CounterFamily(
    'login_broker_tokens_issued_total',
    'Successful token responses, by grant type',
    ['grant_type'],
  );
  readonly #tokenErrors = new CounterFamily(
    'login_broker_token_errors_total',
    'Error answers of the token, introspection and revocation endpoints',
    ['endpoint', 'error'],
  );
  readonly #rateLimited = new CounterFamily('login_broker_rate_limited_total', 'Requests refused with 429, by limit', [
    'limit',
  ]);
  readonly #routes = new Map<string, RouteCells>();

  constructor(options: { defaultMetrics?: boolean } = {}) {
    for (const metric of [
      this.#requests,
      this.#duration,
      this.#logins,
      this.#upstreamDuration,
      this.#upstreamErrors,
      this.#tokens,
      this.#tokenErrors,
      this.#rateLimited,
    ]) {
      this.registry.registerMetric(metric as never);
    }
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Reads the store's counters at each scrape. */
  watchStore(store: StoreReadings): void {
    const s = store.stats;
    const read = (name: string, help: string, type: 'counter' | 'gauge', value: () => number) =>
      this.registry.registerMetric(new ReadMetric(name, help, type, () => [{ value: value(), labels: {} }]) as never);
    read(
      'login_broker_store_commands_total',
      'Commands sent to the store (each op of a batch is one)',
      'counter',
      () => s.commands,
    );
    read(
      'login_broker_store_round_trips_total',
      'Round trips to the store, the rate limiters’ included',
      'counter',
      () => s.roundTrips + s.limiterRoundTrips,
    );
    read(
      'login_broker_store_up',
      'Whether the store is answering (1) or not (0), as this process last saw it',
      'gauge',
      () => (store.isUp() ? 1 : 0),
    );
    this.registry.registerMetric(
      new ReadMetric(
        'login_broker_store_errors_total',
        'Failed store calls: unavailable (down, timed out) or refused',
        'counter',
        () => [
          { value: s.unavailable, labels: { kind: 'unavailable' } },
          { value: s.refused, labels: { kind: 'refused' } },
        ],
      ) as never,
    );
  }

  request(route: string, method: string, status: number, seconds: number): void {
    let cells = this.#routes.get(route);
    if (!cells) {
      cells = { duration: this.#duration.cells.at(route), requests: new Map() };
      this.#routes.set(route, cells);
    }
    this.#duration.observe(cells.duration, seconds);
    const m = METHODS.has(method) ? method : 'OTHER';
    let byStatus = cells.requests.get(m);
    if (!byStatus) {
      byStatus = new Map();
      cells.requests.set(m, byStatus);
    }
    let cell = byStatus.get(status);
    if (!cell) {
      cell = this.#requests.cells.at(route, m, status);
      byStatus.set(status, cell);
    }
    cell.value++;
  }

  login(provider: string, outcome: string): void {
    this.#logins.inc(provider, outcome);
  }

  upstreamRequest(provider: string, step: UpstreamStep, seconds: number): void {
    this.#upstreamDuration.observe(this.#upstreamDuration.cells.at(provider, step), seconds);
  }

  upstreamError(provider: string, kind: string): void {
    this.#upstreamErrors.inc(provider, kind);
  }

  tokenIssued(grantType: string): void {
    this.#tokens.inc(grantType);
  }

  tokenError(endpoint: string, error: string): void {
    this.#tokenErrors.inc(endpoint, error);
  }

  rateLimited(limit: string): void {
    this.#rateLimited.inc(limit);
  }
}

const ERROR_CODE = /^[a-z_]{1,40}$/;

/**
 * Counts every answer by the route pattern the router matched (never the raw path; 'unmatched'
 * when none did), and the error answers of the client endpoints (`endpoints`: route pattern →
 * endpoint name). Placed first, so it sees the status the error handler settled on.
 */
export function httpMetrics(metrics: Metrics, endpoints: ReadonlyMap<string, string>): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      const status = ctx.status;
      metrics.request(route, ctx.method, status, (performance.now() - started) / 1000);
      if (status >= 400) {
        const endpoint = endpoints.get(route);
        if (endpoint) {
          const error = (ctx.body as { error?: unknown } | null | undefined)?.error;
          metrics.tokenError(endpoint, typeof error === 'string' && ERROR_CODE.test(error) ? error : 'other');
        }
      }
    }
  };
}
