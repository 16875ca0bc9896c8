import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './store.js';
import { describeTarget, type RedisTarget } from './topology.js';

export type { BatchIfResult, Store, StoreCondition, StoreOp, StoreWriteOp } from './store.js';
export { StoreUnavailable } from './errors.js';
export { MemoryStore } from './memory.js';
export { RedisStore } from './redis.js';
export { StoreStats } from './stats.js';
export { openRateWindow, type RateWindow, type WindowCount } from './rate-window.js';

export type { ClusterTarget, RedisNode, RedisTarget, SentinelTarget } from './topology.js';
export { CrossSlotError, hashTag, slotOf } from './slots.js';
export { batchPerSlot, delAcrossSlots, getAcrossSlots, groupBySlot } from './per-slot.js';

export interface StoreSettings {
  redis?: RedisTarget | undefined;
  prefix: string;
  command_timeout_ms: number;
  wait_replicas?: number | undefined;
  wait_timeout_ms?: number | undefined;
}

/** The store a configuration names, for log lines (no credentials). */
export function describeStore(settings: StoreSettings | undefined): string {
  if (!settings?.redis) return 'the embedded in-memory store: state is lost on restart';
  return `${describeTarget(settings.redis)} (prefix "${settings.prefix}")`;
}

export function openStore(
  settings: StoreSettings | undefined,
  log?: { info(msg: string): void; warn(msg: string): void },
): Store {
  if (!settings?.redis) return new MemoryStore({ prefix: settings?.prefix ?? 'lb:' });
  return new RedisStore({
    target: settings.redis,
    prefix: settings.prefix,
    commandTimeoutMs: settings.command_timeout_ms,
    waitReplicas: settings.wait_replicas
      ? { replicas: settings.wait_replicas, timeoutMs: settings.wait_timeout_ms ?? 500 }
      : undefined,
    log,
  });
}
