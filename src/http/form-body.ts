import type { IncomingMessage } from 'node:http';
import type { Context, Middleware } from 'koa';
import { BrokerError } from './broker-error.js';

/** A body the broker will not read: malformed, cut short, or over the limit. */
export class BodyError extends BrokerError {
  constructor(status: number, description: string, headers?: Record<string, string>) {
    super('invalid_request', description, status);
    if (headers) this.headers = headers;
  }
}

const DEFAULT_LIMIT = 64 * 1024;
/** After the limit, this much more is read and dropped so the connection stays usable (RFC 9112 §9.3). */
const DRAIN_BYTES = 1024 * 1024;
const DRAIN_MS = 1000;

export interface FormOptions {
  /** Refuse a request that is not application/x-www-form-urlencoded. */
  required?: boolean;
  limit?: number;
}

/**
 * Reads an application/x-www-form-urlencoded body into `ctx.state.form` as URLSearchParams, so
 * handlers can see repeated parameters (which OAuth forbids, RFC 6749 §3.1) instead of having
 * them silently merged. Other content types are refused when `required`.
 */
export function formBody(options: FormOptions = {}): Middleware {
  return async (ctx, next) => {
    ctx.state.form = await readForm(ctx, options);
    await next();
  };
}

/** The one form reader: the body of `ctx` as URLSearchParams, within `limit` bytes (413 beyond). */
export async function readForm(ctx: Context, options: FormOptions = {}): Promise<URLSearchParams> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const hasBody = ctx.request.length > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody && ctx.method === 'GET') return new URLSearchParams();
  // An unread body is discarded by Node once the answer is sent, so refusing early is safe here.
  if (!ctx.request.is('application/x-www-form-urlencoded')) {
    if (options.required || hasBody) {
      throw new BodyError(400, 'the request body must be application/x-www-form-urlencoded');
    }
    return new URLSearchParams();
  }
  return new URLSearchParams((await readLimited(ctx, limit)).toString('utf8'));
}

/** The raw body of `ctx`, within `limit` bytes: a 413 beyond (closing the connection when draining would not pay). */
export async function readLimited(ctx: Context, limit = DEFAULT_LIMIT): Promise<Buffer> {
  const tooLarge = `the request body exceeds ${limit} bytes`;
  const declared = ctx.request.length;
  // Too large to be worth draining: answer at once and close the connection (RFC 9112 §9.3).
  if (declared !== undefined && declared > limit + DRAIN_BYTES) throw new BodyError(413, tooLarge, CLOSE);
  const body = await readBody(ctx.req, limit);
  if (body === 'drained') throw new BodyError(413, tooLarge);
  if (body === 'undrained') throw new BodyError(413, tooLarge, CLOSE);
  return body;
}

export const CLOSE = { Connection: 'close' };

/**
 * The body, or what became of one over `limit`: read to its end and dropped ('drained': the
 * connection can serve the next request), or not ('undrained': the connection must close).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'drained' | 'undrained'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (result: Buffer | 'drained' | 'undrained' | BodyError) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (result instanceof BodyError) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      chunks.length = 0;
      timer ??= setTimeout(() => stop(), DRAIN_MS);
      if (size > limit + DRAIN_BYTES) stop();
    };
    // Stop draining: what is left stays unread, and the answer closes the connection.
    const stop = () => {
      req.pause();
      done('undrained');
    };
    const onEnd = () => done(size > limit ? 'drained' : Buffer.concat(chunks));
    const onError = () => done(new BodyError(400, 'the request body could not be read'));
    const onClose = () => done(new BodyError(400, 'the request body was cut short'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
