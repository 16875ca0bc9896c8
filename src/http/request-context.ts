import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from './log.js';

const SAFE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each request an id (a sane incoming X-Request-Id is kept, for correlation with a proxy)
 * and a child logger, and logs one line per request. The query string is never logged: it can
 * carry codes and state.
 */
export function requestContext(log: Logger): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    const id = SAFE_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    // The child logger is made when something logs: with the request line off (level above
    // info) most requests never do, and a child costs a redaction pass over its bindings.
    let child: Logger | undefined;
    const requestLog = () => (child ??= log.child({ req_id: id }));
    Object.defineProperty(ctx.state, 'log', {
      configurable: true,
      enumerable: true,
      get: requestLog,
      set: (value: Logger) => {
        child = value;
      },
    });
    ctx.set('X-Request-Id', id);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      if (log.isLevelEnabled('info')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        requestLog().info(
          { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 },
          'request',
        );
      }
    }
  };
}
