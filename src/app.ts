import Koa from 'koa';
import Router from '@koa/router';
import type { Config } from './config/schema.js';
import type { Store } from './store/index.js';
import { errorHandler } from './http/errors.js';
import { healthRouter } from './http/health.js';
import { createLogger, type Logger } from './http/log.js';
import { requestContext } from './http/request-context.js';
import { securityHeaders } from './http/security-headers.js';
import { renderErrorPage } from './ui/error-page.js';
import { staticRouter } from './ui/static.js';

export interface AppOptions {
  log?: Logger;
}

/** Builds the broker's Koa app; it does not listen, so tests and main.ts both mount it. */
export function createApp(config: Config, store: Store, options: AppOptions = {}): Koa {
  const log = options.log ?? createLogger(config.log.level);
  const issuer = new URL(config.issuer);
  // Routes live under the issuer's path, so https://host/auth serves https://host/auth/authorize.
  const base = issuer.pathname.replace(/\/$/, '');

  const app = new Koa({ proxy: config.trust_proxy, maxIpsCount: config.trust_proxy ? 1 : 0 });
  // Unknown errors are logged by errorHandler under the request id; Koa must not print them again.
  app.silent = true;

  app.use(requestContext(log));
  app.use(securityHeaders({ https: issuer.protocol === 'https:' }));
  app.use(errorHandler((input) => renderErrorPage(input, base)));

  const root = new Router({ prefix: base || undefined });
  for (const router of [healthRouter(() => store.ping()), staticRouter()]) {
    root.use(router.routes(), router.allowedMethods());
  }
  app.use(root.routes());
  app.use(root.allowedMethods());
  return app;
}
