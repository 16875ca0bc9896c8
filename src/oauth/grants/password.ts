import { createHash } from 'node:crypto';
import { normalizeLogin } from '../../identity/local-accounts.js';
import { PasswordSourceUnavailable, type PasswordSource } from '../../identity/password-source.js';
import { MAX_PASSWORD_LENGTH } from '../../identity/password-hash.js';
import type { ExternalIdentity } from '../../identity/users.js';
import { userClaims } from '../claims.js';
import type { Client } from '../clients.js';
import type { OAuthContext } from '../context.js';
import { disabledAsInvalidGrant, invalidGrant, invalidRequest, invalidScope, unauthorizedClient } from '../errors.js';
import { nowS } from '../../lib/clock.js';
import type { UnitOfWork } from '../../store/unit-of-work.js';
import { batchPerSlot } from '../../store/index.js';
import { newGrantId } from '../record-keys.js';
import { mayRefresh, passwordScopes } from '../scope-policy.js';
import type { Grant } from './grant.js';
import { refreshTerms, userTokens } from './issue.js';
import { BrokerError } from '../../http/broker-error.js';

/**
 * The resource-owner password credentials grant (RFC 6749 §4.3): legacy, opt-in (RFC 9700 §2.4).
 * Served only when a password source is configured, and only to confidential first_party clients
 * that list `password` (the config refuses it for others; checked again here). Every failure,
 * unknown user or wrong password, is the same invalid_grant after the same KDF work; failures
 * are counted per username and per IP with an exponential lock.
 */

const FAILED = 'the username or password is incorrect';

/** The scope of a password grant: what was asked (or the client's OIDC scopes), all allowed to it. */
const tag = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 12);

export const passwordGrant: Grant = {
  grantType: 'password',
  enabled: (oauth) => oauth.password.sources.size > 0,
  async handle(ctx, client, params, oauth) {
    if (client.token_endpoint_auth_method === 'none' || !client.first_party) {
      throw unauthorizedClient(
        'the password grant is only for confidential first-party clients (RFC 9700 section 2.4)',
      );
    }
    const { sources, lockout } = oauth.password;
    const login = params.require('username', { max: 254 });
    const password = params.require('password', { max: MAX_PASSWORD_LENGTH });
    const providerId = params.get('provider', { max: 63 });
    let source: PasswordSource | undefined;
    if (providerId !== undefined) {
      source = sources.get(providerId);
      if (!source) throw invalidRequest(`provider must be one of: ${[...sources.keys()].join(', ')}`);
    } else if (sources.size === 1) {
      source = [...sources.values()][0];
    } else {
      throw invalidRequest(`provider is required: one of ${[...sources.keys()].join(', ')}`);
    }
    const { scopes, refused } = passwordScopes(params.get('scope', { max: 1000 }), client);
    if (refused.length > 0) throw invalidScope(`scope not allowed for this client: ${refused.join(' ')}`);
    const log = ctx.state.log ?? oauth.log;
    // Logged instead of the login: a short hash (people type passwords into the username field).
    const who = { client: client.client_id, provider: source!.id, login_tag: tag(normalizeLogin(login)), ip: ctx.ip };

    const subjects = lockout.subjects(source!.id, normalizeLogin(login), ctx.ip);
    const locked = async (seconds: number) => {
      log.warn({ ...who, retry_after_s: seconds }, 'password grant refused: too many failed attempts');
      const err = invalidGrant('too many failed attempts; try again later');
      err.headers = { 'Retry-After': String(Math.max(1, seconds)) };
      return err;
    };
    const lockedFor = await lockout.lockedFor(subjects);
    if (lockedFor > 0) throw await locked(lockedFor);
    const attempt = await lockout.attempt(subjects);
    if (!attempt.allowed) {
      // Beyond a limit (attempts still in flight, or a lock just set): refused unchecked, so no failure.
      await lockout.release(subjects);
      throw await locked(await lockout.lockedFor(subjects));
    }

    let check;
    try {
      check = await source!.authenticate(login, password);
    } catch (err) {
      // Nothing was checked: the attempt is no failure.
      await lockout.release(subjects);
      if (err instanceof PasswordSourceUnavailable) {
        log.warn({ ...who, reason: err.message }, 'password grant: the provider cannot be reached');
        throw new BrokerError(
          'temporarily_unavailable',
          'the sign-in provider cannot be reached right now; try again later',
          503,
        );
      }
      throw err;
    }
    if (!check.ok) {
      const lockedNow = await lockout.failed(subjects, attempt.counts);
      log.warn(
        {
          ...who,
          ...(check.account ? { account: check.account } : {}),
          reason: check.reason,
          ...(lockedNow.length ? { locked: lockedNow } : {}),
        },
        'password grant failed',
      );
      throw invalidGrant(FAILED);
    }

    // The right password: the lock counts take this attempt back in the batch that stores the
    // tokens, or on their own if issuing fails before it.
    const succeeded = lockout.succeededOps(subjects);
    const { work } = ctx.state;
    let issued;
    try {
      issued = await prepareTokens(oauth, client, check.identity, source!.id, scopes, ctx.ip, work);
    } catch (err) {
      // Nothing of this request is stored; the lock counts still take the attempt back.
      await batchPerSlot(oauth.store, succeeded);
      throw err;
    }
    await work.commit(...succeeded);
    if (issued.created) log.info({ user: issued.userId, provider: source!.id }, 'created a user at first login');
    log.info({ client: client.client_id, provider: source!.id, user: issued.userId }, 'password grant succeeded');
    return issued.response;
  },
};

/** Resolves the user and makes the tokens; their writes go into the request's unit of work. */
async function prepareTokens(
  oauth: OAuthContext,
  client: Client,
  identity: ExternalIdentity,
  sourceId: string,
  scopes: string[],
  ip: string,
  work: UnitOfWork,
) {
  const { user, created } = await oauth.users
    .resolve(identity, work, oauth.loginPolicy(sourceId), ip)
    .catch(disabledAsInvalidGrant);
  const claims = userClaims(user, scopes);
  const scope = scopes.join(' ');
  const tokens = oauth.config.tokens;
  const refresh = mayRefresh(
    client,
    scopes.includes('offline_access'),
    tokens.first_party_refresh_without_offline_access,
  );
  const grant = { grantId: newGrantId(), clientId: client.client_id, userId: user.id, scope, authTime: nowS(), claims };
  const response = await userTokens(oauth, grant, work, refresh ? refreshTerms(oauth, scope) : undefined);
  return { response, userId: user.id, created };
}
