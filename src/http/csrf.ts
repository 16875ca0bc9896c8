import { createHmac } from 'node:crypto';
import type { Context } from 'koa';
import { constantTimeEqual } from '../lib/constant-time.js';

/**
 * Stateless anti-CSRF tokens for the broker's own forms: an HMAC of the purpose keyed by this
 * browser's binding (derived from its secret HttpOnly cookie), so another site can neither read
 * nor compute it. POSTs must also come from our own origin (Sec-Fetch-Site / Origin).
 */
export function csrfToken(ctx: Context, purpose: string): string {
  const binding = ctx.state.browserBinding;
  if (typeof binding !== 'string') throw new Error('the browserId middleware is not mounted');
  return createHmac('sha256', binding).update(purpose).digest('base64url');
}

export function csrfProblem(
  ctx: Context,
  purpose: string,
  presented: string | null | undefined,
  issuerOrigin: string,
): string | undefined {
  const site = ctx.get('sec-fetch-site');
  if (site && site !== 'same-origin') return 'the form was sent from another site';
  const origin = ctx.get('origin');
  if (origin && origin !== issuerOrigin && origin !== 'null') return 'the form was sent from another origin';
  if (!constantTimeEqual(presented ?? '', csrfToken(ctx, purpose)))
    return 'the form is missing its anti-CSRF token or it does not match';
  return undefined;
}
