import { hashTagOf } from './slots.js';
import type { BatchResult, Store, StoreOp } from './store.js';

/**
 * Ops grouped by hash tag (an untagged key alone), in their order: each group lies in one
 * cluster slot whatever the store's prefix. Returns the groups and, per op, its group and place.
 */
export function groupBySlot(ops: StoreOp[]): { groups: StoreOp[][]; at: [group: number, index: number][] } {
  const byTag = new Map<string, number>();
  const groups: StoreOp[][] = [];
  const at: [number, number][] = [];
  for (const op of ops) {
    const tag = hashTagOf(op.key);
    let group = byTag.get(tag);
    if (group === undefined) {
      group = groups.push([]) - 1;
      byTag.set(tag, group);
    }
    at.push([group, groups[group]!.push(op) - 1]);
  }
  return { groups, at };
}

/**
 * Runs ops of several entities in one round trip: the ops of each hash tag atomically together,
 * the groups independently (Store.batches). For writes that need not land together, e.g. a
 * login transaction and the interaction it belongs to. Results come back in op order.
 */
export async function batchPerSlot(store: Store, ops: StoreOp[]): Promise<BatchResult[]> {
  const { groups, at } = groupBySlot(ops);
  if (groups.length <= 1) return store.batch(ops);
  const results = await store.batches(groups);
  return at.map(([group, index]) => results[group]![index]);
}

/**
 * Reads keys of any slots in one round trip: one MGET on a single Redis, else the GETs of each
 * slot together, all sent at once. Not a snapshot across slots: for keys of different entities
 * that are judged one by one.
 */
export async function getAcrossSlots(store: Store, keys: string[]): Promise<(string | null)[]> {
  if (store.crossSlotCommands) return store.getMany(keys);
  const { groups, at } = groupBySlot(keys.map((key): StoreOp => ({ op: 'get', key })));
  if (groups.length <= 1) return store.getMany(keys);
  const results = await store.batches(groups);
  return at.map(([group, index]) => (results[group]![index] as string | null | undefined) ?? null);
}

/** Deletes keys of any slots in one round trip. */
export async function delAcrossSlots(store: Store, keys: string[]): Promise<void> {
  await batchPerSlot(
    store,
    keys.map((key): StoreOp => ({ op: 'del', key })),
  );
}
