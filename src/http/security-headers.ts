import type { Middleware } from 'koa';

/**
 * Headers every response carries, and a strict CSP on HTML: no script at all, no third-party
 * origins, no framing (RFC 9700 §4.16), no referrer (RFC 9700 §4.2.4).
 *
 * There is no form-action: browsers apply it to the whole redirect chain after a POST, and our
 * forms legitimately end at a provider (chooser) or at the app (login, consent, logout).
 * Pages are escaped templates that allow no script, so there is no injected form to stop.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "img-src 'self' data:",
  "style-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function securityHeaders(options: { https: boolean }): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } finally {
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.set('Referrer-Policy', 'no-referrer');
      ctx.set('X-Frame-Options', 'DENY');
      if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000');
      if (ctx.response.is('html')) {
        ctx.set('Content-Security-Policy', PAGE_CSP);
        if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
      } else {
        ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      }
    }
  };
}
