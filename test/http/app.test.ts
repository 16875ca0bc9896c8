import Koa from 'koa';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { browserRoute, errorHandler, safeDescription } from '../../src/http/errors.js';
import { createLogger } from '../../src/http/log.js';
import { requestContext } from '../../src/http/request-context.js';
import { securityHeaders } from '../../src/http/security-headers.js';
import { MemoryStore, StoreUnavailable } from '../../src/store/index.js';
import { renderErrorPage } from '../../src/ui/error-page.js';
import { logCapture, startApp, type RunningApp } from '../support/app.js';

let running: RunningApp | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('the app skeleton', () => {
  it('answers /healthz and /readyz, with security headers on every response', async () => {
    running = await startApp();
    const health = await fetch(`${running.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(health.headers.get('referrer-policy')).toBe('no-referrer');
    expect(health.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('answers /readyz with 503 when the store does not answer, while /healthz stays 200', async () => {
    const store = new MemoryStore();
    running = await startApp({}, { store });
    await store.close();
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
  });

  it('answers unknown routes with 404: JSON for APIs, an HTML page with a strict CSP for browsers', async () => {
    running = await startApp();
    const api = await fetch(`${running.url}/nope`);
    expect(api.status).toBe(404);
    expect(await api.json()).toMatchObject({ error: 'not_found' });
    const page = await fetch(`${running.url}/nope`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toContain('text/html');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const body = await page.text();
    expect(body).toContain('Page not found');
    expect(body).toContain(page.headers.get('x-request-id'));
  });

  it('keeps a sane incoming X-Request-Id and replaces an unsafe one', async () => {
    running = await startApp();
    const kept = await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'proxy-123.abc' } });
    expect(kept.headers.get('x-request-id')).toBe('proxy-123.abc');
    const replaced = await fetch(`${running.url}/healthz`, { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).not.toContain('script');
  });

  it('serves its stylesheet from its own origin', async () => {
    running = await startApp();
    const css = await fetch(`${running.url}/static/broker.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');
    expect((await fetch(`${running.url}/static/../../package.json`)).status).toBe(404);
  });

  it('mounts every route under the issuer path', async () => {
    running = await startApp({ issuer: 'http://127.0.0.1:1/auth' });
    expect((await fetch(`${running.url}/auth/healthz`)).status).toBe(200);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(404);
  });

  it('never logs the query string', async () => {
    running = await startApp();
    await fetch(`${running.url}/healthz?code=SECRETCODE&state=xyz`);
    const line = running.logs.find((l) => l.msg === 'request' && l.path === '/healthz');
    expect(line).toBeDefined();
    expect(JSON.stringify(running.logs)).not.toContain('SECRETCODE');
  });
});

describe('error rendering', () => {
  async function serve(handler: Koa.Middleware, page = false) {
    const capture = logCapture();
    const app = new Koa();
    app.silent = true;
    app.use(requestContext(createLogger('debug', capture.stream)));
    app.use(securityHeaders({ https: false }));
    app.use(errorHandler((input) => renderErrorPage(input)));
    if (page) app.use(browserRoute);
    app.use(handler);
    const server = createServer(app.callback());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, capture, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('turns StoreUnavailable into 503 temporarily_unavailable JSON for API routes', async () => {
    const s = await serve(() => {
      throw new StoreUnavailable('connection refused');
    });
    const res = await fetch(s.url);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    await s.close();
  });

  it('turns StoreUnavailable into an HTML 503 page for browser routes', async () => {
    const s = await serve(() => {
      throw new StoreUnavailable('connection refused');
    }, true);
    const res = await fetch(s.url);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toContain('temporarily unavailable');
    await s.close();
  });

  it('answers an unexpected error with a 500 that carries no stack or message, and logs it', async () => {
    const s = await serve(() => {
      throw new Error('database password is hunter2');
    });
    const res = await fetch(s.url);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain('server_error');
    expect(body).not.toContain('hunter2');
    expect(body).not.toMatch(/\bat .*\.ts:\d+/);
    expect(s.capture.lines.some((l) => l.msg === 'unexpected error')).toBe(true);
    await s.close();
  });

  it('passes the headers a typed error carries (WWW-Authenticate)', async () => {
    const s = await serve(() => {
      throw Object.assign(new Error('bad client'), {
        status: 401,
        error: 'invalid_client',
        error_description: 'client authentication failed',
        headers: { 'WWW-Authenticate': 'Basic realm="login-broker"' },
      });
    });
    const res = await fetch(s.url);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="login-broker"');
    expect(res.headers.get('cache-control')).toBe('no-store');
    await s.close();
  });

  it('keeps error_description within the characters RFC 6749 §5.2 allows', () => {
    expect(safeDescription('bad "quote" and back\\slash\nnewline é')).toBe("bad 'quote' and back'slash'newline '");
  });
});

describe('log redaction', () => {
  it('censors credentials and tokens wherever they appear in a log object', () => {
    const capture = logCapture();
    const log = createLogger('info', capture.stream);
    log.info(
      {
        client_secret: 's3cret-1',
        req: { headers: { authorization: 'Basic czNjcmV0', cookie: 'sid=s3cret-2' } },
        body: { code: 's3cret-3', refresh_token: 's3cret-4', password: 's3cret-5', access_token: 's3cret-6' },
        params: { nested: { id_token: 's3cret-7' } },
      },
      'event',
    );
    expect(capture.text()).not.toMatch(/s3cret|czNjcmV0/);
    expect(capture.text()).toContain('[redacted]');
  });
});
