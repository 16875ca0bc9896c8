import type { AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import type { SsoSession } from '../../session/sessions.js';
import { userSubject } from '../grants/issue.js';

/** Implicit (legacy, opt-in): no refresh token, tokens only in the fragment, at_hash included. */
export async function implicitTokens(
  oauth: OAuthContext,
  request: AuthorizationRequest,
  userId: string,
  session: SsoSession,
  claims: Record<string, unknown>,
): Promise<Record<string, string | undefined>> {
  const values: Record<string, string | undefined> = {};
  const { subject, sealedUser } = userSubject(await oauth.clients.find(request.client_id), userId);
  let accessToken: string | undefined;
  if (request.response_type === 'id_token token') {
    const at = await oauth.tokens.accessToken({
      clientId: request.client_id,
      subject,
      sealedUser,
      scope: request.scope,
      audience: request.resource ?? request.client_id,
      authTime: session.auth_time,
    });
    accessToken = at.token;
    Object.assign(values, {
      access_token: at.token,
      token_type: 'Bearer',
      expires_in: String(at.expiresIn),
      scope: request.scope,
    });
  }
  values.id_token = await oauth.tokens.idToken({
    clientId: request.client_id,
    subject,
    authTime: session.auth_time,
    nonce: request.nonce,
    sid: session.sid,
    claims,
    accessToken,
  });
  return values;
}
