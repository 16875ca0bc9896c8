import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanFetch, MAX_ANSWER_BYTES } from '../../src/http/lean-fetch.js';
import { freePort } from '../support/redis-server.js';

/**
 * The upstream requests' fetch (src/http/lean-fetch.ts) answers and fails as fetch does, for what
 * openid-client sends: a real Response, form bodies, no redirect followed, the signal obeyed.
 */
describe('leanFetch', () => {
  let server: http.Server;
  let base: string;
  const seen: { method?: string; headers?: http.IncomingHttpHeaders; body?: string } = {};

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        Object.assign(seen, { method: req.method, headers: req.headers, body });
        if (req.url === '/token') {
          res.setHeader('content-type', 'application/json');
          res.setHeader('cache-control', 'no-store');
          res.end(JSON.stringify({ access_token: 'at', token_type: 'Bearer' }));
        } else if (req.url === '/gzip') {
          res.setHeader('content-encoding', 'gzip');
          res.end(gzipSync('{"zipped":true}'));
        } else if (req.url === '/moved') {
          res.writeHead(302, { location: '/token' }).end();
        } else if (req.url === '/bomb') {
          res.setHeader('content-encoding', 'gzip');
          res.end(gzipSync(Buffer.alloc(MAX_ANSWER_BYTES + 1)));
        } else if (req.url === '/huge') {
          res.end(Buffer.alloc(MAX_ANSWER_BYTES + 1));
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else if (req.url === '/slow') {
          setTimeout(() => res.end('late'), 2000);
        } else {
          res.writeHead(404).end('no');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts a form and answers a Response with status, headers and a JSON body', async () => {
    const res = await leanFetch(`${base}/token`, {
      method: 'POST',
      redirect: 'manual',
      headers: { authorization: 'Basic abc', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'c 1' }),
    });
    expect(res).toBeInstanceOf(Response);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ access_token: 'at', token_type: 'Bearer' });
    expect(seen.method).toBe('POST');
    expect(seen.headers?.authorization).toBe('Basic abc');
    expect(seen.headers?.accept).toBe('application/json');
    expect(seen.headers?.['content-type']).toBe('application/x-www-form-urlencoded;charset=UTF-8');
    expect(seen.body).toBe('grant_type=authorization_code&code=c+1');
  });

  it('decodes a gzip answer, and gives a 204 no body', async () => {
    expect(await (await leanFetch(`${base}/gzip`, { redirect: 'manual' })).json()).toEqual({ zipped: true });
    const empty = await leanFetch(`${base}/empty`, { redirect: 'manual' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it('refuses an answer larger than MAX_ANSWER_BYTES, as sent or once unpacked', async () => {
    for (const path of ['/huge', '/bomb']) {
      const answer = leanFetch(`${base}${path}`, { redirect: 'manual' });
      await expect(answer).rejects.toBeInstanceOf(TypeError);
      await expect(answer).rejects.toMatchObject({ message: 'fetch failed' });
    }
  });

  it('does not follow a redirect in manual mode; other modes go to the global fetch, which does', async () => {
    const manual = await leanFetch(`${base}/moved`, { redirect: 'manual' });
    expect(manual.status).toBe(302);
    expect(manual.headers.get('location')).toBe('/token');
    const followed = await leanFetch(`${base}/moved`);
    expect(followed.status).toBe(200);
    expect(followed.redirected).toBe(true);
  });

  it("rejects with the signal's reason when it aborts, and a TypeError with the cause when unreachable", async () => {
    await expect(
      leanFetch(`${base}/slow`, { redirect: 'manual', signal: AbortSignal.timeout(100) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    const aborted = new AbortController();
    aborted.abort(new Error('stop'));
    await expect(leanFetch(`${base}/token`, { redirect: 'manual', signal: aborted.signal })).rejects.toThrow('stop');
    const port = await freePort();
    const refused = leanFetch(`http://127.0.0.1:${port}/token`, { redirect: 'manual' });
    await expect(refused).rejects.toBeInstanceOf(TypeError);
    await expect(refused).rejects.toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });
});
