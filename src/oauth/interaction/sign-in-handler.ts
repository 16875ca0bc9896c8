import { startSession } from '../../session/sessions.js';
import type { LoginContext, LoginHandler } from '../../upstream/types.js';
import { authorizationRedirect } from '../authorization-response.js';
import type { OAuthContext } from '../context.js';
import { takeLoginInteraction } from './record.js';
import { authorizeSignedIn } from './signed-in.js';
import { nowS } from '../../lib/clock.js';

type AuthorizeContext = Extract<LoginContext, { kind: 'authorize' }>;

/**
 * The handler of upstream logins started by an app's sign-in: on success the user, the session,
 * then the answer to the app; on failure an OAuth error back to the app, whose redirect URI was
 * validated when the interaction began.
 */
export function signInHandler(oauth: OAuthContext): LoginHandler<AuthorizeContext> {
  return {
    async finish(ctx, { context, identity, provider, keepTokens }) {
      const interaction = await takeLoginInteraction(ctx, oauth, context);
      const resolved = await oauth.users.resolve(identity, ctx.state.work, oauth.loginPolicy(provider), ctx.ip);
      const { user } = resolved;
      // Committed with the user's writes and the code (or the consent's interaction).
      keepTokens(user.id);
      if (resolved.created) ctx.state.log?.info({ user: user.id, provider }, 'created a user at first login');
      if (resolved.linkedByEmail) {
        const entry = { audit: 'auto-link', user: user.id, provider, ip: ctx.ip };
        ctx.state.log?.info(entry, 'linked a new identity by verified email');
      }
      // The session is written with the user, the code and the rest, in the request's one commit.
      const session = await startSession(ctx, { uid: user.id, auth_time: nowS(), provider }, { work: ctx.state.work });
      await authorizeSignedIn(ctx, oauth, interaction.request, user, session);
    },
    async fail(ctx, { context, error, description }) {
      const { request } = await takeLoginInteraction(ctx, oauth, context);
      const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
      ctx.status = 303;
      ctx.redirect(authorizationRedirect(target, oauth.config.issuer, { error, error_description: description }));
    },
  };
}
