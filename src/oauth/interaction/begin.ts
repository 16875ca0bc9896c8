import type { Context } from 'koa';
import type { AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import { newInteraction } from './record.js';

/**
 * Sends the browser to log in: straight to the provider the app named (or the only one), or to
 * the chooser. The pending request is stored once, in the same round trip as the login
 * transaction when the provider is already known.
 */
export async function beginInteraction(ctx: Context, oauth: OAuthContext, request: AuthorizationRequest): Promise<void> {
  const { id, op } = newInteraction({ request, binding: ctx.state.browserBinding });
  const buttons = oauth.login.buttons();
  const providerId = request.provider ?? (buttons.length === 1 ? buttons[0]!.id : undefined);
  ctx.status = 303;
  if (providerId) {
    const context = { kind: 'authorize', interaction: id } as const;
    ctx.redirect(await oauth.login.begin(ctx, { providerId, context, loginHint: request.login_hint, ops: [op] }));
    return;
  }
  await oauth.store.batch([op]);
  ctx.redirect(`${oauth.base}/interaction/${id}`);
}
