import type { OAuthContext } from '../context.js';
import type { RefreshRecord } from '../token-records.js';
import type { StoreOp } from '../../store/index.js';
import type { TokenResponse } from './grant.js';

export interface UserGrant {
  clientId: string;
  userId: string;
  scope: string;
  grantId: string;
  authTime: number;
  sid?: string;
  nonce?: string;
  resource?: string;
  claims: Record<string, unknown>;
}

/**
 * The token response of a user grant: an access token, an ID token when `openid` was granted,
 * and (when `refresh` is given) a new refresh token whose writes are returned for the caller's
 * batch. Two signatures, no store round trip.
 */
export async function userTokens(
  oauth: OAuthContext,
  grant: UserGrant,
  refresh: Omit<RefreshRecord, 'client_id' | 'user_id' | 'scope' | 'grant_id' | 'auth_time' | 'sid' | 'resource'> | undefined,
  refreshScope = grant.scope,
): Promise<{ response: TokenResponse; ops: StoreOp[] }> {
  const at = await oauth.tokens.accessToken({
    clientId: grant.clientId,
    subject: grant.userId,
    scope: grant.scope,
    audience: grant.resource ?? grant.clientId,
    grantId: grant.grantId,
    authTime: grant.authTime,
  });
  const response: TokenResponse = { access_token: at.token, token_type: 'Bearer', expires_in: at.expiresIn, scope: grant.scope };
  if (grant.scope.split(' ').includes('openid')) {
    response.id_token = await oauth.tokens.idToken({
      clientId: grant.clientId,
      subject: grant.userId,
      authTime: grant.authTime,
      nonce: grant.nonce,
      sid: grant.sid,
      claims: grant.claims,
      accessToken: at.token,
    });
  }
  if (!refresh) return { response, ops: [] };
  const rt = oauth.records.newRefreshToken({
    ...refresh,
    client_id: grant.clientId,
    user_id: grant.userId,
    scope: refreshScope,
    grant_id: grant.grantId,
    auth_time: grant.authTime,
    sid: grant.sid,
    resource: grant.resource,
  });
  response.refresh_token = rt.token;
  return { response, ops: rt.ops };
}
