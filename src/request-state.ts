import type { Middleware } from 'koa';
import type { Store } from './store/index.js';
import { UncommittedWork, UnitOfWork } from './store/unit-of-work.js';

/** What app.ts's own middleware puts on `ctx.state`, beside the http layer's (src/http/state.ts). */
declare module 'koa' {
  interface DefaultState {
    /** This request's store writes: domain code adds to it, the answering handler commits it once. */
    work: UnitOfWork;
  }
}

/**
 * Gives each request its unit of work. A request that ends normally with writes still pending
 * forgot to commit them: that is a bug, answered as one (500) rather than silently dropped.
 * A request that failed leaves its pending writes unwritten (nothing stored half-way).
 */
export function unitOfWork(store: Store): Middleware {
  return async (ctx, next) => {
    const work = new UnitOfWork(store);
    ctx.state.work = work;
    await next();
    if (work.pending > 0) throw new UncommittedWork(work.pending);
  };
}
