import type { Context } from 'koa';
import { BrokerError } from '../../http/broker-error.js';
import { csrfProblem, csrfToken } from '../../http/csrf.js';
import { renderChooser } from '../../ui/chooser.js';
import type { OAuthContext } from '../context.js';
import { loadInteraction } from './record.js';

/** GET /interaction/:id: the provider chooser for a pending sign-in. */
export async function showChooser(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  const client = await oauth.clients.find(interaction.request.client_id);
  ctx.type = 'html';
  ctx.body = renderChooser({
    appName: client?.client_name ?? interaction.request.client_id,
    action: `${oauth.base}/interaction/${id}/login`,
    csrf: csrfToken(ctx, `interaction:${id}`),
    providers: oauth.login.buttons(),
    base: oauth.base,
  });
}

/** The chooser's POST: checks its CSRF token, then starts the chosen provider's login. */
export async function chooseProvider(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  const form: URLSearchParams = ctx.state.form;
  const problem = csrfProblem(ctx, `interaction:${id}`, form.get('csrf'), new URL(oauth.config.issuer).origin);
  if (problem) throw new BrokerError('invalid_request', `${problem} (CSRF check failed)`, 403);
  const providerId = form.get('provider') ?? '';
  if (!oauth.login.has(providerId)) throw new BrokerError('invalid_request', 'unknown sign-in provider', 400);
  const url = await oauth.login.begin(ctx, {
    providerId,
    context: { kind: 'authorize', interaction: id },
    loginHint: interaction.request.login_hint,
    work: ctx.state.work,
  });
  await ctx.state.work.commit();
  ctx.status = 303;
  ctx.redirect(url);
}
