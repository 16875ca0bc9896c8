import { StoreUnavailable } from './errors.js';
import { checkOneSlot } from './slots.js';
import { StoreStats } from './stats.js';
import {
  checkBatchIf,
  checkKey,
  checkSpend,
  spendKeys,
  withExtra,
  type SpendRequest,
  type SpendResult,
  checkOp,
  checkTtl,
  type BatchIfResult,
  type BatchResult,
  type Store,
  type StoreCondition,
  type StoreOp,
  type StoreWriteOp,
  keysOf,
} from './store.js';

type Entry = { value: string | Set<string>; expiresAt: number | null };

/** Shared backing for several prefixed memory stores (tests prove prefix isolation on it). */
export type MemoryBacking = Map<string, Entry>;

export function createMemoryBacking(): MemoryBacking {
  return new Map();
}

/**
 * The embedded store: one process, nothing on disk, state lost on restart.
 * Expiry is checked on every access, and a slow unref'd sweep frees expired keys nobody reads.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  #entries: MemoryBacking;
  #prefix: string;
  #closed = false;
  #sweeper: NodeJS.Timeout;
  readonly stats = new StoreStats();

  constructor(options: { prefix?: string; backing?: MemoryBacking; sweepIntervalMs?: number } = {}) {
    this.#entries = options.backing ?? createMemoryBacking();
    this.#prefix = options.prefix ?? '';
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepIntervalMs ?? 60_000);
    this.#sweeper.unref();
  }

  get roundTrips(): number {
    return this.stats.roundTrips;
  }

  isUp(): boolean {
    return !this.#closed;
  }

  #begin(commands = 1): void {
    if (this.#closed) {
      this.stats.unavailable++;
      throw new StoreUnavailable('memory store is closed');
    }
    this.stats.roundTrips++;
    this.stats.commands += commands;
  }

  #live(key: string): Entry | undefined {
    checkKey(key);
    const full = this.#prefix + key;
    const entry = this.#entries.get(full);
    if (entry && entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.#entries.delete(full);
      return undefined;
    }
    return entry;
  }

  #string(key: string): string | null {
    const entry = this.#live(key);
    if (!entry) return null;
    if (typeof entry.value !== 'string') throw wrongType(key);
    return entry.value;
  }

  /** The counter at key (0 when absent); throws when the key holds anything else. */
  #counter(key: string): number {
    const current = this.#string(key);
    return current === null ? 0 : parseCounter(key, current);
  }

  #set(key: string): Set<string> | undefined {
    const entry = this.#live(key);
    if (!entry) return undefined;
    if (typeof entry.value === 'string') throw wrongType(key);
    return entry.value;
  }

  #write(key: string, value: string | Set<string>, ttl: number | undefined): void {
    this.#entries.set(this.#prefix + key, { value, expiresAt: expiry(ttl) });
  }

  #apply(op: StoreOp): BatchResult {
    switch (op.op) {
      case 'get':
        return this.#string(op.key);
      case 'take': {
        const value = this.#string(op.key);
        if (value !== null) this.#entries.delete(this.#prefix + op.key);
        return value;
      }
      case 'putIfAbsent':
        if (this.#live(op.key)) return false;
        this.#write(op.key, op.value, op.ttl);
        return true;
      case 'put':
        checkKey(op.key);
        this.#write(op.key, op.value, op.ttl);
        return undefined;
      case 'del':
        checkKey(op.key);
        this.#entries.delete(this.#prefix + op.key);
        return undefined;
      case 'compareAndSet': {
        if (this.#string(op.key) !== op.expected) return false;
        if (op.value === null) this.#entries.delete(this.#prefix + op.key);
        else this.#write(op.key, op.value, undefined);
        return true;
      }
      case 'sadd': {
        const set = this.#set(op.key);
        if (set) {
          for (const m of op.members) set.add(m);
          if (op.ttl !== undefined) this.#entries.get(this.#prefix + op.key)!.expiresAt = expiry(op.ttl);
        } else {
          this.#write(op.key, new Set(op.members), op.ttl);
        }
        return undefined;
      }
      case 'srem': {
        const set = this.#set(op.key);
        if (!set) return undefined;
        for (const m of op.members) set.delete(m);
        if (set.size === 0) this.#entries.delete(this.#prefix + op.key);
        return undefined;
      }
      case 'append': {
        const before = this.#string(op.key);
        const entry = this.#live(op.key);
        if (before === null || !entry) this.#write(op.key, op.value, op.ttl);
        else {
          entry.value = before + op.value;
          if (op.ttl !== undefined) entry.expiresAt = expiry(op.ttl);
        }
        return undefined;
      }
      case 'expire': {
        const entry = this.#live(op.key);
        if (entry) entry.expiresAt = expiry(op.ttl);
        return undefined;
      }
      case 'decr': {
        const n = this.#counter(op.key);
        if (n > 0) this.#live(op.key)!.value = String(n - 1);
        return undefined;
      }
    }
  }

  async put(key: string, value: string, ttl?: number): Promise<void> {
    checkTtl(ttl);
    this.#begin();
    this.#apply({ op: 'put', key, value, ttl });
  }

  async putIfAbsent(key: string, value: string, ttl?: number): Promise<boolean> {
    checkTtl(ttl);
    this.#begin();
    return this.#apply({ op: 'putIfAbsent', key, value, ttl }) as boolean;
  }

  async get(key: string): Promise<string | null> {
    this.#begin();
    return this.#string(key);
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    keys.forEach(checkKey);
    checkOneSlot('getMany', this.#prefix, keys);
    this.#begin(keys.length);
    return keys.map((key) => {
      const entry = this.#live(key);
      return entry && typeof entry.value === 'string' ? entry.value : null;
    });
  }

  async take(key: string): Promise<string | null> {
    this.#begin();
    return this.#apply({ op: 'take', key }) as string | null;
  }

  async del(...keys: string[]): Promise<number> {
    keys.forEach(checkKey);
    checkOneSlot('del', this.#prefix, keys);
    this.#begin(keys.length);
    let removed = 0;
    for (const key of keys) {
      if (this.#live(key)) {
        this.#entries.delete(this.#prefix + key);
        removed++;
      }
    }
    return removed;
  }

  async compareAndSet(key: string, expected: string | null, value: string | null): Promise<boolean> {
    this.#begin();
    return this.#apply({ op: 'compareAndSet', key, expected, value }) as boolean;
  }

  async sadd(key: string, members: string[], ttl?: number): Promise<void> {
    checkTtl(ttl);
    this.#begin();
    this.#apply({ op: 'sadd', key, members, ttl });
  }

  async srem(key: string, members: string[]): Promise<void> {
    this.#begin();
    this.#apply({ op: 'srem', key, members });
  }

  async smembers(key: string): Promise<string[]> {
    this.#begin();
    return [...(this.#set(key) ?? [])];
  }

  async incr(key: string, ttl?: number): Promise<number> {
    checkTtl(ttl);
    this.#begin();
    const current = this.#string(key);
    const next = (current === null ? 0 : parseCounter(key, current)) + 1;
    const entry = this.#live(key);
    if (entry) entry.value = String(next);
    else this.#write(key, String(next), ttl);
    return next;
  }

  async ttl(key: string): Promise<number | null> {
    this.#begin();
    const entry = this.#live(key);
    if (!entry || entry.expiresAt === null) return null;
    return (entry.expiresAt - Date.now()) / 1000;
  }

  async batch(ops: StoreOp[]): Promise<BatchResult[]> {
    this.#checkBatch(ops);
    this.#begin(ops.length);
    this.#checkTypes(ops);
    return ops.map((op) => this.#apply(op));
  }

  async batches(groups: StoreOp[][]): Promise<BatchResult[][]> {
    for (const ops of groups) this.#checkBatch(ops);
    if (groups.every((ops) => ops.length === 0)) return groups.map(() => []);
    this.#begin(groups.reduce((n, ops) => n + ops.length, 0));
    // Each group stands alone: one with a wrong type fails, the others are still written.
    const results = groups.map((ops) => {
      try {
        this.#checkTypes(ops);
        return ops.map((op) => this.#apply(op));
      } catch (err) {
        return err as Error;
      }
    });
    const failed = results.find((r) => r instanceof Error);
    if (failed) throw failed;
    return results as BatchResult[][];
  }

  #checkBatch(ops: StoreOp[]): void {
    ops.forEach(checkOp);
    checkOneSlot('a batch', this.#prefix, keysOf(ops));
  }

  /** Type errors are found before anything is written, so a batch is all or nothing. */
  #checkTypes(ops: StoreOp[]): void {
    for (const op of ops) {
      if (op.op === 'sadd' || op.op === 'srem') this.#set(op.key);
      else if (op.op === 'get' || op.op === 'take' || op.op === 'compareAndSet' || op.op === 'append')
        this.#string(op.key);
      else if (op.op === 'decr') this.#counter(op.key);
    }
  }

  async batchIf(conditions: StoreCondition[], ops: StoreWriteOp[]): Promise<BatchIfResult> {
    checkBatchIf(conditions, ops);
    checkOneSlot('batchIf', this.#prefix, [...keysOf(conditions), ...keysOf(ops)]);
    this.#begin(conditions.length + ops.length);
    const current = conditions.map((condition) => this.#string(condition.key));
    const holds = conditions.every((condition, i) =>
      'exists' in condition ? current[i] !== null : current[i] === condition.value,
    );
    if (!holds) return { applied: false, current };
    // As in batch: type errors surface before anything is written.
    for (const op of ops) if (op.op === 'sadd' || op.op === 'srem') this.#set(op.key);
    for (const op of ops) this.#apply(op);
    return { applied: true, current };
  }

  async spend(request: SpendRequest): Promise<SpendResult> {
    checkSpend(request);
    checkOneSlot('spend', this.#prefix, spendKeys(request));
    this.#begin(3);
    const { key, marker, blocker, companion } = request;
    // As in batch: type errors surface before anything is written.
    if (companion) this.#set(companion.index);
    const value = this.#string(key);
    const before = this.#string(marker.key);
    if (value === null) return { value, marker: before, blocked: false, moved: false };
    const blocked = this.#live(blocker) !== undefined;
    const waiting = companion && !blocked ? this.#string(companion.from) : null;
    const moved = waiting === null ? undefined : withExtra(waiting, companion!.extra);
    this.#entries.delete(this.#prefix + key);
    if (before === null) this.#write(marker.key, marker.value, marker.ttl);
    if (companion && moved !== undefined) {
      this.#entries.delete(this.#prefix + companion.from);
      this.#write(companion.to, moved, companion.ttl);
      this.#apply({ op: 'sadd', key: companion.index, members: [companion.member], ttl: companion.indexTtl });
    }
    return { value, marker: before, blocked, moved: moved !== undefined };
  }

  async ping(): Promise<void> {
    this.#begin();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}

function expiry(ttl: number | undefined): number | null {
  return ttl === undefined ? null : Date.now() + Math.ceil(ttl * 1000);
}

function wrongType(key: string): Error {
  return new TypeError(`store key "${key}" holds a value of another type`);
}

function parseCounter(key: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new TypeError(`store key "${key}" does not hold a counter`);
  return n;
}
