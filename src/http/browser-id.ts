import { createHash, randomBytes } from 'node:crypto';
import type { Context, Middleware } from 'koa';

/**
 * A random id for this browser, in an HttpOnly cookie. Anything that must only be finished by the
 * browser that started it (login transactions, interactions, link requests) stores the hash of
 * this id and compares it on return: that defeats login CSRF and injected callbacks.
 * SameSite=Lax, so it still arrives on the top-level GET back from a provider.
 */
export function browserId(options: { https: boolean; path: string }): Middleware {
  const name = options.https ? '__Host-lb_bid' : 'lb_bid';
  return async (ctx, next) => {
    let binding: string | undefined;
    // Lazy: API requests (token, introspection) never touch it, so they pay nothing for it.
    Object.defineProperty(ctx.state, 'browserBinding', {
      configurable: true,
      enumerable: true,
      get() {
        if (binding !== undefined) return binding;
        let id = ctx.cookies.get(name);
        if (!id || !/^[A-Za-z0-9_-]{43}$/.test(id)) {
          id = randomBytes(32).toString('base64url');
          ctx.cookies.set(name, id, {
            httpOnly: true,
            secure: options.https,
            sameSite: 'lax',
            path: options.https ? '/' : options.path || '/',
            overwrite: true,
            signed: false,
          });
        }
        // Only the hash is ever stored or compared; the id itself stays in the cookie.
        binding = createHash('sha256').update(id).digest('base64url');
        return binding;
      },
    });
    await next();
  };
}

/** The value to store next to something bound to this browser (set by `browserId`). */
export function browserBinding(ctx: Context): string {
  const binding = ctx.state.browserBinding;
  if (typeof binding !== 'string') throw new Error('the browserId middleware is not mounted');
  return binding;
}
