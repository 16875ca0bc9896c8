import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getAcrossSlots, RedisStore, StoreUnavailable } from '../../src/store/index.js';
import { redisServerAvailable, startRedisServer, waitUntilReady, type RedisServer } from '../support/redis-server.js';
import { storeConformance } from './conformance.js';

const available = redisServerAvailable();
let server: RedisServer;

describe.runIf(available)('redis store', () => {
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  const ready = waitUntilReady;

  storeConformance('redis', () => ({
    open: async (prefix) =>
      ready(new RedisStore({ url: server.url, prefix, commandTimeoutMs: 1000, refuseCrossSlot: true })),
  }));

  it('reads keys of several slots with one MGET on a single Redis (a cluster-emulating store groups them)', async () => {
    const keys = ['a:{x}', 'b:{y}', 'c:{z}', 'missing'];
    for (const refuseCrossSlot of [false, true]) {
      const store = await ready(
        new RedisStore({
          url: server.url,
          prefix: `spread-${refuseCrossSlot}:`,
          commandTimeoutMs: 1000,
          refuseCrossSlot,
        }),
      );
      await Promise.all(keys.slice(0, 3).map((key, i) => store.put(key, `v${i}`)));
      const before = store.roundTrips;
      expect(await getAcrossSlots(store, keys)).toEqual(['v0', 'v1', 'v2', null]);
      expect(store.roundTrips - before).toBe(1);
      expect(store.crossSlotCommands).toBe(!refuseCrossSlot);
      await store.close();
    }
  });

  it('answers StoreUnavailable while Redis is down, and recovers when it returns', async () => {
    const store = await ready(new RedisStore({ url: server.url, prefix: 'outage:', commandTimeoutMs: 500 }));
    await store.put('k', 'v');
    await server.pause();
    const started = Date.now();
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailable);
    expect(Date.now() - started).toBeLessThan(2000);
    await server.restart();
    await ready(store);
    // The restarted server kept nothing (no persistence), but it answers again.
    expect(await store.get('k')).toBeNull();
    await store.put('k', 'back');
    expect(await store.get('k')).toBe('back');
    await store.close();
  });

  it('fails fast with StoreUnavailable when Redis was never reachable', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1/0', commandTimeoutMs: 300 });
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailable);
    await store.close();
  });
});
