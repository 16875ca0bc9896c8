import type { Context } from 'koa';
import { BodyError, readLimited } from './form-body.js';

/**
 * The body of `ctx` as parsed JSON (RFC 8259), for the endpoints that take JSON (RFC 7591 §3.1):
 * application/json only (415 otherwise), within `limit` bytes (413 beyond), well-formed (400).
 */
export async function readJson(ctx: Context, limit?: number): Promise<unknown> {
  if (!ctx.request.is('application/json')) {
    throw new BodyError(415, 'the request body must be application/json');
  }
  const body = await readLimited(ctx, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BodyError(400, 'the request body is not well-formed JSON');
  }
}
