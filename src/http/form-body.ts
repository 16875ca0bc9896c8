import type { Context, Middleware } from 'koa';

export class BodyError extends Error {
  readonly error = 'invalid_request';
  constructor(
    readonly status: number,
    readonly error_description: string,
  ) {
    super(error_description);
  }
}

const DEFAULT_LIMIT = 64 * 1024;

/**
 * Reads an application/x-www-form-urlencoded body into `ctx.state.form` as URLSearchParams, so
 * handlers can see repeated parameters (which OAuth forbids, RFC 6749 §3.1) instead of having
 * them silently merged. Other content types are refused when `required`.
 */
export function formBody(options: { required?: boolean; limit?: number } = {}): Middleware {
  const limit = options.limit ?? DEFAULT_LIMIT;
  return async (ctx, next) => {
    ctx.state.form = await readForm(ctx, limit, options.required ?? false);
    await next();
  };
}

async function readForm(ctx: Context, limit: number, required: boolean): Promise<URLSearchParams> {
  const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody && ctx.method === 'GET') return new URLSearchParams();
  if (!ctx.request.is('application/x-www-form-urlencoded')) {
    if (required || hasBody) {
      throw new BodyError(400, 'the request body must be application/x-www-form-urlencoded');
    }
    return new URLSearchParams();
  }
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit) throw new BodyError(413, `the request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyError(413, `the request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
