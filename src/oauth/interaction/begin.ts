import type { Context } from 'koa';
import { browserBinding } from '../../http/browser-id.js';
import { rateLimitVerdict } from '../../http/rate-limit.js';
import type { AuthorizationRequest } from '../authorize-request.js';
import type { OAuthContext } from '../context.js';
import { heldInteraction, newInteraction, type Interaction } from './record.js';

/**
 * Sends the browser to log in: straight to the provider the app named (or the only one), or to
 * the chooser. The pending request is stored once: inside the login transaction when the
 * provider is already known, else under its own key for the chooser.
 */
export async function beginInteraction(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
): Promise<void> {
  const { work } = ctx.state;
  const interaction: Interaction = { request, binding: browserBinding(ctx) };
  const { id, op } = newInteraction(interaction);
  const buttons = oauth.login.buttons();
  const providerId = request.provider ?? (buttons.length === 1 ? buttons[0]!.id : undefined);
  let target = `${oauth.base}/interaction/${id}`;
  if (providerId) {
    // The interaction travels in the login transaction: one key, taken once with it.
    const context = { kind: 'authorize', interaction: id, held: heldInteraction(interaction) } as const;
    target = await oauth.login.begin(ctx, { providerId, context, loginHint: request.login_hint, work });
  } else {
    work.add(op);
  }
  await work.commit();
  // A browser without a session: the rate limit's count rode with this commit, decided now.
  await rateLimitVerdict(ctx);
  ctx.status = 303;
  ctx.redirect(target);
}
