import type { Context, Middleware } from 'koa';
import type { RouteKind } from './route-kind.js';
import { safeText } from '../lib/text.js';

/**
 * An error that knows how it is answered. Domain errors (OAuth errors, StoreUnavailable) carry
 * these fields themselves, so this layer renders them without importing the domain.
 */
export interface RenderableError {
  status: number;
  error: string;
  error_description?: string;
  headers?: Record<string, string>;
}

export function isRenderable(err: unknown): err is RenderableError {
  if (!err || typeof err !== 'object') return false;
  const e = err as Partial<RenderableError>;
  return typeof e.status === 'number' && e.status >= 400 && e.status < 600 && typeof e.error === 'string';
}

export type PageRenderer = (input: { status: number; error: string; description: string; requestId: string }) => string;

/** Marks a route's answers as pages for a browser: its errors render as HTML, not JSON. */
export const browserRoute: Middleware = async (ctx, next) => {
  ctx.state.page = true;
  await next();
};

/** The kind of route a request went to, when it is declared (see route-kind.ts). */
export type KindOf = (path: string) => RouteKind | undefined;

/**
 * An API route answers JSON whatever Accept says; a browser route answers pages; anything else
 * (assets, paths no route serves) answers what the client prefers.
 */
function wantsPage(ctx: Context, kindOf: KindOf): boolean {
  const kind = kindOf(ctx.path);
  if (kind === 'api') return false;
  if (kind === 'page' || ctx.state.page) return true;
  return ctx.accepts('json', 'html') === 'html' && !ctx.get('authorization');
}

/** error_description may only hold %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2). */
// "§" is not ASCII: it is written out, so "RFC 9700 §2.1.1" reads "RFC 9700 section 2.1.1".
export const safeDescription = (text: string): string => safeText(text.replace(/§\s*/g, 'section '), 300);

/**
 * Turns every failure into a spec-shaped answer and never leaks a stack trace. Unknown errors
 * become 500 server_error, logged with their stack under the request id.
 */
export function errorHandler(renderPage: PageRenderer, kindOf: KindOf = () => undefined): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        const description = `no route for ${ctx.method} ${ctx.path}`;
        respond(ctx, renderPage, kindOf, { status: 404, error: 'not_found', error_description: description });
      }
    } catch (err) {
      let rendered: RenderableError;
      if (isRenderable(err)) {
        rendered = err;
        if (err.status >= 500)
          ctx.state.log?.warn(
            { err: { message: (err as unknown as Error).message }, status: err.status },
            'request failed',
          );
      } else if (isKoaClientError(err)) {
        rendered = { status: err.status, error: 'invalid_request', error_description: err.message };
      } else {
        ctx.state.log?.error({ err }, 'unexpected error');
        rendered = {
          status: 500,
          error: 'server_error',
          error_description: 'an unexpected error occurred; quote the request id when reporting it',
        };
      }
      respond(ctx, renderPage, kindOf, rendered);
    }
  };
}

function isKoaClientError(err: unknown): err is { status: number; message: string } {
  const e = err as { status?: unknown; expose?: unknown };
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
}

function respond(ctx: Context, renderPage: PageRenderer, kindOf: KindOf, err: RenderableError): void {
  const description = safeDescription(err.error_description ?? err.error);
  ctx.status = err.status;
  for (const [name, value] of Object.entries(err.headers ?? {})) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  if (wantsPage(ctx, kindOf)) {
    ctx.type = 'html';
    ctx.body = renderPage({
      status: err.status,
      error: err.error,
      description,
      requestId: String(ctx.state.requestId ?? ''),
    });
  } else {
    ctx.body = { error: err.error, error_description: description };
  }
}
