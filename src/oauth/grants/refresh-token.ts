import { userClaims } from '../claims.js';
import { invalidGrant, invalidScope } from '../errors.js';
import { scopeSet } from '../params.js';
import type { RefreshRecord } from '../token-records.js';
import type { Grant } from './grant.js';
import { userTokens } from './issue.js';

/**
 * RFC 6749 §6 with rotation and reuse detection (RFC 9700 §4.14.2): every use returns a new
 * refresh token; presenting a rotated one revokes the whole grant, unless it is the immediately
 * previous token, retried within the configured grace window while its successor is unused.
 */
export const refreshTokenGrant: Grant = {
  grantType: 'refresh_token',
  async handle(ctx, client, params, oauth) {
    const token = params.require('refresh_token', { max: 256 });
    const requested = params.get('scope', { max: 1000 });
    const taken = await oauth.records.takeRefreshToken(token);

    let record: RefreshRecord;
    if (taken.status === 'unknown') throw invalidGrant('the refresh token is invalid, expired or revoked');
    if (taken.status === 'revoked') throw invalidGrant('the refresh token was revoked');
    if (taken.status === 'replayed') {
      const used = taken.used!;
      const grace = oauth.config.tokens.refresh_token_reuse_grace_s;
      const withinGrace = grace > 0 && Math.floor(Date.now() / 1000) - used.at <= grace;
      if (withinGrace && !used.next) {
        // The first use is still being answered: no revocation, the caller may retry.
        throw invalidGrant('this refresh token is being rotated by a concurrent request; retry');
      }
      if (!withinGrace || !used.record || used.record.client_id !== client.client_id || !(await oauth.records.isLive(used.next!))) {
        await oauth.records.revokeGrant(taken.grantId);
        ctx.state.log?.warn({ client: client.client_id, grant: taken.grantId }, 'refresh token reused: grant revoked');
        throw invalidGrant('the refresh token was already used; every token of this grant is revoked');
      }
      record = used.record;
    } else {
      record = taken.record;
    }

    if (record.client_id !== client.client_id) {
      // Another client holding this token means it leaked: the grant is revoked (RFC 6749 §10.4).
      await oauth.records.revokeGrant(record.grant_id);
      throw invalidGrant('the refresh token was issued to another client');
    }
    if (record.expires_at <= Math.floor(Date.now() / 1000)) throw invalidGrant('the refresh token has expired');

    const granted = scopeSet(record.scope);
    let scope = record.scope;
    if (requested !== undefined) {
      const asked = scopeSet(requested);
      const broader = asked.filter((s) => !granted.includes(s));
      if (broader.length > 0) throw invalidScope(`scope beyond the original grant: ${broader.join(' ')}`);
      scope = asked.join(' ');
    }

    const user = await oauth.users.get(record.user_id);
    if (!user) {
      await oauth.records.revokeGrant(record.grant_id);
      throw invalidGrant('the user of this refresh token no longer exists');
    }
    // The new refresh token keeps the original scope (RFC 6749 §6); the access token may be narrower.
    const { response, ops, refreshHash } = await userTokens(
      oauth,
      {
        clientId: client.client_id,
        userId: record.user_id,
        scope,
        grantId: record.grant_id,
        authTime: record.auth_time,
        sid: record.sid,
        resource: record.resource,
        claims: userClaims(user, scopeSet(scope)),
      },
      { expires_at: record.expires_at, offline: record.offline },
      record.scope,
    );
    const rotation = taken.status === 'ok' ? oauth.records.rotatedOps(token, refreshHash!, record, Math.floor(Date.now() / 1000)) : [];
    await oauth.store.batch([...ops, ...rotation]);
    return response;
  },
};
