import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { Users } from '../identity/users.js';
import type { Store } from '../store/index.js';
import type { UpstreamLogin } from '../upstream/types.js';
import { ClientRegistry } from './clients.js';
import type { OAuthContext } from './context.js';
import { TokenIssuer } from './issuer.js';
import { Jwt } from './jwt.js';
import { SigningKeys } from './keys.js';
import { TokenRecords } from './token-records.js';
import { Lockout } from './grants/password-lockout.js';
import type { PasswordSource } from '../identity/password-source.js';

export type { OAuthContext } from './context.js';
export { oauthRouter } from './router.js';
export { failInteraction, finishInteraction } from './interaction.js';

/**
 * Builds the authorization server's shared parts from config. `login` is filled in by the app
 * once upstream/ exists (they need each other: upstream finishes into oauth's interactions).
 */
export function createOAuth(
  config: Config,
  store: Store,
  log: Logger,
): OAuthContext & { setLogin(login: UpstreamLogin): void; addPasswordSource(source: PasswordSource): void } {
  const t = config.tokens;
  const keys = new SigningKeys(store, config.keys, Math.max(t.access_token_ttl_s, t.id_token_ttl_s) + 300, log.child({ component: 'keys' }));
  const jwt = new Jwt(keys, config.issuer);
  const oauth = {
    config,
    store,
    clients: new ClientRegistry(config.clients),
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
    login: undefined as unknown as UpstreamLogin,
    password: { sources: new Map<string, PasswordSource>(), lockout: new Lockout(store, config.password_grant.lockout) },
    log,
    base: new URL(config.issuer).pathname.replace(/\/$/, ''),
    setLogin(login: UpstreamLogin) {
      oauth.login = login;
    },
    addPasswordSource(source: PasswordSource) {
      oauth.password.sources.set(source.id, source);
    },
  };
  return oauth;
}
