import type { Context } from 'koa';
import { verifyAccessToken } from './access-tokens.js';
import { subjectFor } from './subjects.js';
import { tokenUser } from './token-user.js';
import { userClaims } from './claims.js';
import type { OAuthContext } from './context.js';
import { invalidRequest, invalidToken, missingToken } from './errors.js';
import { scopeSet } from './params.js';
import { BrokerError } from '../http/broker-error.js';
import { userTokensAllowed } from '../identity/user.js';

/** The bearer token of a request: the Authorization header, or the form body of a POST (RFC 6750 §2.1-2.2). */
function bearerToken(ctx: Context): string | undefined {
  // Never from the query string (RFC 6750 §2.3; RFC 9700 §4.3.2).
  if (new URLSearchParams(ctx.querystring).has('access_token')) {
    throw invalidRequest('access tokens must not be sent in the URL; use the Authorization header');
  }
  const header = ctx.get('authorization');
  const form: URLSearchParams | undefined = ctx.state.form;
  const fromBody = form?.getAll('access_token') ?? [];
  if (header && fromBody.length > 0) throw invalidRequest('the access token was sent in more than one way');
  if (fromBody.length > 1) throw invalidRequest('parameter "access_token" is repeated');
  if (header) {
    const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match) throw invalidToken('the Authorization header is not a Bearer token');
    return match[1];
  }
  return fromBody[0] || undefined;
}

/** GET|POST /userinfo (OIDC Core §5.3): claims of the token's user, as its scope allows. */
export function userinfoEndpoint(oauth: OAuthContext) {
  return async (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store');
    const token = bearerToken(ctx);
    if (!token) throw missingToken();
    const claims = await verifyAccessToken(oauth, token);
    if (!claims) throw invalidToken('the access token is invalid, expired or revoked');
    // A client_credentials token has no user; a token minted for another resource is not for us.
    if (claims.sub === claims.client_id && claims.auth_time === undefined)
      throw invalidToken('this access token does not represent a user');
    if (claims.aud !== claims.client_id) throw invalidToken('this access token was issued for another audience');
    const scopes = scopeSet(claims.scope);
    if (!scopes.includes('openid')) {
      const err = new BrokerError('insufficient_scope', 'the openid scope is required for userinfo', 403);
      err.headers = { 'WWW-Authenticate': 'Bearer realm="login-broker", error="insufficient_scope", scope="openid"' };
      throw err;
    }
    const client = await oauth.clients.find(claims.client_id);
    const userId = tokenUser(client, claims);
    if (userId === undefined) throw invalidToken('the access token does not match its client');
    const user = await oauth.users.get(userId);
    if (!user) throw invalidToken('the user of this access token no longer exists');
    // A disabled user's tokens, and those of their logins before it, are refused (RFC 6750 §3.1).
    if (!userTokensAllowed(user, claims.auth_time))
      throw invalidToken('the access token is invalid, expired or revoked');
    // The same sub as in the client's ID tokens (OIDC Core §5.3.2), pairwise or public.
    ctx.body = { ...userClaims(user, scopes), sub: subjectFor(client, user.id) };
  };
}
