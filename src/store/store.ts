import type { StoreStats } from './stats.js';

/**
 * The one shared state of the broker. A few primitives, each one store round trip,
 * so the domain can count (and keep low) what a request costs.
 *
 * Keys are given without the namespace prefix; implementations add it.
 * TTLs are in seconds and may be fractional (millisecond precision).
 * Values are strings; JSON is the caller's business.
 */
export type StoreOp =
  | { op: 'get'; key: string }
  | { op: 'take'; key: string }
  | { op: 'putIfAbsent'; key: string; value: string; ttl?: number }
  | { op: 'put'; key: string; value: string; ttl?: number }
  | { op: 'del'; key: string }
  | { op: 'compareAndSet'; key: string; expected: string | null; value: string | null }
  | { op: 'sadd'; key: string; members: string[]; ttl?: number }
  | { op: 'srem'; key: string; members: string[] }
  /**
   * Appends `value` to the string at `key` (made when absent; APPEND), then sets its TTL when
   * given: a small list kept as one string, far smaller in Redis than a set of a few members.
   */
  | { op: 'append'; key: string; value: string; ttl?: number }
  | { op: 'expire'; key: string; ttl: number }
  /** Takes one back from a counter made by incr: never creates it, never below zero, keeps its TTL. */
  | { op: 'decr'; key: string };

/** The ops `batchIf` may run: writes only, since its reads are its conditions. */
export type StoreWriteOp = Extract<StoreOp, { op: 'put' | 'del' | 'sadd' | 'srem' | 'expire' }>;

/**
 * A precondition of `batchIf`, on a string key: it holds exactly `value` (null: the key is
 * absent), or it merely exists.
 */
export type StoreCondition = { key: string; value: string | null } | { key: string; exists: true };

/** Whether `batchIf` wrote, and what the condition keys held when it decided (in order). */
export interface BatchIfResult {
  applied: boolean;
  current: (string | null)[];
}

/**
 * `spend`: a single-use value taken in one atomic step with what goes with its first use. Every
 * key in one slot.
 */
export interface SpendRequest {
  /** The single-use value: taken (get-and-delete). */
  key: string;
  /** Left when the value is taken (unless already there), and read first: a second use finds it. */
  marker: { key: string; value: string; ttl: number };
  /** When this key exists, the value is still taken but nothing else is moved (e.g. a revocation). */
  blocker: string;
  /**
   * A JSON object waiting at `from`, moved to `to` (ttl `ttl`) when the value is taken and not
   * blocked, with the fields of the JSON object `extra` added; `member` is then added to the set
   * `index` (ttl `indexTtl`). Nothing happens when `from` is absent.
   */
  companion?: {
    from: string;
    to: string;
    ttl: number;
    extra: Record<string, string | number | boolean>;
    index: string;
    member: string;
    indexTtl: number;
  };
}

/** What `spend` found: the value (null when absent), the marker before it, and what it did. */
export interface SpendResult {
  value: string | null;
  marker: string | null;
  blocked: boolean;
  moved: boolean;
}

/** The keys of a spend, to check that they share one slot. */
export function spendKeys(request: SpendRequest): string[] {
  const { key, marker, blocker, companion } = request;
  return [key, marker.key, blocker, ...(companion ? [companion.from, companion.to, companion.index] : [])];
}

/** Checks a spend's arguments before anything is read or written. */
export function checkSpend(request: SpendRequest): void {
  spendKeys(request).forEach(checkKey);
  checkTtl(request.marker.ttl);
  if (request.companion) {
    checkTtl(request.companion.ttl);
    checkTtl(request.companion.indexTtl);
  }
}

/** The companion with `extra`'s fields added (both JSON objects); undefined when it is not one. */
export function withExtra(companion: string, extra: Record<string, unknown>): string | undefined {
  const fields = JSON.stringify(extra);
  if (!companion.startsWith('{') || !companion.endsWith('}')) return undefined;
  if (fields === '{}') return companion;
  return companion === '{}' ? fields : `${companion.slice(0, -1)},${fields.slice(1)}`;
}

/**
 * Every atomic step (batch, batchIf) and every multi-key command (getMany, del of several keys)
 * must touch keys of one Redis Cluster slot: build such keys with one hash tag (slots.ts). Both
 * stores refuse a step across slots with CrossSlotError (a TypeError), so a step that would fail
 * on a cluster fails in every test.
 */
