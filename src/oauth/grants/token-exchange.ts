import { TOKEN_EXCHANGE } from '../../config/vault.js';
import { verifyAccessToken } from '../access-tokens.js';
import { invalidRequest, invalidTarget } from '../errors.js';
import { freshUpstreamTokens } from '../upstream-tokens.js';
import { nowS } from '../../lib/clock.js';
import type { Grant } from './grant.js';
import { nativeSignIn } from './native-sign-in.js';
import { grantedScopes, upstreamConsent } from '../interaction/consents.js';
import { tokenUser } from '../token-user.js';
import { userTokensAllowed } from '../../identity/user.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * Token exchange (RFC 8693), outbound: a client presents a broker access token issued to it
 * and names a provider as `audience`; the answer is the user's token at that provider from the
 * vault, refreshed first when it is about to expire. Only for clients listing the grant and the
 * provider in `upstream_tokens`. The grant is offered (and advertised) only when some client may
 * use it.
 */
export const tokenExchangeGrant: Grant = {
  grantType: TOKEN_EXCHANGE,
  enabled: (oauth) => oauth.clients.all().some((c) => c.grant_types.includes(TOKEN_EXCHANGE)),
  async handle(ctx, client, params, oauth) {
    const subjectIssuer = params.get('subject_issuer', { max: 100 });
    if (subjectIssuer !== undefined) return nativeSignIn(ctx, client, params, oauth, subjectIssuer);
    const subjectToken = params.require('subject_token', { max: 8192 });
    const subjectType = params.require('subject_token_type', { max: 200 });
    // RFC 8693 §2.1: the subject is one of our access tokens, and nothing else is issued.
    if (subjectType !== ACCESS_TOKEN_TYPE) throw invalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const requested = params.get('requested_token_type', { max: 200 });
    if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
      throw invalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    }
    if (params.get('actor_token', { max: 8192 }) !== undefined) {
      throw invalidRequest('actor_token (delegation) is not supported');
    }
    if (params.get('resource', { max: 2048 }) !== undefined) {
      throw invalidTarget('name the provider with audience, not resource');
    }
    const provider = params.require('audience', { max: 100 });
    if (!client.upstream_tokens.includes(provider)) {
      throw invalidTarget(`this client may not read tokens of "${provider}" (upstream_tokens)`);
    }

    // RFC 8693 §2.2.2: an invalid or unacceptable subject_token is invalid_request.
    const claims = await verifyAccessToken(oauth, subjectToken);
    if (!claims || claims.exp <= nowS() || !claims.grant_id) {
      throw invalidRequest('subject_token is not a valid access token of a user');
    }
    if (claims.client_id !== client.client_id) throw invalidRequest('subject_token was issued to another client');
    // The broker user behind the token: its sub, or the user sealed in a pairwise client's token.
    const userId = tokenUser(client, claims);
    if (userId === undefined) throw invalidRequest('subject_token does not match its client');

    if (!client.first_party) {
      const granted = await grantedScopes(oauth.store, userId, client.client_id);
      if (!granted.includes(upstreamConsent(provider))) {
        throw invalidTarget(`the user has not allowed this app to use their ${provider} token`);
      }
    }
    const noToken = invalidTarget(`no ${provider} token is stored for this user`);
    if (!oauth.vault || !oauth.upstreamTokens?.stores(provider)) throw noToken;
    const user = await oauth.users.get(userId);
    if (user && !userTokensAllowed(user, claims.auth_time)) {
      throw invalidRequest('subject_token is not a valid access token of a user');
    }
    const identities = user?.identities.filter((i) => i.provider === provider) ?? [];
    const [stored] = await oauth.vault.read(userId, identities);
    if (!stored) throw noToken;

    const tokens = await freshUpstreamTokens(oauth, userId, stored);
    const expiresIn = tokens.expiresAt === undefined ? undefined : Math.max(0, tokens.expiresAt - nowS());
    return {
      access_token: tokens.accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: tokens.tokenType,
      ...(expiresIn !== undefined ? { expires_in: expiresIn } : {}),
      scope: tokens.scope,
    };
  },
};
