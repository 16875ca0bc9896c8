import { groupBySlot } from './per-slot.js';
import type { BatchResult, Store, StoreOp } from './store.js';

/** A request ended normally with writes that were never committed: a programming error. */
export class UncommittedWork extends Error {
  constructor(count: number) {
    super(`the request ended with ${count} store write(s) added but never committed`);
  }
}

/**
 * The writes one request makes. Domain code adds to it; the handler that answers commits it,
 * exactly once, in one store round trip, so no write is left behind in a forgotten array.
 *
 * Atomic per entity: the writes of one hash tag (one user, one grant: one Redis Cluster slot) go
 * in one MULTI/EXEC, all or none. Writes of different entities (the user's record, the new code,
 * the session's index) go out in the same round trip but land independently (Store.batches):
 * on a cluster they live on different nodes. So whatever must change together shares a tag.
 */
export class UnitOfWork {
  readonly #store: Store;
  #ops: StoreOp[] = [];
  #committed = false;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Adds writes to make at commit time, in order. */
  add(...ops: StoreOp[]): void {
    if (this.#committed) throw new Error('this unit of work was already committed');
    this.#ops.push(...ops);
  }

  /** How many writes wait for the commit. */
  get pending(): number {
    return this.#ops.length;
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
    this.#ops = [];
    if (ops.length === 0) return [];
    const { groups, at } = groupBySlot(ops);
    const lastAt = at.slice(ops.length - last.length);
    if (groups.length === 1) return (await this.#store.batch(ops)).slice(ops.length - last.length);
    const results = await this.#store.batches(groups);
    return lastAt.map(([group, index]) => results[group]![index]);
  }
}
