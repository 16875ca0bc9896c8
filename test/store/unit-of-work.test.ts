import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/index.js';
import { UnitOfWork } from '../../src/store/unit-of-work.js';

describe('UnitOfWork', () => {
  it('writes everything added, and the last ops, in one round trip, returning the last ops results', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    const work = new UnitOfWork(store);
    work.add({ op: 'put', key: '{u}a', value: '1' });
    work.add({ op: 'put', key: '{u}b', value: '2' });
    expect(work.pending).toBe(2);
    const before = store.roundTrips;
    const results = await work.commit({ op: 'putIfAbsent', key: '{u}a', value: 'x' }, { op: 'get', key: '{u}b' });
    expect(store.roundTrips - before).toBe(1);
    expect(results).toEqual([false, '2']);
    expect(await store.getMany(['{u}a', '{u}b'])).toEqual(['1', '2']);
    expect(work.committed).toBe(true);
    expect(work.pending).toBe(0);
  });

  it('writes each entity atomically, and entities of other slots in the same round trip', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    await store.put('{u}a', 'old');
    const work = new UnitOfWork(store);
    work.add({ op: 'compareAndSet', key: '{u}a', expected: 'old', value: 'new' });
    work.add({ op: 'put', key: '{g}code', value: 'c' }, { op: 'put', key: 'plain', value: 'p' });
    work.add({ op: 'sadd', key: '{u}audit', members: ['linked'] });
    expect(work.pending).toBe(4);
    const before = store.roundTrips;
    expect(await work.commit({ op: 'get', key: '{g}code' }, { op: 'get', key: '{u}a' })).toEqual(['c', 'new']);
    expect(store.roundTrips - before).toBe(1);
    expect(await store.get('plain')).toBe('p');
    expect(await store.smembers('{u}audit')).toEqual(['linked']);
  });

  it('makes no round trip when there is nothing to write', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    const before = store.roundTrips;
    expect(await new UnitOfWork(store).commit()).toEqual([]);
    expect(store.roundTrips).toBe(before);
  });

  it('commits exactly once: adding or committing again throws', async () => {
    const work = new UnitOfWork(new MemoryStore({ prefix: 't:' }));
    await work.commit({ op: 'put', key: 'a', value: '1' });
    expect(() => work.add({ op: 'put', key: 'b', value: '2' })).toThrow(/already committed/);
    await expect(work.commit()).rejects.toThrow(/already committed/);
  });

  it('writes nothing when it is never committed', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    new UnitOfWork(store).add({ op: 'put', key: 'a', value: '1' });
    expect(await store.get('a')).toBeNull();
  });
});
