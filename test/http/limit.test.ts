import { describe, expect, it } from 'vitest';
import { Limit, RateLimited, browserLimitFor, type WindowCounter } from '../../src/http/rate-limit.js';

/** A counter in memory with one window, recording each call. */
function fakeCounter(limit: number, options: { failing?: () => boolean } = {}) {
  const counts = new Map<string, number>();
  const calls: { key: string; points: number }[] = [];
  const counter: WindowCounter = {
    async consume(key, points = 1) {
      calls.push({ key, points });
      if (options.failing?.()) throw new Error('store unavailable: connection refused');
      const consumed = (counts.get(key) ?? 0) + points;
      counts.set(key, consumed);
      return { allowed: consumed <= limit, consumed, msBeforeNext: 30_000 };
    },
  };
  return { counter, calls };
}

function quietLog() {
  const lines: { obj: object; msg: string }[] = [];
  return { lines, warn: (obj: object, msg: string) => lines.push({ obj, msg }) };
}

describe('Limit', () => {
  it('refuses over the limit with Retry-After, then answers from memory until the window ends', async () => {
    const { counter, calls } = fakeCounter(2);
    const limited: string[] = [];
    const log = quietLog();
    const limit = new Limit('authorize', counter, { log, limited: (n) => limited.push(n) });
    await limit.take('198.51.100.1');
    await limit.take('198.51.100.1');
    const refused = await limit.take('198.51.100.1').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimited);
    expect((refused as RateLimited).headers['Retry-After']).toBe('30');
    expect((refused as RateLimited).status).toBe(429);
    await expect(limit.take('198.51.100.1')).rejects.toBeInstanceOf(RateLimited);
    expect(() => limit.check('198.51.100.1')).toThrow(RateLimited);
    expect(calls).toHaveLength(3);
    expect(limited).toEqual(['authorize', 'authorize', 'authorize']);
    expect(log.lines).toHaveLength(1);
    // Another key is unaffected; keys reach the store hashed, never as given.
    await limit.take('198.51.100.2');
    expect(calls.every((c) => !c.key.includes('198.51'))).toBe(true);
  });

  it('with a lease, makes one store call per lease', async () => {
    const { counter, calls } = fakeCounter(100);
    const limit = new Limit('token_requests', counter, { log: quietLog(), limited: () => {}, lease: 10 });
    for (let i = 0; i < 25; i++) await limit.take('machine');
    expect(calls).toHaveLength(3);
    expect(calls.every((c) => c.points === 10)).toBe(true);
  });

  it('lets requests through while the store does not answer, logging that once', async () => {
    let down = true;
    const { counter } = fakeCounter(1, { failing: () => down });
    const log = quietLog();
    const limit = new Limit('callback', counter, { log, limited: () => {} });
    for (let i = 0; i < 3; i++) await limit.take('198.51.100.3');
    expect(log.lines.map((l) => l.msg)).toEqual(['rate limit not checked: the store does not answer']);
    down = false;
    await limit.take('198.51.100.3');
    await expect(limit.take('198.51.100.3')).rejects.toBeInstanceOf(RateLimited);
  });
});

describe('browserLimitFor', () => {
  const limits = { authorize: 'a', callback: 'c', interaction: 'i', account: 'x' } as unknown as Parameters<
    typeof browserLimitFor
  >[0];
  const cases: [string, string, string, string | undefined][] = [
    ['', 'GET', '/authorize', 'a'],
    ['', 'POST', '/Authorize/', 'a'],
    ['', 'GET', '/authorize/x', undefined],
    ['/auth', 'GET', '/auth/authorize', 'a'],
    ['/auth', 'GET', '/authorize', undefined],
    ['', 'GET', '/callback/dev', 'c'],
    ['', 'POST', '/callback/apple', 'c'],
    ['', 'GET', '/upstream/dev/login', 'c'],
    ['', 'POST', '/interaction/abc/login', 'i'],
    ['', 'POST', '/interaction/abc/consent/', 'i'],
    ['', 'GET', '/interaction/abc/consent', undefined],
    ['', 'POST', '/account/link/github', 'x'],
    ['', 'GET', '/account', undefined],
    ['', 'POST', '/token', undefined],
  ];
  it.each(cases)('base %j: %s %s → %s', (base, method, path, expected) => {
    expect(browserLimitFor(limits, base, method, path)).toBe(expected);
  });
});
