import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { loginPolicies } from '../identity/login-policy.js';
import { Users } from '../identity/users.js';
import type { Store } from '../store/index.js';
import { ClientAssertions } from './client-assertion.js';
import type { UpstreamLogin, UpstreamNativeSignIn, UpstreamTokenService } from '../upstream/types.js';
import type { TokenVault } from '../identity/token-vault.js';
import { ClientRegistry } from './clients.js';
import { ClientStore } from './client-store.js';
import { MetadataDocuments } from './registration/metadata-documents.js';
import { isLoopbackHost } from '../config/urls.js';
import { SectorIdentifiers } from './sector-identifier.js';
import type { OAuthContext } from './context.js';
import { TokenIssuer } from './issuer.js';
import { Jwt } from './jwt.js';
import { SigningKeys } from './keys.js';
import { TokenRecords } from './token-records.js';
import { BackchannelLogout } from './backchannel/delivery.js';
import { Lockout } from './grants/password-lockout.js';
import type { PasswordSource } from '../identity/password-source.js';
import { NO_METRICS, type BrokerMetrics } from '../http/metrics.js';
import { NO_CLIENT_LIMITS, type ClientLimits } from './client-limits.js';
import type { Limit } from '../http/rate-limit.js';

export type { OAuthContext } from './context.js';
export { hostRootMetadataRouter, oauthRouter } from './router.js';
export { signInHandler } from './interaction/sign-in-handler.js';
export { deviceLoginHandler } from './device/verification.js';
export { clientLimits, type ClientLimits } from './client-limits.js';

/**
 * Builds the authorization server's shared parts from config. Upstream logins are started
 * through `login`, which upstream/ built first; password grant sources come ready-made.
 */
export function createOAuth(
  config: Config,
  store: Store,
  log: Logger,
  parts: {
    login: UpstreamLogin;
    passwordSources: readonly PasswordSource[];
    metrics?: BrokerMetrics;
    limits?: ClientLimits;
    deviceCodeLimit?: Limit;
    registrationLimit?: Limit;
    vault?: TokenVault;
    upstreamTokens?: UpstreamTokenService;
    native?: UpstreamNativeSignIn;
  },
): OAuthContext {
  const t = config.tokens;
  const keyLifetime = Math.max(t.access_token_ttl_s, t.id_token_ttl_s) + 300;
  const keys = new SigningKeys(store, config.keys, keyLifetime, log.child({ component: 'keys' }));
  const jwt = new Jwt(keys, config.issuer);
  const clients = new ClientRegistry(config.clients, {
    assertions: new ClientAssertions(store, config.issuer, log.child({ component: 'client-auth' })),
    pairwiseSalt: config.subjects.pairwise_salt,
    sectors: new SectorIdentifiers(log.child({ component: 'clients' })),
  });
  const clientStore = new ClientStore(store, clients, log.child({ component: 'clients' }));
  if (config.registration.client_id_metadata_documents) {
    clients.useDocuments(
      new MetadataDocuments({
        limits: config.registration.metadata_documents,
        // http and loopback addresses only for a loopback issuer: a test setup, never production.
        allowLoopback: isLoopbackHost(new URL(config.issuer).hostname),
        log: log.child({ component: 'clients' }),
      }),
    );
  }
  return {
    config,
    store,
    clients,
    clientStore,
    keys,
    jwt,
    tokens: new TokenIssuer(jwt, t),
    records: new TokenRecords(store, {
      code: t.code_ttl_s,
      accessToken: t.access_token_ttl_s,
      refreshIdle: t.refresh_token_idle_ttl_s,
      refreshAbsolute: t.refresh_token_absolute_ttl_s,
    }),
    users: new Users(store),
    login: parts.login,
    loginPolicy: loginPolicies(config.providers),
    password: {
      sources: new Map(parts.passwordSources.map((source) => [source.id, source])),
      lockout: new Lockout(store, config.password_grant.lockout),
    },
    log,
    base: new URL(config.issuer).pathname.replace(/\/$/, ''),
    metrics: parts.metrics ?? NO_METRICS,
    limits: parts.limits ?? NO_CLIENT_LIMITS,
    deviceCodeLimit: parts.deviceCodeLimit,
    registrationLimit: parts.registrationLimit,
    backchannel: new BackchannelLogout({
      store,
      jwt,
      clients,
      log: log.child({ component: 'backchannel-logout' }),
      config: config.backchannel_logout,
    }),
    ...(parts.vault ? { vault: parts.vault } : {}),
    ...(parts.upstreamTokens ? { upstreamTokens: parts.upstreamTokens } : {}),
    ...(parts.native ? { native: parts.native } : {}),
  };
}
