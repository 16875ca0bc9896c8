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
  | { op: 'expire'; key: string; ttl: number };

export interface Store {
  /** What backs this store, for log lines and readiness. */
  readonly kind: 'memory' | 'redis';
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
  /** Resolves when the store answers; throws StoreUnavailable otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** Round trips made so far: what benchmarks and tests count. */
  readonly roundTrips: number;
}

export type BatchResult = string | null | boolean | undefined;

/** TTLs are checked for every op that carries one, before anything is written. */
export function checkOp(op: StoreOp): void {
  checkKey(op.key);
  if ('ttl' in op) checkTtl(op.ttl);
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
