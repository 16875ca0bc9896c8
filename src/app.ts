import Koa from 'koa';
import Router from '@koa/router';
import type { Config } from './config/schema.js';
import { browserId } from './http/browser-id.js';
import { errorHandler } from './http/errors.js';
import { httpMetrics, type Metrics } from './http/metrics.js';
import { browserRateLimits, browserRateLimitVerdict } from './http/rate-limit.js';
import { operations } from './operations.js';
import { healthRouter } from './http/health.js';
import { leanFetch } from './http/lean-fetch.js';
import { createLogger, type Logger } from './http/log.js';
import { methodGuard, routePaths } from './http/methods.js';
import { requestContext } from './http/request-context.js';
import { routeKindOf, type RouteKinds } from './http/route-kind.js';
import { securityHeaders } from './http/security-headers.js';
import { accountArea } from './account/routes.js';
import { LocalAccounts } from './identity/local-accounts.js';
import { PasswordSourceUnavailable, type PasswordSource } from './identity/password-source.js';
import { createOAuth, deviceLoginHandler, hostRootMetadataRouter, oauthRouter, signInHandler } from './oauth/index.js';
import { TokenVault } from './identity/token-vault.js';
import { userKey } from './identity/user-records.js';
import { nowS } from './lib/clock.js';
import { cookieSecrets, sessionMiddleware, withoutSessionCookie } from './session/sessions.js';
import type { Store } from './store/index.js';
import { unitOfWork } from './request-state.js';
import { createUpstream, UpstreamFailure, type Fetch, type Upstream } from './upstream/index.js';
import { demoRouter } from './ui/demo.js';
import { renderErrorPage } from './ui/error-page.js';
import { staticRouter } from './ui/static.js';

export interface AppOptions {
  log?: Logger;
  /** The fetch used to reach upstream providers (tests inject one). */
  upstreamFetch?: Fetch;
  /** The config file's name, for error messages about provider entries. */
  configFile?: string;
}

export type BrokerApp = Koa & {
  /** Resolves once keys and cookie secrets are loaded; requests also wait for it. */
  ready(): Promise<void>;
  /**
   * Starts draining (/readyz answers 503 from now on) and stops background work (key refresh);
   * the caller closes the store.
   */
  stop(): void;
  /** The Prometheus metrics, when `metrics:` is configured (main.ts serves them on their own port). */
  metrics?: Metrics;
};

/**
 * Every route's kind, in one place: API routes answer errors as JSON (RFC 6749 §5.2; RFC 6750 §3
 * on the resource endpoints) whatever Accept says, browser routes as HTML pages. Paths are
 * relative to the issuer's path; a route missing here stops the app at start.
 */
export const ROUTE_KINDS: RouteKinds = {
  api: [
    '/device_authorization',
    '/token',
    '/introspect',
    '/revoke',
    '/userinfo',
    '/jwks',
    '/register',
    '/.well-known/',
    '/healthz',
    '/readyz',
  ],
  page: ['/device', '/authorize', '/interaction/', '/logout', '/callback/', '/upstream/', '/account', '/demo'],
  asset: ['/static/'],
};

/**
 * The routes outside the issuer's path, relative to the host's root: the RFC 8414 §3.1 metadata
 * of an issuer with a path, `/.well-known/oauth-authorization-server/<issuer path>`.
 */
export const HOST_ROOT_ROUTE_KINDS: RouteKinds = {
  api: ['/.well-known/oauth-authorization-server/'],
  page: [],
  asset: [],
};

/** The password grant's sources: local accounts, then the upstream entries with password_grant. */
function passwordSources(config: Config, store: Store, upstream: Upstream): PasswordSource[] {
  const sources: PasswordSource[] = [];
  const local = config.password_grant.local;
  if (local) {
    const accounts = new LocalAccounts(store, local, config.issuer);
    // The dummy hash that evens out unknown-user timing is made now, not at the first request.
    void accounts.warm().catch(() => undefined);
    sources.push(accounts);
  }
  for (const connector of upstream.passwords) {
    sources.push({
      id: connector.id,
      kind: 'upstream',
      async authenticate(login, password) {
        try {
          return await connector.authenticate(login, password);
        } catch (err) {
          if (err instanceof UpstreamFailure) throw new PasswordSourceUnavailable(err.description);
          throw err;
        }
      },
    });
  }
  return sources;
}

