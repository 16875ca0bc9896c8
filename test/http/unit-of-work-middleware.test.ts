import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorHandler } from '../../src/http/errors.js';
import { unitOfWork } from '../../src/request-state.js';
import { MemoryStore } from '../../src/store/index.js';

describe('the per-request unit of work', () => {
  const store = new MemoryStore({ prefix: 'uow:' });
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const app = new Koa();
    app.silent = true;
    app.use(errorHandler(({ status, error }) => `<p>${status} ${error}</p>`));
    app.use(unitOfWork(store));
    app.use(async (ctx) => {
      const key = ctx.path.slice(1);
      ctx.state.work.add({ op: 'put', key, value: 'written' });
      if (key === 'committed') await ctx.state.work.commit();
      if (key === 'failed')
        throw Object.assign(new Error('refused'), { status: 400, error: 'invalid_request', expose: true });
      ctx.body = { ok: true };
    });
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('a handler that commits stores its writes', async () => {
    expect((await fetch(`${base}/committed`)).status).toBe(200);
    expect(await store.get('committed')).toBe('written');
  });

  it('a request that ends normally with uncommitted writes is a 500, and nothing is written', async () => {
    const res = await fetch(`${base}/forgotten`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(500);
    expect(await store.get('forgotten')).toBeNull();
  });

  it('a request that fails leaves its pending writes unwritten, with its own error', async () => {
    const res = await fetch(`${base}/failed`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(await store.get('failed')).toBeNull();
  });
});
