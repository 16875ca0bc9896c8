import type { Context } from 'koa';
import { csrfProblem, csrfToken } from '../http/csrf.js';
import { currentSession, endSession } from '../session/sessions.js';
import { renderLoggedOut, renderLogoutConfirm } from '../ui/logout.js';
import type { OAuthContext } from './context.js';

import { verifyIdTokenHint } from './id-token-hint.js';
import { Params } from './params.js';
import { subjectFor } from './subjects.js';
import { BrokerError } from '../http/broker-error.js';

const page = (description: string, status = 400) => new BrokerError('invalid_request', description, status);

/**
 * RP-Initiated Logout 1.0. post_logout_redirect_uri must match one registered for the client
 * exactly (§3; RFC 9700 §4.11), or there is no redirect. Without a valid id_token_hint the user
 * is asked to confirm, so another site cannot sign them out silently.
 */
export function logoutEndpoint(oauth: OAuthContext) {
  const issuerOrigin = new URL(oauth.config.issuer).origin;
  return async (ctx: Context) => {
    const source = ctx.method === 'POST' ? ctx.state.form : new URLSearchParams(ctx.querystring);
    const params = new Params(source, (d) => page(d));
    const hint = params.get('id_token_hint', { max: 8192 });
    const redirectUri = params.get('post_logout_redirect_uri', { max: 2048 });
    const state = params.get('state', { max: 2048 });
    let clientId = params.get('client_id', { max: 128 });

    let hintSub: string | undefined;
    if (hint) {
      const claims = await verifyIdTokenHint(oauth, hint);
      if (!claims) throw page('id_token_hint is not an ID token issued by this server');
      if (clientId && clientId !== claims.aud) throw page('client_id does not match the id_token_hint');
      clientId = claims.aud;
      hintSub = claims.sub;
    }

    let target: string | undefined;
    if (redirectUri) {
      const client = await oauth.clients.find(clientId);
      if (!client) throw page('post_logout_redirect_uri needs id_token_hint or client_id to identify the application');
      if (!client.post_logout_redirect_uris.includes(redirectUri))
        throw page('post_logout_redirect_uri is not registered for this application');
      const url = new URL(redirectUri);
      if (state) url.searchParams.set('state', state);
      target = url.toString();
    }

    const session = currentSession(ctx, oauth.config.session);
    const confirmed = ctx.method === 'POST' && source.get('confirm') === 'yes';
    if (confirmed) {
      const problem = csrfProblem(ctx, 'logout', source.get('csrf'), issuerOrigin);
      if (problem) throw page(problem, 403);
    }
    // The hint's sub is the one its client sees: pairwise or public (OIDC Core §8).
    const signedInSub = session && subjectFor(await oauth.clients.find(clientId), session.uid);
    if (session && hintSub !== undefined && hintSub !== signedInSub) {
      throw page('this sign-out request is for another user than the one signed in here');
    }
    if (session && hintSub === undefined && !confirmed) {
      const fields: Record<string, string> = {};
      if (redirectUri) fields.post_logout_redirect_uri = redirectUri;
      if (clientId) fields.client_id = clientId;
      if (state) fields.state = state;
      ctx.type = 'html';
      ctx.body = renderLogoutConfirm({
        action: `${oauth.base}/logout`,
        csrf: csrfToken(ctx, 'logout'),
        fields,
        base: oauth.base,
      });
      return;
    }

    const providers: string[] = [];
    if (session) {
      const revoked = await oauth.records.revokeSession(session.sid);
      // Back-Channel Logout: recorded now, delivered in the background (never holds up this answer).
      const told = await oauth.backchannel.sessionEnded(session.sid, session.uid);
      providers.push(
        ...oauth.login
          .buttons()
          .filter((b) => b.id === session.provider)
          .map((b) => b.label),
      );
      ctx.state.log?.info({ user: session.uid, revoked_grants: revoked, backchannel_logouts: told }, 'signed out');
      endSession(ctx);
    }
    if (target) {
      ctx.status = 303;
      ctx.redirect(target);
      return;
    }
    ctx.type = 'html';
    ctx.body = renderLoggedOut({ providers, base: oauth.base });
  };
}
