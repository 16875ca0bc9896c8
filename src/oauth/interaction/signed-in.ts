import type { Context } from 'koa';
import { browserBinding } from '../../http/browser-id.js';
import type { User } from '../../identity/users.js';
import type { SsoSession } from '../../session/sessions.js';
import { AuthorizationError, type AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import { completeAuthorization } from './complete.js';
import { consentScope, grantedScopes, missingScopes } from './consents.js';
import { newInteraction } from './record.js';

/**
 * The user is signed in: answer the app, unless a third-party client still needs the user's
 * consent for some of the scopes (remembered per user, client and scope). Commits the request's
 * unit of work (with the user's writes, when the user just logged in) in one round trip.
 */
export async function authorizeSignedIn(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
  user: User,
  session: SsoSession,
): Promise<void> {
  const { work } = ctx.state;
  const client = await oauth.clients.find(request.client_id);
  if (client && !client.first_party) {
    const granted = await grantedScopes(oauth.store, user.id, client.client_id);
    const missing = missingScopes(granted, consentScope(client, request.scope));
    if (missing.length > 0 || request.prompt.includes('consent')) {
      if (request.prompt.includes('none')) {
        await work.commit();
        throw new AuthorizationError(
          'consent_required',
          'the user has not consented to this application yet (prompt=none)',
          {
            redirect_uri: request.redirect_uri,
            response_mode: request.response_mode,
            state: request.state,
          },
        );
      }
      const { id, op } = newInteraction({ request, binding: browserBinding(ctx), consentFor: user.id });
      await work.commit(op);
      ctx.status = 303;
      ctx.redirect(`${oauth.base}/interaction/${id}/consent`);
      return;
    }
  }
  await completeAuthorization(ctx, oauth, request, user, session);
}
