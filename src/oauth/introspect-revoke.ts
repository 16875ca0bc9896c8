import type { Context } from 'koa';
import { verifyAccessToken, type AccessTokenClaims } from './access-tokens.js';
import { clientRequest } from './client-auth.js';
import { clientGrantAllowed, type Client } from './clients.js';
import type { OAuthContext } from './context.js';
import { unauthorizedClient } from './errors.js';
import { nowS } from '../lib/clock.js';
import { subjectFor } from './subjects.js';
import { verifyLiveAccessToken } from './live-access-token.js';
import { userTokensAllowed } from '../identity/user.js';

const looksLikeJwt = (token: string) => token.split('.').length === 3;

/** A client may see and revoke only tokens issued to it, or meant for it as the audience. */
function concerns(client: Client, claims: { client_id: string; aud?: unknown }): boolean {
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  return claims.client_id === client.client_id || aud.includes(client.client_id);
}

/** POST /introspect (RFC 7662): inactive for anything unknown, expired, revoked or foreign. */
export function introspectionEndpoint(oauth: OAuthContext) {
  return async (ctx: Context) => {
    const { params, client } = await clientRequest(ctx, oauth.clients, 'introspection', oauth.limits);
    const token = params.require('token', { max: 8192 });
    const hint = params.get('token_type_hint');

    const asAccess = async () => {
      if (!looksLikeJwt(token)) return undefined;
      // A user's token is inactive once the user is disabled (read in the same round trip).
      const claims = await verifyLiveAccessToken(oauth, token);
      return claims && concerns(client, claims) ? accessTokenAnswer(claims, oauth.config.issuer) : undefined;
    };
    const asRefresh = async () => {
      if (looksLikeJwt(token)) return undefined;
      const record = await oauth.records.peekRefreshToken(token);
      if (!record || record.clientId !== client.client_id || record.expiresAt <= nowS()) return undefined;
      if (!clientGrantAllowed(client, record.clientGen)) return undefined;
      if (!(await userAllows(oauth, record.userId, record.authTime))) return undefined;
      return {
        active: true,
        token_type: 'refresh_token',
        client_id: record.clientId,
        sub: subjectFor(client, record.userId),
        scope: record.scope,
        exp: record.expiresAt,
        iss: oauth.config.issuer,
      };
    };
    const order = hint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh];
    for (const attempt of order) {
      const answer = await attempt();
      if (answer) {
        ctx.body = answer;
        return;
      }
    }
    ctx.body = { active: false };
  };
}

/** Whether the user behind a token exists and may still use tokens of a login at `authTime`. */
async function userAllows(oauth: OAuthContext, userId: string, authTime: number): Promise<boolean> {
  const user = await oauth.users.get(userId);
  return user !== undefined && userTokensAllowed(user, authTime);
}

function accessTokenAnswer(claims: AccessTokenClaims, issuer: string) {
  return {
    active: true,
    token_type: 'Bearer',
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    iss: issuer,
    exp: claims.exp,
    iat: claims.iat,
    jti: claims.jti,
    ...(claims.auth_time !== undefined ? { auth_time: claims.auth_time } : {}),
  };
}

/**
 * POST /revoke (RFC 7009). Revoking a refresh token revokes its grant, access tokens included
 * (§2.1). Unknown or invalid tokens get a 200 and nothing happens (§2.2). A valid token issued to
 * another client is refused and left alone (§2.1: the server verifies the token was issued to the
 * client making the request; if not, the request is refused and the client informed).
 */
export function revocationEndpoint(oauth: OAuthContext) {
  return async (ctx: Context) => {
    const { params, client } = await clientRequest(ctx, oauth.clients, 'revocation', oauth.limits);
    const token = params.require('token', { max: 8192 });
    if (looksLikeJwt(token)) {
      const claims = await verifyAccessToken(oauth, token);
      if (claims) {
        refuseForeign(client, claims.client_id);
        await oauth.records.revokeAccessToken(claims.jti, claims.exp);
      }
    } else {
      const record = await oauth.records.peekRefreshToken(token);
      if (record) {
        refuseForeign(client, record.clientId);
        await oauth.records.revokeGrant(record.grantId);
      }
    }
    ctx.status = 200;
    ctx.body = '';
  };
}

function refuseForeign(client: Client, issuedTo: string): void {
  if (issuedTo !== client.client_id) {
    throw unauthorizedClient('the token was not issued to this client (RFC 7009 section 2.1)');
  }
}
