import Router from '@koa/router';

/** Liveness (the process answers) and readiness (its store answers too). */
export function healthRouter(ready: () => Promise<void>): Router {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await ready();
      ctx.body = { status: 'ready' };
    } catch {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: 'temporarily_unavailable' };
    }
  });
  return router;
}