/** Builds the broker's Koa app; it does not listen, so tests and main.ts both mount it. */
export function createApp(config: Config, store: Store, options: AppOptions = {}): BrokerApp {
  const log = options.log ?? createLogger(config.log.level);
  const issuer = new URL(config.issuer);
  const https = issuer.protocol === 'https:';
  // Routes live under the issuer's path, so https://host/auth serves https://host/auth/authorize.
  const base = issuer.pathname.replace(/\/$/, '');

  const app = new Koa({ proxy: config.trust_proxy, maxIpsCount: config.trust_proxy ? 1 : 0 }) as BrokerApp;
  const ops = operations(config, store, log, base);
  app.metrics = ops.metrics;
  // Unknown errors are logged by errorHandler under the request id; Koa must not print them again.
  app.silent = true;

  // Built in dependency order: upstream/ first (the areas start logins through it), then the
  // areas, then upstream's callback routes with one handler per kind of login.
  // The upstream token vault: a login's provider tokens go from upstream/ straight into it.
  const vault = config.token_vault ? new TokenVault(store, config.token_vault) : undefined;
  const upstream = createUpstream({
    config,
    store,
    log: log.child({ component: 'upstream' }),
    // node:http instead of undici's fetch for the provider requests (src/http/lean-fetch.ts).
    fetch: options.upstreamFetch ?? leanFetch,
    configFile: options.configFile,
    metrics: ops.reporter,
    ...(vault
      ? {
          keeper: {
            keep: (work, { userId, identity, tokens }) => {
              const entry = { provider: identity.provider, subject: identity.subject, tokens, storedAt: nowS() };
              work.add(vault.putOp(userId, entry));
            },
          },
        }
      : {}),
  });
  const oauth = createOAuth(config, store, log, {
    login: upstream.login,
    passwordSources: passwordSources(config, store, upstream),
    metrics: ops.reporter,
    limits: ops.clientLimits,
    deviceCodeLimit: ops.deviceCodeLimit,
    registrationLimit: ops.registrationLimit,
    ...(vault ? { vault } : {}),
    upstreamTokens: upstream.tokens,
    native: upstream.native,
  });
  const account = accountArea({
    config,
    store,
    users: oauth.users,
    login: upstream.login,
    policy: oauth.loginPolicy,
    base,
    ...(vault ? { vault } : {}),
    upstreamTokens: upstream.tokens,
  });
  const callbacks = upstream.router({
    authorize: signInHandler(oauth),
    link: account.linkHandler,
    account: account.signInHandler,
    device: deviceLoginHandler(oauth),
  });

  // Keys and cookie secrets live in the store; a store that is down at start is retried per request.
  let initialising: Promise<void> | undefined;
  app.ready = () =>
    (initialising ??= (async () => {
      await oauth.keys.init();
      for (const id of await oauth.clientStore.shadowed()) {
        log.warn(
          { client: id },
          'this client id is in the configuration file and in the store: the configuration file wins',
        );
      }
      oauth.keys.startBackgroundRefresh();
      oauth.backchannel.start();
      app.keys = await cookieSecrets(store, config.session.cookie_secrets);
    })().catch((err: unknown) => {
      initialising = undefined;
      throw err;
    }));
  // Draining: once stopping, /readyz answers 503 so a balancer sends nothing new here.
  let draining = false;
  app.stop = () => {
    draining = true;
    oauth.keys.stop();
    oauth.backchannel.stop();
  };

  const always = new Router({ prefix: base || undefined });
  for (const router of [
    healthRouter(() => (draining ? Promise.reject(new Error('draining')) : store.ping())),
    staticRouter(() => upstream.login.buttons()),
  ]) {
    always.use(router.routes());
  }
  const areas = new Router({ prefix: base || undefined });
  const demo = config.demo ? [demoRouter({ issuer: config.issuer, clientId: config.demo.client_id, base })] : [];
  for (const router of [oauthRouter(oauth), callbacks, account.router, ...demo]) {
    areas.use(router.routes());
  }
  const hostRoot = hostRootMetadataRouter(oauth, base);
  const underIssuer = routeKindOf(ROUTE_KINDS, base);
  const atHostRoot = routeKindOf(HOST_ROOT_ROUTE_KINDS, '');
  const kindOf = (path: string) => underIssuer(path) ?? atHostRoot(path);
  for (const path of routePaths([always, hostRoot, areas])) {
    if (!kindOf(path)) throw new Error(`the route ${path} has no kind in ROUTE_KINDS`);
  }

  if (ops.metrics) app.use(httpMetrics(ops.metrics, ops.clientEndpoints));
  app.use(requestContext(log));
  app.use(securityHeaders({ https }));
  app.use(errorHandler((input) => renderErrorPage(input, base), kindOf));
  // Wrong methods are answered here, before any route, the store or a session is touched.
  app.use(methodGuard([always, hostRoot, areas]));
  app.use(always.routes());
  app.use(hostRoot.routes());
  // Keys and cookie secrets first: koa makes a request's cookie jar with the app's keys at its first
  // use (the rate limits' look for a session cookie), so a request that came in before the cookie
  // secret was loaded must not touch a cookie until it is (else: no keys to sign the session with).
  app.use(async (_ctx, next) => {
    await app.ready();
    await next();
  });
  // Without a session cookie there is no session read for a count to ride with: the authorize's
  // and the callback's counts wait for the route's first store step.
  app.use(browserRateLimits(ops.browserLimits, base, { noSession: (ctx) => withoutSessionCookie(ctx, https) }));
  // The browser binding and the SSO session are for pages: an API route (token, introspection,
  // userinfo…) reads no cookie, sets none and costs no session read, even when a browser sends one.
  // The session's user is read with the session, in one round trip (their keys share a hash tag).
  const bindBrowser = browserId({ https, path: base || '/' });
  const withSession = sessionMiddleware(app, store, config.session, { https, alsoRead: userKey });
  app.use((ctx, next) =>
    kindOf(ctx.path) === 'api' ? next() : bindBrowser(ctx, () => withSession(ctx, next) as Promise<void>),
  );
  app.use(browserRateLimitVerdict);
  app.use(unitOfWork(store));
  app.use(areas.routes());
  return app;
}
