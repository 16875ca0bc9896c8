import type { Context } from 'koa';
import { clientRequest } from './client-auth.js';
import type { OAuthContext } from './context.js';
import { unauthorizedClient, unsupportedGrantType } from './errors.js';
import type { Grant } from './grants/grant.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { clientCredentialsGrant } from './grants/client-credentials.js';
import { deviceCodeGrant } from './grants/device-code.js';
import { passwordGrant } from './grants/password.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import { tokenExchangeGrant } from './grants/token-exchange.js';

export const GRANTS: Grant[] = [
  authorizationCodeGrant,
  refreshTokenGrant,
  clientCredentialsGrant,
  passwordGrant,
  deviceCodeGrant,
  tokenExchangeGrant,
];

/**
 * POST /token: one pipeline every grant goes through (parse → authenticate the client → check
 * the client may use the grant → the grant's handler), answered with no-store (RFC 6749 §5.1).
 */
export function tokenEndpoint(oauth: OAuthContext, grants: Grant[] = GRANTS) {
  const byType = new Map(grants.map((g) => [g.grantType, g]));
  return async (ctx: Context) => {
    ctx.set('Pragma', 'no-cache');
    const { params, client } = await clientRequest(ctx, oauth.clients, 'token', oauth.limits);
    const grantType = params.require('grant_type', { max: 100 });
    const grant = byType.get(grantType);
    // A legacy grant with nothing behind it (password without a password source) does not exist here.
    if (!grant || grant.enabled?.(oauth) === false)
      throw unsupportedGrantType(`grant_type "${grantType}" is not supported`);
    if (!client.grant_types.includes(grantType as never))
      throw unauthorizedClient(`this client may not use the ${grantType} grant`);
    ctx.body = await grant.handle(ctx, client, params, oauth);
    oauth.metrics.tokenIssued(grantType);
  };
}
