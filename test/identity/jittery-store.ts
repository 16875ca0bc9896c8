import type { Store } from '../../src/store/index.js';

/**
 * A Store whose every call waits a random 0–`maxMs` ms before it reaches the real store, so
 * concurrent flows interleave at every round trip, as they do between broker processes.
 */
export function jittery(store: Store, maxMs = 3): Store {
  // Whole milliseconds: Node rounds shorter timers up to 1 ms, which would keep callers in lockstep.
  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (maxMs + 1))));
  return new Proxy(store, {
    get(target, name) {
      const value = Reflect.get(target, name) as unknown;
      if (typeof value !== 'function' || name === 'close') return value;
      return async (...args: unknown[]) => {
        await pause();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
