import type { Context } from 'koa';
import type { User } from '../../identity/users.js';
import type { SsoSession } from '../../session/sessions.js';
import { authorizationRedirect } from '../authorization-response.js';
import type { AuthorizationRequest } from '../authorize-request.js';
import { userClaims } from '../claims.js';
import type { OAuthContext } from '../context.js';
import { scopeSet } from '../params.js';
import type { CodeRecord } from '../grant-records.js';
import { newGrantId } from '../record-keys.js';
import { implicitTokens } from './implicit.js';
import { sessionClientOps } from '../backchannel/session-clients.js';

/**
 * Answers the app: a single-use code (code flow) or the tokens in the fragment (implicit).
 * The code goes in the same round trip as the rest of the request's unit of work.
 */
export async function completeAuthorization(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
  user: User,
  session: SsoSession,
): Promise<void> {
  const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
  const claims = userClaims(user, scopeSet(request.scope));
  // The client is told when this session ends (back-channel logout), if it asked to be.
  const client = await oauth.clients.find(request.client_id);
  const told = sessionClientOps(client, session.sid, oauth.config.session.absolute_ttl_s);
  let values: Record<string, string | undefined>;
  if (request.response_type === 'code') {
    const record: CodeRecord = {
      grantId: newGrantId(),
      clientId: request.client_id,
      userId: user.id,
      scope: request.scope,
      authTime: session.auth_time,
      sid: session.sid,
      resource: request.resource,
      redirectUri: request.redirect_uri,
      codeChallenge: request.code_challenge,
      nonce: request.nonce,
      claims,
      refresh: request.refresh,
      ...(client?.stored ? { clientGen: client.stored.generation } : {}),
    };
    const { code, ops } = oauth.records.newCode(record);
    await ctx.state.work.commit(...ops, ...told);
    values = { code };
  } else {
    await ctx.state.work.commit(...told);
    values = await implicitTokens(oauth, request, user.id, session, claims);
  }
  ctx.status = 303;
  ctx.redirect(authorizationRedirect(target, oauth.config.issuer, values));
}
