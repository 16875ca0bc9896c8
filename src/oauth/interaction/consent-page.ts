import type { Context } from 'koa';
import { BrokerError } from '../../http/broker-error.js';
import { csrfProblem, csrfToken } from '../../http/csrf.js';
import { currentSession } from '../../session/sessions.js';
import { renderConsent } from '../../ui/consent.js';
import { authorizationRedirect } from '../authorization-response.js';
import type { OAuthContext } from '../context.js';
import { scopeSet } from '../params.js';
import { completeAuthorization } from './complete.js';
import { consentScope, grantedScopes, rememberConsentOp } from './consents.js';
import { loadInteraction } from './record.js';

/** GET /interaction/:id/consent: what the app asks for, with allow and deny. */
export async function showConsent(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  if (!interaction.consentFor)
    throw new BrokerError('invalid_request', 'this sign-in attempt is not waiting for consent', 400);
  const client = await oauth.clients.find(interaction.request.client_id);
  ctx.type = 'html';
  ctx.body = renderConsent({
    appName: client?.client_name ?? interaction.request.client_id,
    scopes: scopeSet(interaction.request.scope),
    // Plain words for what token exchange lets the app do (RFC 8693): use the user's provider tokens.
    upstreamTokens: (client?.upstream_tokens ?? []).map(
      (id) => oauth.login.buttons().find((b) => b.id === id)?.label ?? id,
    ),
    ...selfAsserted(client, interaction.request),
    action: `${oauth.base}/interaction/${id}/consent`,
    csrf: csrfToken(ctx, `consent:${id}`),
    base: oauth.base,
  });
}

/** The consent form's POST: allow (remembered) or deny (access_denied to the app). */
export async function decideConsent(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const form: URLSearchParams = ctx.state.form;
  const problem = csrfProblem(ctx, `consent:${id}`, form.get('csrf'), new URL(oauth.config.issuer).origin);
  if (problem) throw new BrokerError('invalid_request', `${problem} (CSRF check failed)`, 403);
  const interaction = await loadInteraction(ctx, oauth, id, true);
  const { request } = interaction;
  const session = currentSession(ctx, oauth.config.session);
  if (!interaction.consentFor || !session || session.uid !== interaction.consentFor) {
    throw new BrokerError(
      'invalid_request',
      'your session changed while this page was open; start again from the application',
      400,
    );
  }
  if (form.get('decision') !== 'allow') {
    const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
    const denied = { error: 'access_denied', error_description: 'the user denied access' };
    ctx.status = 303;
    ctx.redirect(authorizationRedirect(target, oauth.config.issuer, denied));
    return;
  }
  const user = await oauth.users.get(session.uid);
  if (!user) throw new BrokerError('invalid_request', 'your account no longer exists', 400);
  const previous = await grantedScopes(oauth.store, user.id, request.client_id);
  const client = await oauth.clients.find(request.client_id);
  const scope = client ? consentScope(client, request.scope) : request.scope;
  const remember = rememberConsentOp(user.id, request.client_id, previous, scope);
  ctx.state.work.add(remember);
  await completeAuthorization(ctx, oauth, request, user, session);
}

/**
 * For a client that registered itself (RFC 7591) or is a metadata document (its id is a URL):
 * the host the user goes back to, and the document's host; its client_name is its own claim.
 */
function selfAsserted(
  client: { stored?: { origin: string } } | undefined,
  request: { client_id: string; redirect_uri: string },
): { selfAsserted?: { returnsTo: string; describedAt?: string } } {
  const document = /^https?:\/\//i.test(request.client_id);
  if (!document && client?.stored?.origin !== 'registration') return {};
  const host = (url: string) => (URL.canParse(url) ? new URL(url).host : url);
  return {
    selfAsserted: {
      returnsTo: host(request.redirect_uri),
      ...(document ? { describedAt: host(request.client_id) } : {}),
    },
  };
}
