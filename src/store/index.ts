import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './store.js';

export type { BatchIfResult, Store, StoreCondition, StoreOp, StoreWriteOp } from './store.js';
export { StoreUnavailable } from './errors.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';
export { StoreStats } from './stats.js';
export { openRateWindow, type RateWindow, type WindowCount } from './rate-window.js';

export interface StoreSettings {
  redis?: string | undefined;
  prefix: string;
  command_timeout_ms: number;
}

export function openStore(
  settings: StoreSettings | undefined,
  log?: { info(msg: string): void; warn(msg: string): void },
): Store {
  if (!settings?.redis) return new MemoryStore({ prefix: settings?.prefix ?? 'lb:' });
  return new RedisStore({
    url: settings.redis,
    prefix: settings.prefix,
    commandTimeoutMs: settings.command_timeout_ms,
    log,
  });
}
