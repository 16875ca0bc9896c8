import type { Config } from '../config/schema.js';
import type { BrokerMetrics } from '../http/metrics.js';
import type { LoginPolicy, Users } from '../identity/users.js';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import type { UpstreamLogin, UpstreamNativeSignIn, UpstreamTokenService } from '../upstream/types.js';
import type { TokenVault } from '../identity/token-vault.js';
import type { ClientRegistry } from './clients.js';
import type { ClientStore } from './client-store.js';
import type { TokenIssuer } from './issuer.js';
import type { Jwt } from './jwt.js';
import type { SigningKeys } from './keys.js';
import type { Lockout } from './grants/password-lockout.js';
import type { PasswordSource } from '../identity/password-source.js';
import type { TokenRecords } from './token-records.js';
import type { ClientLimits } from './client-limits.js';
import type { Limit } from '../http/rate-limit.js';
import type { BackchannelLogout } from './backchannel/delivery.js';

/** What the authorization server's handlers share; built once in createOAuth(). */
export interface OAuthContext {
  config: Config;
  store: Store;
  clients: ClientRegistry;
  /** Clients created at run time (CLI, registration), found through `clients`. */
  clientStore: ClientStore;
  keys: SigningKeys;
  jwt: Jwt;
  tokens: TokenIssuer;
  records: TokenRecords;
  users: Users;
  login: UpstreamLogin;
  /** Each provider's login policy (`sync`, `link_by_email`). */
  loginPolicy(providerId: string): LoginPolicy;
  log: Logger;
  /** Password grant sources (local accounts, upstream ROPC) by id; empty when the grant is off. */
  password: { sources: Map<string, PasswordSource>; lockout: Lockout };
  /** The issuer's path ('' or '/auth'), prefixed to every link the pages render. */
  base: string;
  /** What the endpoints report to Prometheus (NO_METRICS when metrics are off). */
  metrics: BrokerMetrics;
  /** Rate limits of the client-authenticated endpoints (NO_CLIENT_LIMITS in unit tests). */
  limits: ClientLimits;
  /** Wrong user codes on the device page, per IP and per browser (RFC 8628 §5.1); off when absent. */
  deviceCodeLimit?: Limit;
  /** Requests to POST /register per client IP (RFC 7591); off when absent. */
  registrationLimit?: Limit;
  /** Back-Channel Logout: told when a session ends. */
  backchannel: BackchannelLogout;
  /** The upstream token vault, when `token_vault` is configured; and refreshing what it keeps. */
  vault?: TokenVault;
  upstreamTokens?: UpstreamTokenService;
  /** Checking a native app's provider token (inbound token exchange). */
  native?: UpstreamNativeSignIn;
}
