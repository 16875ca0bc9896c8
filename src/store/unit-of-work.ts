import { hashTagOf } from './slots.js';
import type { BatchResult, Store, StoreOp } from './store.js';

/** A request ended normally with writes that were never committed: a programming error. */
export class UncommittedWork extends Error {
  constructor(count: number) {
    super(`the request ended with ${count} store write(s) added but never committed`);
  }
}

/**
 * The writes one request makes. Domain code adds to it; the handler that answers commits it,
 * exactly once, in one store round trip (MULTI/EXEC), so a request stores all of its writes or
 * none of them, and no write is left behind in a forgotten array.
 */
export class UnitOfWork {
  readonly #store: Store;
  #ops: StoreOp[] = [];
  #separate: StoreOp[] = [];
  #committed = false;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Adds writes to make at commit time, in order. */
  add(...ops: StoreOp[]): void {
    if (this.#committed) throw new Error('this unit of work was already committed');
    this.#ops.push(...ops);
  }

  /**
   * Adds writes that need not land atomically with the others (another entity, another cluster
   * slot): at commit they go out in the same round trip, grouped by slot, each group atomic.
   */
  addSeparately(...ops: StoreOp[]): void {
    if (this.#committed) throw new Error('this unit of work was already committed');
    this.#separate.push(...ops);
  }

  /** How many writes wait for the commit. */
  get pending(): number {
    return this.#ops.length + this.#separate.length;
  }

  get committed(): boolean {
    return this.#committed;
  }

  /**
   * Runs what was added, then `last`, in one round trip (none when there is nothing to write).
   * Returns the results of `last` only, in order.
   */
  async commit(...last: StoreOp[]): Promise<BatchResult[]> {
    if (this.#committed) throw new Error('this unit of work was already committed');
    this.#committed = true;
    const ops = [...this.#ops, ...last];
    const separate = bySlot(this.#separate);
    this.#ops = [];
    this.#separate = [];
    if (ops.length === 0 && separate.length === 0) return [];
    if (separate.length === 0) return (await this.#store.batch(ops)).slice(ops.length - last.length);
    const [results] = await this.#store.batches([ops, ...separate]);
    return results!.slice(ops.length - last.length);
  }
}

/**
 * Ops grouped by hash tag (an untagged key alone), in their order: each group lies in one slot
 * whatever the store's prefix.
 */
function bySlot(ops: StoreOp[]): StoreOp[][] {
  const groups = new Map<string, StoreOp[]>();
  for (const op of ops) {
    const slot = hashTagOf(op.key);
    groups.set(slot, [...(groups.get(slot) ?? []), op]);
  }
  return [...groups.values()];
}
