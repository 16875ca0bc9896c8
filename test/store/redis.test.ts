import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, StoreUnavailable } from '../../src/store/index.js';
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
