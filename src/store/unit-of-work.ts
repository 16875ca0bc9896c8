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
    const results = await this.#store.batch(ops);
    return results.slice(ops.length - last.length);
  }
}
