import type { Context } from 'koa';
import { BodyError, CLOSE, readBody } from './form-body.js';

const DEFAULT_LIMIT = 64 * 1024;
const DRAIN_BYTES = 1024 * 1024;

/**
 * The body of `ctx` as parsed JSON (RFC 8259), for the endpoints that take JSON (RFC 7591 §3.1):
 * application/json only (415 otherwise), within `limit` bytes (413 beyond), well-formed (400).
 */
export async function readJson(ctx: Context, limit = DEFAULT_LIMIT): Promise<unknown> {
  if (!ctx.request.is('application/json')) {
    throw new BodyError(415, 'the request body must be application/json');
  }
  const tooLarge = `the request body exceeds ${limit} bytes`;
  const declared = ctx.request.length;
  if (declared !== undefined && declared > limit + DRAIN_BYTES) throw new BodyError(413, tooLarge, CLOSE);
  const body = await readBody(ctx.req, limit);
  if (body === 'drained') throw new BodyError(413, tooLarge);
  if (body === 'undrained') throw new BodyError(413, tooLarge, CLOSE);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BodyError(400, 'the request body is not well-formed JSON');
  }
}
