import { readFileSync } from 'node:fs';
import Router from '@koa/router';

const ASSETS: Record<string, { type: string; file: string }> = {
  'broker.css': { type: 'text/css; charset=utf-8', file: 'broker.css' },
};

/** Serves the few static assets the pages use, read once and cached by the browser for a day. */
export function staticRouter(): Router {
  const router = new Router();
  const loaded = new Map<string, Buffer>();
  for (const [name, asset] of Object.entries(ASSETS)) {
    loaded.set(name, readFileSync(new URL(`./static/${asset.file}`, import.meta.url)));
  }
  router.get('/static/:name', (ctx) => {
    const asset = ASSETS[ctx.params.name ?? ''];
    const body = asset && loaded.get(ctx.params.name ?? '');
    if (!asset || !body) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = body;
  });
  return router;
}
