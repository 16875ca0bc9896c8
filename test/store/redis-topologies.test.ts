import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRateWindow, RedisStore, slotOf } from '../../src/store/index.js';
import { redisServerAvailable, waitUntilReady } from '../support/redis-server.js';
import {
  redisCliAvailable,
  startRedisCluster,
  startRedisSentinel,
  type RedisCluster,
  type RedisSentinel,
} from '../support/redis-topologies.js';
import { storeConformance } from './conformance.js';

const available = redisServerAvailable() && redisCliAvailable();

describe.runIf(available)('redis store on a cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  storeConformance('redis cluster', () => ({
    open: async (prefix) => waitUntilReady(new RedisStore({ target: cluster.target, prefix, commandTimeoutMs: 1000 })),
  }));

  it('counts rate windows of many slots in one turn, each on its own (a pipeline stays in one slot)', async () => {
    const store = await waitUntilReady(new RedisStore({ target: cluster.target, prefix: 'rl-spread:' }));
    const window = openRateWindow(store, 'spread', 5, 60);
    const before = store.stats.limiterRoundTrips;
    const counts = await Promise.all(['a', 'b', 'c', 'd'].map((key) => window.consume(key)));
    const riding = await Promise.all([window.consume('a'), store.get('{a}none')]);
    expect(counts.map((c) => c.consumed)).toEqual([1, 1, 1, 1]);
    expect(riding[0].consumed).toBe(2);
    expect(store.stats.limiterRoundTrips - before).toBe(5);
    await store.close();
  });

  it('sends batches of slots on different masters together, each to its own node', async () => {
    const store = await waitUntilReady(new RedisStore({ target: cluster.target, prefix: 'spread:' }));
    // Three tags whose slots lie on three different masters.
    const tags: string[] = [];
    const masters = new Set<number>();
    for (let i = 0; tags.length < 3 && i < 1000; i++) {
      const master = await cluster.masterOf(slotOf(`spread:{e${i}}`));
      if (!masters.has(master.port)) {
        masters.add(master.port);
        tags.push(`{e${i}}`);
      }
    }
    expect(tags).toHaveLength(3);
    const before = store.roundTrips;
    const results = await store.batches(
      tags.map((tag) => [
        { op: 'put', key: `${tag}k`, value: tag },
        { op: 'get', key: `${tag}k` },
      ]),
    );
    expect(store.roundTrips - before).toBe(1);
    expect(results).toEqual(tags.map((tag) => [undefined, tag]));
    // With wait_replicas the WAIT goes to the node of each batch's slot, in the same round trip.
    const waiting = await waitUntilReady(
      new RedisStore({ target: cluster.target, prefix: 'spread:', waitReplicas: { replicas: 1, timeoutMs: 1000 } }),
    );
    const sent = waiting.roundTrips;
    const written = await waiting.batches(
      tags.map((tag) => [
        { op: 'put', key: `${tag}w`, value: tag },
        { op: 'get', key: `${tag}w` },
      ]),
    );
    expect(written).toEqual(tags.map((tag) => [undefined, tag]));
    expect(waiting.roundTrips - sent).toBe(1);
    await waiting.close();
    // Redis itself refuses a step across slots: the store names it before sending.
    await expect(store.getMany(tags.map((tag) => `${tag}k`))).rejects.toMatchObject({ name: 'CrossSlotError' });
    await store.close();
  });
});

describe.runIf(available)('redis store behind Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, 60_000);
  afterAll(async () => {
    await sentinel?.stop();
  });

  storeConformance('redis sentinel', () => ({
    open: async (prefix) =>
      waitUntilReady(
        new RedisStore({ target: sentinel.target, prefix, commandTimeoutMs: 1000, refuseCrossSlot: true }),
      ),
  }));

  it('finds the master through the sentinels', async () => {
    expect(await sentinel.masterPort()).toBe(sentinel.master.port);
  });

  it('wait_replicas: conditional and batched writes wait for the replica; fewer than asked is a 503', async () => {
    const one = await waitUntilReady(
      new RedisStore({ target: sentinel.target, prefix: 'wait:', waitReplicas: { replicas: 1, timeoutMs: 1000 } }),
    );
    const before = one.roundTrips;
    expect(
      await one.batch([
        { op: 'put', key: 'a', value: '1' },
        { op: 'get', key: 'a' },
      ]),
    ).toEqual([undefined, '1']);
    expect(await one.putIfAbsent('b', '2')).toBe(true);
    expect(await one.compareAndSet('b', '2', '3')).toBe(true);
    expect(await one.batchIf([{ key: 'b', value: '3' }], [{ op: 'put', key: 'c', value: '4' }])).toEqual({
      applied: true,
      current: ['3'],
    });
    expect(one.roundTrips - before).toBe(4);
    await one.close();
    const two = await waitUntilReady(
      new RedisStore({ target: sentinel.target, prefix: 'wait:', waitReplicas: { replicas: 2, timeoutMs: 100 } }),
    );
    await expect(two.batch([{ op: 'put', key: 'd', value: '5' }])).rejects.toMatchObject({
      status: 503,
      message: expect.stringContaining('confirmed by 1 of 2 replicas'),
    });
    await two.close();
  });
});
