import { BrokerError } from '../../http/broker-error.js';
import { nowS } from '../../lib/clock.js';
import { userClaims } from '../claims.js';
import type { Client } from '../clients.js';
import type { OAuthContext } from '../context.js';
import { disabledAsInvalidGrant, invalidRequest, invalidScope, unauthorizedClient } from '../errors.js';
import { grantedScopes, missingScopes } from '../interaction/consents.js';
import type { Params } from '../params.js';
import { newGrantId } from '../record-keys.js';
import { mayRefresh, passwordScopes } from '../scope-policy.js';
import type { NativeTokenKind } from '../../upstream/types.js';
import type { TokenResponse } from './grant.js';
import { refreshTerms, userTokens } from './issue.js';
import type { Context } from 'koa';

const TOKEN_TYPES: Record<string, NativeTokenKind> = {
  'urn:ietf:params:oauth:token-type:id_token': 'id_token',
  'urn:ietf:params:oauth:token-type:access_token': 'access_token',
};

/**
 * Native sign-in, the inbound token exchange (RFC 8693 §2.1 with `subject_issuer`, as Keycloak
 * names it): a mobile app that signed the user in with a provider's own SDK presents the
 * provider's token and gets the broker's, for the same broker user a browser login at that
 * provider resolves to (same linking rules). Only clients listing the provider in
 * `native_providers`; public clients too (no PKCE: there is no authorization code).
 */
export async function nativeSignIn(
  ctx: Context,
  client: Client,
  params: Params,
  oauth: OAuthContext,
  provider: string,
): Promise<TokenResponse> {
  if (!client.native_providers.includes(provider)) {
    throw unauthorizedClient(`this client may not sign in with ${provider} tokens (native_providers)`);
  }
  const token = params.require('subject_token', { max: 16_384 });
  const typeName = params.require('subject_token_type', { max: 200 });
  const kind = TOKEN_TYPES[typeName];
  if (!kind) throw invalidRequest(`subject_token_type must be one of ${Object.keys(TOKEN_TYPES).join(', ')}`);
  const requested = params.get('requested_token_type', { max: 200 });
  if (requested !== undefined && requested !== 'urn:ietf:params:oauth:token-type:access_token') {
    throw invalidRequest('requested_token_type must be urn:ietf:params:oauth:token-type:access_token');
  }
  const { scopes, refused } = passwordScopes(params.get('scope', { max: 1000 }), client);
  if (refused.length > 0) throw invalidScope(`scope not allowed for this client: ${refused.join(' ')}`);
  if (!oauth.native) throw invalidRequest('native sign-in is not available');

  const check = await oauth.native.verify(provider, token, kind);
  const log = ctx.state.log ?? oauth.log;
  if (!check.ok) {
    log.warn({ client: client.client_id, provider, reason: check.reason }, 'native sign-in refused');
    if (check.unavailable) {
      throw new BrokerError('temporarily_unavailable', `${provider} cannot be reached right now`, 503);
    }
    // RFC 8693 §2.2.2: an invalid or unacceptable subject_token.
    throw invalidRequest(`subject_token refused: ${check.reason}`);
  }
  const { work } = ctx.state;
  const { user, created } = await oauth.users
    .resolve(check.identity, work, oauth.loginPolicy(provider), ctx.ip)
    .catch(disabledAsInvalidGrant);
  const scope = scopes.join(' ');
  if (!client.first_party) {
    const missing = missingScopes(await grantedScopes(oauth.store, user.id, client.client_id), scope);
    if (missing.length > 0) {
      throw invalidScope(
        `the user has not consented to ${missing.join(' ')} for this app; sign in once in the browser`,
      );
    }
  }
  const settings = oauth.config.tokens;
  const refresh = mayRefresh(
    client,
    scopes.includes('offline_access'),
    settings.first_party_refresh_without_offline_access,
  );
  const grant = {
    grantId: newGrantId(),
    clientId: client.client_id,
    userId: user.id,
    scope,
    authTime: nowS(),
    claims: userClaims(user, scopes),
  };
  const response = await userTokens(oauth, grant, work, refresh ? refreshTerms(oauth, scope) : undefined);
  await work.commit();
  if (created) log.info({ user: user.id, provider }, 'created a user at first login');
  log.info({ client: client.client_id, provider, user: user.id }, 'native sign-in succeeded');
  return { ...response, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
}
