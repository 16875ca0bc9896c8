import type { Context } from 'koa';
import { currentSession } from '../session/sessions.js';
import { authorizationRedirect } from './authorization-response.js';
import { AuthorizationError, validateAuthorizationRequest } from './authorize-request.js';
import type { OAuthContext } from './context.js';
import { verifyIdTokenHint } from './id-token-hint.js';
import { beginInteraction } from './interaction/begin.js';
import { needsLogin } from './interaction/needs-login.js';
import { subjectFor } from './subjects.js';
import { authorizeSignedIn } from './interaction/signed-in.js';
import { userTokensAllowed } from '../identity/user.js';

/**
 * GET|POST /authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2). Errors before the client and
 * redirect URI are trusted render a page; later ones go back to the app with state and iss.
 * A live SSO session answers at once; otherwise the user logs in upstream first.
 */
export function authorizeEndpoint(oauth: OAuthContext) {
  return async (ctx: Context) => {
    const source = ctx.method === 'POST' ? ctx.state.form : new URLSearchParams(ctx.querystring);
    try {
      const request = await validateAuthorizationRequest(source, oauth.clients, {
        firstPartyRefresh: oauth.config.tokens.first_party_refresh_without_offline_access,
        hasProvider: (id) => oauth.login.has(id),
      });
      const session = currentSession(ctx, oauth.config.session);
      const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
      const client = await oauth.clients.find(request.client_id);
      if (client) oauth.clients.used(client);
      const sector = client && (await oauth.clients.sectors?.problem(client));
      if (sector) {
        const error = sector.kind === 'unavailable' ? 'temporarily_unavailable' : 'invalid_request';
        throw new AuthorizationError(error, sector.description, target);
      }
      let loginNeeded = needsLogin(request, session);
      if (request.id_token_hint) {
        const hint = await verifyIdTokenHint(oauth, request.id_token_hint);
        if (!hint)
          throw new AuthorizationError(
            'invalid_request',
            'id_token_hint is not an ID token issued by this server',
            target,
          );
        // The app expects another user than the one signed in here: they must sign in again.
        if (session && hint.sub !== subjectFor(await oauth.clients.find(hint.aud), session.uid)) loginNeeded = true;
      }
      // A session answers only for a user who still exists, is not disabled, and whose tokens were
      // not invalidated after this session's login (users disable, sessions revoke).
      const user = session && !loginNeeded ? await oauth.users.get(session.uid) : undefined;
      const signedIn = session && user && userTokensAllowed(user, session.auth_time) ? user : undefined;
      if (request.prompt.includes('none') && !signedIn) {
        throw new AuthorizationError(
          'login_required',
          'the user is not signed in, or not as the expected user (prompt=none)',
          target,
        );
      }
      if (session && signedIn) return await authorizeSignedIn(ctx, oauth, request, signedIn, session);
      await beginInteraction(ctx, oauth, request);
    } catch (err) {
      if (!(err instanceof AuthorizationError)) throw err;
      ctx.status = 303;
      ctx.redirect(
        authorizationRedirect(err.target, oauth.config.issuer, {
          error: err.error,
          error_description: err.error_description,
        }),
      );
    }
  };
}