export interface Store {
  /** What backs this store, for log lines and readiness. */
  readonly kind: 'memory' | 'redis';
  /**
   * Multi-key commands may span cluster slots here (one Redis, not a cluster nor emulating one):
   * a read of keys of several slots can be one MGET instead of a transaction of GETs.
   */
  readonly crossSlotCommands?: boolean;
  put(key: string, value: string, ttl?: number): Promise<void>;
  /** Writes only when the key is absent; true when it wrote (SET NX). */
  putIfAbsent(key: string, value: string, ttl?: number): Promise<boolean>;
  get(key: string): Promise<string | null>;
  /** One read for several keys (MGET); results in the same order. */
  getMany(keys: string[]): Promise<(string | null)[]>;
  /** Atomic get-and-delete: of many concurrent takers exactly one gets the value. */
  take(key: string): Promise<string | null>;
  del(...keys: string[]): Promise<number>;
  /**
   * Writes `value` (deletes the key when it is null) only while the key holds exactly `expected`
   * (is absent when that is null); true when it did. Atomic: of concurrent writers that read the
   * same value, one wins. A value written this way has no TTL.
   */
  compareAndSet(key: string, expected: string | null, value: string | null): Promise<boolean>;
  sadd(key: string, members: string[], ttl?: number): Promise<void>;
  srem(key: string, members: string[]): Promise<void>;
  smembers(key: string): Promise<string[]>;
  /** Increments a counter; the TTL is set when the counter is created. */
  incr(key: string, ttl?: number): Promise<number>;
  /** Remaining time to live in seconds; null when the key is absent or never expires. */
  ttl(key: string): Promise<number | null>;
  /**
   * Runs the operations atomically and in order, in one round trip (MULTI/EXEC). Results come
   * back in the same order: the value (or null) for get and take, true when putIfAbsent or
   * compareAndSet wrote, undefined for the rest. A compareAndSet that does not match writes
   * nothing, and the other operations still run.
   */
  batch(ops: StoreOp[]): Promise<BatchResult[]>;
  /**
   * Several batches sent together, in one round trip: each is atomic on its own (its keys share
   * one slot), together they are not, since on a Redis Cluster each may go to another node. For
   * writes that need not land atomically with each other. Results come back per batch.
   */
  batches(groups: StoreOp[][]): Promise<BatchResult[][]>;
  /**
   * Compare and write, in one atomic round trip (a Lua script on Redis): reads every condition
   * key, and runs the write ops in order only when every condition holds; otherwise writes
   * nothing. Either way it returns what the condition keys held, so a caller that lost a race
   * can decide again without another read.
   */
  batchIf(conditions: StoreCondition[], ops: StoreWriteOp[]): Promise<BatchIfResult>;
  /**
   * Spends a single-use value in one atomic round trip (a Lua script on Redis): takes `key`; when
   * it was there, leaves `marker` (unless present) and, unless `blocker` exists, moves the
   * companion into place (SpendRequest). When it was not there, writes nothing. Returns what it
   * found (SpendResult), so a replay is told from an unknown value without another read.
   */
  spend(request: SpendRequest): Promise<SpendResult>;
  /** Resolves when the store answers; throws StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /**
   * Round trips made so far: what benchmarks and tests count. Batches sent together (`batches`)
   * count once: they wait for each other's answers no longer than for one.
   */
  readonly roundTrips: number;
  /** Counters for metrics: commands, round trips, errors. */
  readonly stats: StoreStats;
  /** Whether the store is answering now, as far as this process knows (no round trip). */
  isUp(): boolean;
}

export type BatchResult = string | null | boolean | undefined;

/** The keys an op touches. */
export const keysOf = (ops: readonly { key: string }[]): string[] => ops.map((op) => op.key);

/** TTLs are checked for every op that carries one, before anything is written. */
export function checkOp(op: StoreOp): void {
  checkKey(op.key);
  if ('ttl' in op) checkTtl(op.ttl);
}

const WRITE_OPS = new Set<StoreOp['op']>(['put', 'del', 'sadd', 'srem', 'expire']);

/** Checks the arguments of `batchIf` before anything is read or written. */
export function checkBatchIf(conditions: StoreCondition[], ops: StoreWriteOp[]): void {
  for (const condition of conditions) {
    checkKey(condition.key);
    const valid =
      'exists' in condition
        ? condition.exists === true
        : condition.value === null || typeof condition.value === 'string';
    if (!valid) throw new TypeError(`store condition on "${condition.key}" must name a value, null, or exists: true`);
  }
  for (const op of ops) {
    if (!WRITE_OPS.has(op.op)) throw new TypeError(`batchIf runs write ops only, not "${op.op}"`);
    checkOp(op);
  }
}

export function checkTtl(ttl: number | undefined): void {
  if (ttl === undefined) return;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw new RangeError(`store TTL must be a positive number of seconds, got ${String(ttl)}`);
  }
}

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError('store key must be a non-empty string');
  }
}
