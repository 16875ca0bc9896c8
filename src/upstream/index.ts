import type Router from '@koa/router';
import type { Config } from '../config/schema.js';
import { NO_METRICS, type BrokerMetrics } from '../http/metrics.js';
import type { Store } from '../store/index.js';
import type { Fetch } from './client.js';
import { connectProvider } from './connect.js';
import type { CallbackConnector, PasswordConnector } from './connector.js';
import type { UpstreamLog } from './log.js';
import { upstreamLogin } from './login.js';
import type { ProviderDefinition } from './resolve.js';
import { upstreamRouter } from './routes.js';
import { nativeSignIn } from './native.js';
import { upstreamTokenService } from './token-service.js';
import type {
  LoginHandlers,
  UpstreamLogin,
  UpstreamNativeSignIn,
  UpstreamTokenKeeper,
  UpstreamTokenService,
} from './types.js';

export type { Fetch } from './client.js';
export type { PasswordConnector, UpstreamPasswordCheck } from './connector.js';
export type { ProviderDefinition } from './resolve.js';
export type { UpstreamLog } from './log.js';
export { DefinitionError, loadDefinition, parseDefinition } from './definition.js';
export { UpstreamFailure } from './errors.js';
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
  /** Where the tokens of providers with `store_tokens: true` are kept (the vault). */
  keeper?: UpstreamTokenKeeper;
}

export interface Upstream {
  login: UpstreamLogin;
  /** The upstream providers, resolved (the development form has no provider behind it). */
  providers: ReadonlyMap<string, ProviderDefinition>;
  /** The password logins, of the entries with `password_grant`, in configuration order. */
  passwords: readonly PasswordConnector[];
  /** The callback routes; a finished login goes to the handler of its context's kind. */
  router(handlers: LoginHandlers): Router;
  /** Refreshing and revoking stored provider tokens (the vault's side of upstream). */
  tokens: UpstreamTokenService;
  /** Checking what a native app got from a provider's SDK (inbound token exchange). */
  native: UpstreamNativeSignIn;
}

/**
 * The broker as an OAuth 2 / OIDC client of its upstream providers: every entry becomes its
 * connectors (connect.ts), at start, so a bad entry or provider file stops the broker. Built
 * before the areas that start logins (they get `login`); the areas' handlers are given to
 * `router` when the app is built.
 */
export function createUpstream(options: UpstreamOptions): Upstream {
  const { config, store, log } = options;
  const { configFile, fetch, providersDir } = options;
  const metrics = options.metrics ?? NO_METRICS;
  const steps = { brokerIssuer: config.issuer, configFile, fetch, providersDir, metrics };
  const connected = config.providers.map((entry, index) => connectProvider(entry, index, steps));
  const connectors = new Map<string, CallbackConnector>(connected.map((c) => [c.id, c.login]));
  const providers = new Map(connected.flatMap((c) => (c.definition ? [[c.id, c.definition] as const] : [])));
  const passwords = connected.flatMap((c) => (c.password ? [c.password] : []));
  const clients = new Map(
    connected.flatMap((c) =>
      c.definition && c.client ? [[c.id, { definition: c.definition, client: c.client }]] : [],
    ),
  );
  const deps = { issuer: config.issuer, store, log, connectors, metrics, keeper: options.keeper };
  return {
    login: upstreamLogin(deps),
    providers,
    passwords,
    router: (handlers) => upstreamRouter(deps, handlers),
    tokens: upstreamTokenService(clients, log),
    native: nativeSignIn(clients, store, fetch),
  };
}
