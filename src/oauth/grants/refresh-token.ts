import { userClaims } from '../claims.js';
import { invalidGrant, invalidScope } from '../errors.js';
import { refreshScopes } from '../scope-policy.js';
import type { Grant } from './grant.js';
import { userTokens } from './issue.js';
import { nowS } from '../../lib/clock.js';
import { userTokensAllowed } from '../../identity/user.js';
import { clientGrantAllowed } from '../clients.js';

/**
 * RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2): every use returns a new
 * refresh token. The token is read first and spent only by the rotation that writes its
 * successor, so a refused request (scope, expiry, user) leaves it as it was. Presenting a
 * rotated token revokes the whole grant, unless it is a retry within the configured window
 * while its successor is unused: then it gets a new pair and that successor is retired.
 */
export const refreshTokenGrant: Grant = {
  grantType: 'refresh_token',
  async handle(ctx, client, params, oauth) {
    const token = params.require('refresh_token', { max: 256 });
    const requested = params.get('scope', { max: 1000 });
    const grace = oauth.config.tokens.refresh_token_reuse_grace_s;
    const replayed = async (grantId: string) => {
      await oauth.records.revokeGrant(grantId);
      ctx.state.log?.warn({ client: client.client_id, grant: grantId }, 'refresh token reused: grant revoked');
      return invalidGrant('the refresh token was already used; every token of this grant is revoked');
    };

    const found = await oauth.records.findRefreshToken(token, grace);
    if (found.status === 'unknown') throw invalidGrant('the refresh token is invalid, expired or revoked');
    if (found.status === 'revoked') throw invalidGrant('the refresh token was revoked');
    if (found.status === 'replayed') throw await replayed(found.grantId);
    const record = found.record;

    if (record.clientId !== client.client_id) {
      // Another client holding this token means it leaked: the grant is revoked (RFC 6749 §10.4).
      await oauth.records.revokeGrant(record.grantId);
      throw invalidGrant('the refresh token was issued to another client');
    }
    if (record.expiresAt <= nowS()) throw invalidGrant('the refresh token has expired');
    // Issued to an earlier client of this id, removed since (RFC 6749 §5.2: the grant is revoked).
    if (!clientGrantAllowed(client, record.clientGen)) throw invalidGrant('the refresh token was revoked');

    const narrowed = refreshScopes(record.scope, requested);
    if (narrowed.refused.length > 0)
      throw invalidScope(`scope beyond the original grant: ${narrowed.refused.join(' ')}`);
    const scope = narrowed.scopes.join(' ');

    const user = await oauth.users.get(record.userId);
    if (!user) {
      await oauth.records.revokeGrant(record.grantId);
      throw invalidGrant('the user of this refresh token no longer exists');
    }
    // A disabled user's grants, and those of their logins before it, are dead (RFC 6749 §5.2).
    if (!userTokensAllowed(user, record.authTime)) throw invalidGrant('the refresh token was revoked');
    const claims = userClaims(user, narrowed.scopes);
    const response = await userTokens(oauth, { ...record, scope, claims }, ctx.state.work);
    // Last, so nothing can fail once the old token is spent. The new refresh token keeps the
    // original scope (RFC 6749 §6); the access token may be narrower.
    const rotated = await oauth.records.rotateRefreshToken(found, grace);
    if (rotated.status === 'replayed') throw await replayed(rotated.grantId);
    if (rotated.status === 'revoked') throw invalidGrant('the refresh token was revoked');
    if (rotated.status === 'unknown') throw invalidGrant('the refresh token is invalid, expired or revoked');
    response.refresh_token = rotated.token;
    return response;
  },
};
