import type Router from '@koa/router';
import type { Config } from '../config/schema.js';
import { NO_METRICS, type BrokerMetrics } from '../http/metrics.js';
import type { Store } from '../store/index.js';
import type { UpstreamLog } from './log.js';
import { upstreamLogin } from './login.js';
import { resolveProvider, type Fetch, type Provider } from './provider.js';
import { upstreamRouter } from './routes.js';
import type { LoginHandlers, UpstreamLogin } from './types.js';

export type { Provider } from './provider.js';
export type { UpstreamLog } from './log.js';
export { DefinitionError, loadDefinition, parseDefinition } from './definition.js';
export { TRANSACTION_TTL_S } from './transaction.js';

export interface UpstreamOptions {
  config: Pick<Config, 'issuer' | 'providers'>;
  store: Store;
  log: UpstreamLog;
  /** The fetch used for every request to providers (tests inject one); global fetch otherwise. */
  fetch?: Fetch;
  /** Where provider files live; the shipped providers/ directory otherwise. */
  providersDir?: URL;
  /** The configuration file's name, for start-up errors. */
  configFile?: string;
  /** Where logins, upstream errors and provider request times are counted. */
  metrics?: BrokerMetrics;
}

export interface Upstream {
  login: UpstreamLogin;
  providers: ReadonlyMap<string, Provider>;
  /** The callback routes; a finished login goes to the handler of its context's kind. */
  router(handlers: LoginHandlers): Router;
}

/**
 * The broker as an OAuth 2 / OIDC client of its upstream providers. Built before the areas that
 * start logins (they get `login`); the areas' handlers are given to `router` when the app is built.
 */
export function createUpstream(options: UpstreamOptions): Upstream {
  const { config, store, log } = options;
  const metrics = options.metrics ?? NO_METRICS;
  const providers = new Map<string, Provider>();
  config.providers.forEach((entry, index) => {
    providers.set(
      entry.id,
      resolveProvider(entry, index, {
        brokerIssuer: config.issuer,
        ...(options.configFile ? { configFile: options.configFile } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.providersDir ? { providersDir: options.providersDir } : {}),
        metrics,
      }),
    );
  });
  const deps = { issuer: config.issuer, store, log, providers, metrics };
  return { login: upstreamLogin(deps), providers, router: (handlers) => upstreamRouter(deps, handlers) };
}
