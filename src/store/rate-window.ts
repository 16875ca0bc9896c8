import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
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
  /**
   * Counts `points` for the key; throws StoreUnavailable when the store does not answer. With
   * `held`, on Redis the count waits for the next store command (of any request), however
   * late, instead of going alone at the end of this turn: call `flush` when none may follow.
   */
  consume(key: string, points?: number, options?: { held?: boolean }): Promise<WindowCount>;
  /** Sends the key's held counts still waiting, on their own. */
  flush(key: string): void;
}

/**
 * On Redis, the store's own fixed window (RedisStore.consumeWindow, rate-limiter-flexible's
 * RateLimiterRedis script), whose count rides with the request's next read when it can; on the
 * memory store, rate-limiter-flexible's RateLimiterMemory (one process). Keys are `rl:<name>:<key>`.
 */
export function openRateWindow(store: Store, name: string, limit: number, windowS: number): RateWindow {
  const stats = store.stats;
  if (store instanceof RedisStore) {
    return {
      flush: (key) => store.flushWindows(`rl:${name}:${key}`),
      async consume(key, points = 1, options = {}) {
        let count: [number, number];
        try {
          count = await store.consumeWindow(`rl:${name}:${key}`, points, windowS, options);
        } catch (err) {
          stats.unavailable++;
          const message = err instanceof Error ? err.message : String(err);
          throw new StoreUnavailable(`rate limiter: ${message}`, { cause: err });
        }
        const [consumed, msBeforeNext] = count;
        return { allowed: consumed <= limit, consumed, msBeforeNext };
      },
    };
  }
  const limiter = new RateLimiterMemory({ keyPrefix: `rl:${name}`, points: limit, duration: windowS });
  return {
    flush() {},
    async consume(key, points = 1) {
      try {
        const res = await limiter.consume(key, points);
        return { allowed: true, consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext };
      } catch (err) {
        if (err instanceof RateLimiterRes)
          return { allowed: false, consumed: err.consumedPoints, msBeforeNext: err.msBeforeNext };
        throw err;
      }
    },
  };
}
