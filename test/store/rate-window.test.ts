import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRateWindow, type RedisStore, StoreUnavailable } from '../../src/store/index.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

describe.runIf(redisServerAvailable())('rate windows on the Redis store', () => {
  let redis: RedisServer;
  let store: RedisStore;
  beforeAll(async () => {
    redis = await startRedisServer();
    store = await openRedisStore(redis.url);
  });
  afterAll(async () => {
    await store.close();
    await redis.stop();
  });

  const trips = () => ({ store: store.stats.roundTrips, limiter: store.stats.limiterRoundTrips });

  it('counts within the window and refuses over the limit; alone, a count is a round trip of its own', async () => {
    const window = openRateWindow(store, 'alone', 2, 60);
    const before = trips();
    expect(await window.consume('k')).toMatchObject({ allowed: true, consumed: 1 });
    expect(await window.consume('k')).toMatchObject({ allowed: true, consumed: 2 });
    const over = await window.consume('k');
    expect(over).toMatchObject({ allowed: false, consumed: 3 });
    expect(over.msBeforeNext).toBeGreaterThan(55_000);
    expect(over.msBeforeNext).toBeLessThanOrEqual(60_000);
    expect(trips()).toEqual({ store: before.store, limiter: before.limiter + 3 });
  });

  it('sends a count with a read made in the same turn: one round trip for both', async () => {
    await store.put('riding', 'value');
    const window = openRateWindow(store, 'ride', 5, 60);
    const before = trips();
    const [count, value] = await Promise.all([window.consume('k'), store.get('riding')]);
    expect(count).toMatchObject({ allowed: true, consumed: 1 });
    expect(value).toBe('value');
    expect(trips()).toEqual({ store: before.store + 1, limiter: before.limiter });
  });

  it('refuses at once with StoreUnavailable while Redis does not answer', async () => {
    const down = await openRedisStore(redis.url);
    const window = openRateWindow(down, 'down', 5, 60);
    await down.close();
    await expect(window.consume('k')).rejects.toBeInstanceOf(StoreUnavailable);
  });
  describe('a held count (a browser without a session: src/http/rate-limit.ts)', () => {
    it('waits past the turn and rides with the next transaction: one round trip for both', async () => {
      const window = openRateWindow(store, 'held', 5, 60);
      const before = trips();
      const count = window.consume('k', 1, { held: true });
      await new Promise((r) => setTimeout(r, 20));
      expect(trips()).toEqual(before);
      await store.batch([{ op: 'put', key: 'written', value: 'v', ttl: 30 }]);
      expect(await count).toMatchObject({ allowed: true, consumed: 1 });
      expect(trips()).toEqual({ store: before.store + 1, limiter: before.limiter });
      expect(await store.get('written')).toBe('v');
    });

    it('goes alone when flushed, and only the flushed key', async () => {
      const window = openRateWindow(store, 'flushed', 5, 60);
      const before = trips();
      const mine = window.consume('mine', 1, { held: true });
      const other = window.consume('other', 1, { held: true });
      window.flush('mine');
      expect(await mine).toMatchObject({ allowed: true, consumed: 1 });
      expect(trips()).toEqual({ store: before.store, limiter: before.limiter + 1 });
      const value = await Promise.all([other, store.get('nothing')]);
      expect(value[0]).toMatchObject({ consumed: 1 });
      expect(trips()).toEqual({ store: before.store + 1, limiter: before.limiter + 1 });
    });

    it('is refused when the store closes, never left waiting', async () => {
      const server = await startRedisServer();
      const closing = await openRedisStore(server.url);
      try {
        const count = openRateWindow(closing, 'closing', 5, 60).consume('k', 1, { held: true });
        const refused = expect(count).rejects.toBeInstanceOf(StoreUnavailable);
        await closing.close();
        await refused;
      } finally {
        await server.stop();
      }
    });
  });
});

describe.runIf(redisServerAvailable())('a count waiting for a read of a store that closes', () => {
  it('is still answered (refused), never left waiting', async () => {
    const redis = await startRedisServer();
    const store = await openRedisStore(redis.url);
    try {
      const window = openRateWindow(store, 'closing', 5, 60);
      const count = window.consume('k');
      const closing = store.close();
      await expect(store.get('any')).rejects.toBeInstanceOf(StoreUnavailable);
      await closing;
      await expect(count).rejects.toBeInstanceOf(StoreUnavailable);
    } finally {
      await redis.stop();
    }
  });
});
