import type { UnitOfWork } from '../../store/unit-of-work.js';
import type { OAuthContext } from '../context.js';
import type { GrantFacts, RefreshRecord } from '../grant-records.js';
import { scopeSet } from '../params.js';
import type { TokenResponse } from './grant.js';
import { nowS } from '../../lib/clock.js';
import type { Client } from '../clients.js';
import { sealUser, subjectFor } from '../subjects.js';

/**
 * The `sub` of a user's tokens for a client (public or pairwise, OIDC Core §8) and, for a
 * pairwise client, the user sealed into its access tokens so userinfo can find them.
 */
export function userSubject(client: Client | undefined, userId: string): { subject: string; sealedUser?: string } {
  const subject = subjectFor(client, userId);
  return client?.pairwise ? { subject, sealedUser: sealUser(client.pairwise, userId) } : { subject };
}

/** What the tokens of a user grant are made from: the grant's facts and the user's claims. */
export interface IssueInput extends GrantFacts {
  nonce?: string;
  claims: Record<string, unknown>;
}

/** The terms of a new refresh token chain. */
export type RefreshTerms = Pick<RefreshRecord, 'expiresAt' | 'offline'>;

/** A new chain lives `refresh_token_absolute_ttl_s` from now, offline when offline_access was granted. */
export function refreshTerms(oauth: OAuthContext, scope: string): RefreshTerms {
  const now = nowS();
  return {
    expiresAt: now + oauth.config.tokens.refresh_token_absolute_ttl_s,
    offline: scopeSet(scope).includes('offline_access'),
  };
}

/**
 * The token response of a user grant: an access token, an ID token when `openid` was granted,
 * and (with `refresh`) the first refresh token of a new chain, whose writes go into `work` for
 * the caller to commit. Two signatures, no store round trip.
 */
export async function userTokens(
  oauth: OAuthContext,
  grant: IssueInput,
  work: UnitOfWork,
  refresh?: RefreshTerms,
): Promise<TokenResponse> {
  const client = await oauth.clients.find(grant.clientId);
  const { subject, sealedUser } = userSubject(client, grant.userId);
  const at = await oauth.tokens.accessToken({
    clientId: grant.clientId,
    subject,
    sealedUser,
    scope: grant.scope,
    audience: grant.resource ?? grant.clientId,
    grantId: grant.grantId,
    authTime: grant.authTime,
  });
  const response: TokenResponse = {
    access_token: at.token,
    token_type: 'Bearer',
    expires_in: at.expiresIn,
    scope: grant.scope,
  };
  if (scopeSet(grant.scope).includes('openid')) {
    response.id_token = await oauth.tokens.idToken({
      clientId: grant.clientId,
      subject,
      authTime: grant.authTime,
      nonce: grant.nonce,
      sid: grant.sid,
      claims: grant.claims,
      accessToken: at.token,
    });
  }
  if (!refresh) return response;
  const { grantId, clientId, userId, scope, authTime, sid, resource } = grant;
  const clientGen = client?.stored?.generation;
  const rt = oauth.records.newRefreshToken({
    grantId,
    clientId,
    userId,
    scope,
    authTime,
    sid,
    resource,
    ...refresh,
    ...(clientGen ? { clientGen } : {}),
  });
  work.add(...rt.ops);
  response.refresh_token = rt.token;
  return response;
}
