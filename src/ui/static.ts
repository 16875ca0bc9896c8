import { readFileSync } from 'node:fs';
import Router from '@koa/router';

const ASSETS: Record<string, { type: string; file: string }> = {
  'broker.css': { type: 'text/css; charset=utf-8', file: 'broker.css' },
};

const SAFE_ID = /^[a-z0-9_-]+$/;
const SAFE_COLOR = /^#[0-9a-fA-F]{6}$/;

/**
 * Brand colours of the provider buttons, as a stylesheet: the CSP allows no inline style, so
 * each provider gets a class rule here, built once from the configured buttons.
 */
export function providerStyles(buttons: { id: string; color?: string }[]): string {
  return buttons
    .filter((b) => SAFE_ID.test(b.id) && b.color && SAFE_COLOR.test(b.color))
    .map((b) => `.provider-${b.id} { background: ${b.color}; color: ${textOn(b.color!)}; }`)
    .join('\n');
}

/** Black or white text, whichever reads better on the colour (WCAG relative luminance). */
function textOn(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return luminance > 0.4 ? '#111111' : '#ffffff';
}

/** Serves the few static assets the pages use, read once and cached by the browser for a day. */
export function staticRouter(buttons: () => { id: string; color?: string }[] = () => []): Router {
  const router = new Router();
  const loaded = new Map<string, Buffer>();
  for (const [name, asset] of Object.entries(ASSETS)) {
    loaded.set(name, readFileSync(new URL(`./static/${asset.file}`, import.meta.url)));
  }
  let styles: string | undefined;
  router.get('/static/providers.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = styles ??= providerStyles(buttons());
  });
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
