import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { StoreUnavailable } from './errors.js';
import { RedisStore } from './redis.js';
import type { Store } from './store.js';

/** A key's count in its current window, after a consume. */
export interface WindowCount {
  allowed: boolean;
  /** Points consumed in this window, this consume included. */
  consumed: number;
  /** Milliseconds until the window ends. */
  msBeforeNext: number;
}

/** A fixed-window counter shared by every broker process that shares the store. */
export interface RateWindow {
  /** Counts `points` for the key; throws StoreUnavailable when the store does not answer. */
  consume(key: string, points?: number): Promise<WindowCount>;
}

/**
 * A rate-limiter-flexible limiter on the store: RateLimiterRedis on the Redis store's own client
 * (its key prefix and command timeout apply, and it refuses at once while Redis is not ready),
 * RateLimiterMemory on the memory store (one process). Keys are `rl:<name>:<key>`.
 */
export function openRateWindow(store: Store, name: string, limit: number, windowS: number): RateWindow {
  const options = { keyPrefix: `rl:${name}`, points: limit, duration: windowS };
  let limiter: RateLimiterAbstract;
  let redis = false;
  if (store instanceof RedisStore) {
    limiter = new RateLimiterRedis({ ...options, storeClient: store.client, rejectIfRedisNotReady: true });
    redis = true;
  } else {
    limiter = new RateLimiterMemory(options);
  }
  const stats = store.stats;
  return {
    async consume(key, points = 1) {
      if (redis) stats.limiterRoundTrips++;
      try {
        const res = await limiter.consume(key, points);
        return { allowed: true, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      } catch (err) {
        if (err instanceof RateLimiterRes)
          return { allowed: false, consumed: err.consumedPoints, msBeforeNext: err.msBeforeNext };
        stats.unavailable++;
        throw new StoreUnavailable(`rate limiter: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    },
  };
}
