import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_CONFIG } from '../support/broker-fixture.js';
import { startApp, type RunningApp } from '../support/app.js';
import { rawExchange, rawRequest } from '../support/raw-http.js';

// RFC 9112 §9.3: a server that answers before it has read the whole request body must read the
// rest of it or close the connection; otherwise the next request on the socket is never answered.
let running: RunningApp;
let port: number;
beforeAll(async () => {
  running = await startApp(BASE_CONFIG);
  port = Number(new URL(running.url).port);
});
afterAll(() => running.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const big = (kb: number) => `a=${'x'.repeat(kb * 1024)}`;
const next = () => rawRequest('GET', '/healthz');
const sized = (path: string, kb: number) => rawRequest('POST', path, { headers: FORM, body: big(kb) });
const chunked = (path: string, kb: number) => rawRequest('POST', path, { headers: FORM, body: big(kb), chunked: true });

async function oversizedThenNext(first: Buffer) {
  const { responses, ending } = await rawExchange(port, [first, next()], { expected: 2, timeoutMs: 4000 });
  expect(ending, 'the connection hung after the 413').not.toBe('timeout');
  expect(ending, 'the connection was reset instead of closed').not.toBe('reset');
  expect(responses[0]?.status).toBe(413);
  expect(responses[0]?.body).not.toMatch(/\bat .*\.[jt]s:\d+/);
  if (responses.length === 2) {
    // The body was read to its end: the connection is still good for the next request.
    expect(responses[1]?.status).toBe(200);
  } else {
    expect(responses[0]?.headers.connection).toBe('close');
    expect(ending).toBe('closed');
  }
}

describe('an oversized request body (RFC 9112 §9.3)', () => {
  it.each([
    ['a chunked body to POST /token', chunked('/token', 200)],
    ['a chunked body to POST /authorize', chunked('/authorize', 200)],
    ['a chunked body to POST /introspect', chunked('/introspect', 200)],
    ['a chunked body to POST /callback/dev', chunked('/callback/dev', 200)],
    ['a Content-Length body to POST /callback/dev', sized('/callback/dev', 200)],
    ['a Content-Length body to POST /token', sized('/token', 200)],
    ['a Content-Length body to POST /userinfo', sized('/userinfo', 200)],
  ])('%s gets 413 and leaves the connection answering or cleanly closed', async (_name, request) => {
    await oversizedThenNext(request);
  });

  it('answers a declared Content-Length far over the limit at once, and closes', async () => {
    const head = rawRequest('POST', '/token', { headers: { ...FORM, 'content-length': String(512 * 1024 * 1024) } });
    const sent = [head, Buffer.from(big(100))];
    const { responses, ending } = await rawExchange(port, sent, { expected: 1, timeoutMs: 4000 });
    expect(ending).toBe('answered');
    expect(responses[0]?.status).toBe(413);
    expect(responses[0]?.headers.connection).toBe('close');
  });

  it('stops reading a body far over the limit, answers 413 and closes', async () => {
    const huge = chunked('/token', 4 * 1024);
    const { responses, ending } = await rawExchange(port, [huge, next()], { expected: 2, timeoutMs: 4000 });
    expect(ending).not.toBe('timeout');
    expect(responses[0]?.status).toBe(413);
    expect(responses[0]?.headers.connection).toBe('close');
    expect(responses).toHaveLength(1);
  });

  it('does not wait long for the rest of a stalled oversized body', async () => {
    const head = chunked('/token', 100);
    // The last chunk never comes.
    const stalled = head.subarray(0, head.length - '0\r\n\r\n'.length);
    const started = Date.now();
    const { responses, ending } = await rawExchange(port, [stalled], { expected: 1, timeoutMs: 4000 });
    expect(ending).toBe('answered');
    expect(responses[0]?.status).toBe(413);
    expect(responses[0]?.headers.connection).toBe('close');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('still answers a body within the limit on a kept-alive connection', async () => {
    const small = rawRequest('POST', '/callback/dev', { headers: FORM, body: big(1), chunked: true });
    const { responses, ending } = await rawExchange(port, [small, next()], { expected: 2 });
    expect(ending).toBe('answered');
    expect(responses.map((r) => r.status)).toEqual([400, 200]);
  });
});
