import type { Context } from 'koa';
import { browserBinding } from '../../http/browser-id.js';
import type { AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import { newInteraction } from './record.js';

/**
 * Sends the browser to log in: straight to the provider the app named (or the only one), or to
 * the chooser. The pending request is stored once, in the same round trip as the login
 * transaction when the provider is already known.
 */
export async function beginInteraction(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
): Promise<void> {
  const { work } = ctx.state;
  const { id, op } = newInteraction({ request, binding: browserBinding(ctx) });
  work.add(op);
  const buttons = oauth.login.buttons();
  const providerId = request.provider ?? (buttons.length === 1 ? buttons[0]!.id : undefined);
  const context = { kind: 'authorize', interaction: id } as const;
  const target = providerId
    ? await oauth.login.begin(ctx, { providerId, context, loginHint: request.login_hint, work })
    : `${oauth.base}/interaction/${id}`;
  await work.commit();
  ctx.status = 303;
  ctx.redirect(target);
}
