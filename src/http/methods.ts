import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { RenderableError } from './errors.js';

/** 405 for a method the path does not take; rendered like every other error, with its Allow header. */
export class MethodNotAllowed extends Error implements RenderableError {
  readonly status = 405;
  readonly error = 'invalid_request';
  readonly error_description: string;
  readonly headers: Record<string, string>;

  constructor(method: string, allowed: string[]) {
    const list = allowed.join(', ');
    super(`${method} is not allowed here`);
    this.error_description = `the ${method.slice(0, 20)} method is not allowed here; use ${list}`;
    this.headers = { Allow: list };
  }
}

/** The methods some route of `routers` takes on `path` (HEAD comes with GET); empty when none serves it. */
export function allowedMethods(routers: readonly Router[], path: string): string[] {
  const methods = new Set<string>();
  for (const router of routers) {
    for (const layer of router.stack) {
      if (layer.methods.length > 0 && layer.match(path)) for (const m of layer.methods) methods.add(m);
    }
  }
  return [...methods];
}

/** The path pattern of every route of `routers` (prefixes included), for start-up checks. */
export function routePaths(routers: readonly Router[]): string[] {
  const routes = routers.flatMap((router) => router.stack.filter((layer) => layer.methods.length > 0));
  return routes.map((layer) => String(layer.path));
}

/**
 * Decides, before any route runs, what no route will: a path some route serves answers a method
 * none of them takes with 405 and Allow (RFC 9110 §15.5.6), and OPTIONS with 204 and Allow
 * (RFC 9110 §9.3.7). Any other path falls through to 404. @koa/router's allowedMethods() is not
 * used: it answers 501 to methods it does not know (PROPFIND, QUERY…), and a client's request
 * never earns a 5xx here.
 */
export function methodGuard(routers: readonly Router[]): Middleware {
  return async (ctx, next) => {
    const allowed = allowedMethods(routers, ctx.path);
    if (allowed.length === 0 || allowed.includes(ctx.method)) return next();
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      ctx.set('Allow', allowed.join(', '));
      return;
    }
    throw new MethodNotAllowed(ctx.method, allowed);
  };
}
