import type { Middleware } from 'koa';

/**
 * Headers every response carries, and a strict CSP on HTML: no third-party origins, no framing
 * (RFC 9700 §4.16), no referrer (RFC 9700 §4.2.4).
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "img-src 'self' data:",
  "style-src 'self'",
  "form-action 'self'",
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
        // A route may widen form-action (the consent form redirects to the app); nothing else.
        if (!ctx.response.get('Content-Security-Policy')) ctx.set('Content-Security-Policy', PAGE_CSP);
        if (!ctx.response.get('Cache-Control')) ctx.set('Cache-Control', 'no-store');
      } else {
        ctx.set('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
      }
    }
  };
}
