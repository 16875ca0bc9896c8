import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commandCalls,
  cpuMs,
  diffCalls,
  Histogram,
  median,
  parseProcStat,
  parseRedisInfo,
  percentile,
  spread,
  summarize,
} from '../../bench/lib/stats.mjs';
import { RedisStore } from '../../src/store/index.js';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

/** The benchmark's arithmetic, so the numbers in the README can be trusted. */
describe('bench stats helpers', () => {
  it('computes nearest-rank percentiles and medians', () => {
    const values = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(values, 50)).toBe(5);
    expect(percentile(values, 99)).toBe(10);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('flags a spread over 15% of the median', () => {
    expect(spread([100, 100, 100])).toBe(0);
    expect(spread([90, 100, 110])).toBeCloseTo(0.2);
    expect(summarize([90, 100, 110])).toMatchObject({ median: 100, unstable: true });
    expect(summarize([95, 100, 105])).toMatchObject({ median: 100, unstable: false });
  });

  it('keeps latency percentiles within a bucket of the exact ones', () => {
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      const ms = (i * 7919) % 250; // spread over both bucket ranges
      values.push(ms);
      h.record(ms);
    }
    expect(h.count).toBe(1000);
    expect(Math.abs(h.percentile(50) - percentile(values, 50))).toBeLessThanOrEqual(1);
    expect(Math.abs(h.percentile(99) - percentile(values, 99))).toBeLessThanOrEqual(1);
    expect(h.percentile(100)).toBe(h.max);
  });

  it('reads CPU ticks from /proc/<pid>/stat, command names with spaces included', () => {
    const line = '1234 (node server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 0 0';
    expect(parseProcStat(line)).toEqual({ utime: 250, stime: 50 });
    expect(cpuMs({ utime: 250, stime: 50 }, { utime: 300, stime: 60 }, 100)).toBe(600);
    if (process.platform === 'linux') {
      const own = parseProcStat(readFileSync('/proc/self/stat', 'utf8'));
      expect(own.utime).toBeGreaterThanOrEqual(0);
    }
  });

  it('parses INFO commandstats and diffs the calls', () => {
    const info = parseRedisInfo(
      '# Stats\r\ntotal_reads_processed:42\r\n\r\n# ' +
        'Commandstats\r\ncmdstat_get:calls=3,usec=10,usec_per_call=3.33\r\ncmdstat_set:calls=2,usec=5\r\n',
    );
    expect(info.stats!.total_reads_processed).toBe(42);
    const calls = commandCalls(info);
    expect(calls).toEqual({ get: 3, set: 2 });
    expect(diffCalls({ get: 1, set: 2 }, calls)).toEqual({ get: 2 });
  });
});

// The benchmark counts store round trips as Redis read events (INFO total_reads_processed), with
// no hook in the broker. This checks that count against the store's own counter.
describe.skipIf(!redisServerAvailable())('bench round-trip counting', () => {
  let redis: RedisServer;
  let store: RedisStore;
  let admin: Redis;
  beforeAll(async () => {
    redis = await startRedisServer();
    store = new RedisStore({ url: redis.url, prefix: 'rt:' });
    admin = new Redis(redis.url);
    for (let i = 0; i < 100; i++) {
      try {
        await store.ping();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  afterAll(async () => {
    admin?.disconnect();
    await store?.close();
    await redis?.stop();
  });

  it('matches the store counter: one read event per command and per MULTI batch', async () => {
    const reads = async () => Number(parseRedisInfo(await admin.info('stats')).stats!.total_reads_processed);
    const before = await reads();
    const trips = store.roundTrips;
    await store.put('a', '1', 60);
    await store.get('a');
    await store.batch([
      { op: 'put', key: 'b', value: '2', ttl: 60 },
      { op: 'sadd', key: 's', members: ['x', 'y'], ttl: 60 },
      { op: 'take', key: 'a' },
    ]);
    await store.incr('n', 60);
    await store.getMany(['{k}a', '{k}b']);
    // Batches of several slots sent together: one round trip, one read event on one Redis.
    await store.batches([[{ op: 'put', key: '{x}1', value: '1' }], [{ op: 'put', key: '{y}2', value: '2' }]]);
    const after = await reads();
    // The second INFO is itself one read event.
    expect(after - before - 1).toBe(store.roundTrips - trips);
  });
});
