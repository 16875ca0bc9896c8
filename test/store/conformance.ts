import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store, StoreWriteOp } from '../../src/store/index.js';
import { StoreUnavailable } from '../../src/store/index.js';

export interface StoreFactory {
  /** A fresh store under a unique prefix, and a second one sharing its backend under another prefix. */
  open(prefix: string): Promise<Store>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let seq = 0;

/** One set of tests, run against every Store implementation. */
export function storeConformance(name: string, factory: () => StoreFactory): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let prefix: string;
    const opened: Store[] = [];
    const open = async (p: string) => {
      const s = await factory().open(p);
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      // A hash tag in the prefix puts every key of one test in one cluster slot, so the tests of
      // batches run unchanged on a cluster; the slot rules have tests of their own below.
      prefix = `{t${process.pid}-${++seq}}:`;
      store = await open(prefix);
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    it('puts and gets a value; absent keys are null', async () => {
      await store.put('a', 'one');
      expect(await store.get('a')).toBe('one');
      expect(await store.get('missing')).toBeNull();
      await store.put('a', 'two');
      expect(await store.get('a')).toBe('two');
    });

    it('expires values by TTL', async () => {
      await store.put('short', 'x', 0.15);
      await store.put('long', 'y', 30);
      expect(await store.get('short')).toBe('x');
      const ttl = await store.ttl('long');
      expect(ttl).toBeGreaterThan(29);
      expect(ttl).toBeLessThanOrEqual(30);
      await sleep(300);
      expect(await store.get('short')).toBeNull();
      expect(await store.take('short')).toBeNull();
      expect(await store.get('long')).toBe('y');
      expect(await store.ttl('short')).toBeNull();
    });

    it('takes a value atomically: of 20 concurrent takers exactly one wins', async () => {
      await store.put('code', 'secret', 60);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.take('code')));
      expect(results.filter((r) => r === 'secret')).toHaveLength(1);
      expect(results.filter((r) => r === null)).toHaveLength(19);
      expect(await store.get('code')).toBeNull();
    });

    it('writes only absent keys with putIfAbsent, one winner among concurrent writers', async () => {
      const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.putIfAbsent('jti', String(i), 60)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      const winner = wins.indexOf(true);
      expect(await store.get('jti')).toBe(String(winner));
    });

    it('compares and sets: writes only over the expected value, absent for null; a null value deletes', async () => {
      expect(await store.compareAndSet('cas', 'nope', 'v1')).toBe(false);
      expect(await store.get('cas')).toBeNull();
      expect(await store.compareAndSet('cas', null, 'v1')).toBe(true);
      expect(await store.compareAndSet('cas', null, 'again')).toBe(false);
      expect(await store.compareAndSet('cas', 'v0', 'v2')).toBe(false);
      expect(await store.compareAndSet('cas', 'v1', 'v2')).toBe(true);
      expect(await store.get('cas')).toBe('v2');
      expect(await store.compareAndSet('cas', 'v1', null)).toBe(false);
      expect(await store.compareAndSet('cas', 'v2', null)).toBe(true);
      expect(await store.get('cas')).toBeNull();
      await store.put('timed', 'x', 30);
      expect(await store.compareAndSet('timed', 'x', 'y')).toBe(true);
      expect(await store.ttl('timed')).toBeNull();
      const tricky = 'a\u0000b\r\n\u{1F600}';
      await store.put('binary', tricky);
      expect(await store.compareAndSet('binary', 'a', 'no')).toBe(false);
      expect(await store.compareAndSet('binary', tricky, `${tricky}!`)).toBe(true);
      expect(await store.get('binary')).toBe(`${tricky}!`);
      await store.sadd('a-set', ['m']);
      await expect(store.compareAndSet('a-set', null, 'v')).rejects.toThrow(TypeError);
      await expect(store.compareAndSet('', null, 'v')).rejects.toThrow(TypeError);
    });

    it('gives one winner among concurrent compare-and-sets from the same value', async () => {
      await store.put('version', 'v0');
      const writers = Array.from({ length: 20 }, (_, i) => store.compareAndSet('version', 'v0', `v${i + 1}`));
      const wins = await Promise.all(writers);
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await store.get('version')).toBe(`v${wins.indexOf(true) + 1}`);
    });

    it('compares and sets inside a batch, in one round trip, the other ops running either way', async () => {
      await store.put('rec', 'old');
      const before = store.roundTrips;
      const results = await store.batch([
        { op: 'compareAndSet', key: 'rec', expected: 'stale', value: 'lost' },
        { op: 'sadd', key: 'log', members: ['tried'] },
        { op: 'compareAndSet', key: 'rec', expected: 'old', value: 'new' },
        { op: 'compareAndSet', key: 'born', expected: null, value: 'here' },
        { op: 'get', key: 'rec' },
      ]);
      expect(store.roundTrips - before).toBe(1);
      expect(results).toEqual([false, undefined, true, true, 'new']);
      expect(await store.getMany(['rec', 'born'])).toEqual(['new', 'here']);
      expect(await store.smembers('log')).toEqual(['tried']);
    });

    it('reads several keys in one call', async () => {
      await store.put('k1', 'v1');
      await store.put('k3', 'v3');
      expect(await store.getMany(['k1', 'k2', 'k3'])).toEqual(['v1', null, 'v3']);
      expect(await store.getMany([])).toEqual([]);
    });

    it('deletes keys and counts what it removed', async () => {
      await store.put('d1', '1');
      await store.put('d2', '2');
      expect(await store.del('d1', 'd2', 'd3')).toBe(2);
      expect(await store.get('d1')).toBeNull();
    });

    it('adds, removes and lists set members, with a TTL on the set', async () => {
      await store.sadd('family', ['rt1', 'rt2'], 0.2);
      await store.sadd('family', ['rt2', 'rt3']);
      expect((await store.smembers('family')).sort()).toEqual(['rt1', 'rt2', 'rt3']);
      await store.srem('family', ['rt2']);
      expect((await store.smembers('family')).sort()).toEqual(['rt1', 'rt3']);
      expect(await store.smembers('nothing')).toEqual([]);
      await sleep(350);
      expect(await store.smembers('family')).toEqual([]);
    });

    it('appends to a string in a batch (made when absent), setting its TTL when given', async () => {
      await store.batch([{ op: 'append', key: 'list', value: 'a ', ttl: 0.2 }]);
      await store.batch([
        { op: 'append', key: 'list', value: 'b ' },
        { op: 'get', key: 'other' },
      ]);
      expect(await store.get('list')).toBe('a b ');
      await sleep(350);
      expect(await store.get('list')).toBeNull();
      await store.batch([{ op: 'append', key: 'list', value: 'c ', ttl: 30 }]);
      await store.batch([{ op: 'append', key: 'list', value: 'd ', ttl: 30 }]);
      expect(await store.get('list')).toBe('c d ');
      expect(await store.ttl('list')).toBeGreaterThan(25);
    });

    it('counts, and sets the TTL only when the counter is created', async () => {
      expect(await store.incr('fails', 0.25)).toBe(1);
      await sleep(100);
      expect(await store.incr('fails', 10)).toBe(2);
      const counts = await Promise.all(Array.from({ length: 20 }, () => store.incr('fails')));
      expect(new Set(counts).size).toBe(20);
      expect(Math.max(...counts)).toBe(22);
      await sleep(250);
      expect(await store.get('fails')).toBeNull();
    });

    it('takes one back from a counter in a batch: keeps its TTL, never creates it, never goes below zero', async () => {
      await store.incr('attempts', 0.3);
      await store.incr('attempts');
      await store.batch([{ op: 'decr', key: 'attempts' }]);
      expect(await store.get('attempts')).toBe('1');
      await store.batch([
        { op: 'decr', key: 'attempts' },
        { op: 'decr', key: 'attempts' },
        { op: 'decr', key: 'absent' },
      ]);
      expect(await store.getMany(['attempts', 'absent'])).toEqual(['0', null]);
      expect(await store.ttl('absent')).toBeNull();
      expect(await store.incr('attempts')).toBe(1);
      // The TTL set when the counter was made still runs: no counter outlives its window.
      const ttl = await store.ttl('attempts');
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(0.3);
      await sleep(400);
      expect(await store.get('attempts')).toBeNull();
      await store.put('word', 'abc');
      await expect(store.batch([{ op: 'decr', key: 'word' }])).rejects.toThrow(TypeError);
      expect(await store.get('word')).toBe('abc');
    });

    it('runs a batch atomically and in one round trip', async () => {
      await store.put('old', 'x');
      const before = store.roundTrips;
      await store.batch([
        { op: 'put', key: 'b1', value: 'v', ttl: 30 },
        { op: 'del', key: 'old' },
        { op: 'sadd', key: 'idx', members: ['b1'], ttl: 30 },
        { op: 'put', key: 'b2', value: 'w' },
        { op: 'expire', key: 'b2', ttl: 0.15 },
      ]);
      expect(store.roundTrips - before).toBe(1);
      expect(await store.getMany(['b1', 'b2', 'old'])).toEqual(['v', 'w', null]);
      expect(await store.smembers('idx')).toEqual(['b1']);
      await sleep(300);
      expect(await store.get('b2')).toBeNull();
    });

    it('reads, takes and conditionally writes inside a batch, returning one result per op', async () => {
      await store.put('rt', 'record');
      await store.put('seen', 'earlier');
      const results = await store.batch([
        { op: 'take', key: 'rt' },
        { op: 'get', key: 'seen' },
        { op: 'putIfAbsent', key: 'seen', value: 'now', ttl: 30 },
        { op: 'putIfAbsent', key: 'fresh', value: 'now', ttl: 30 },
        { op: 'sadd', key: 'members', members: ['a'], ttl: 30 },
        { op: 'get', key: 'missing' },
      ]);
      expect(results).toEqual(['record', 'earlier', false, true, undefined, null]);
      expect(await store.getMany(['rt', 'seen', 'fresh'])).toEqual([null, 'earlier', 'now']);
    });

    it('gives one winner when concurrent batches take the same key and leave a marker', async () => {
      await store.put('token', 'v', 30);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.batch([
            { op: 'take', key: 'token' },
            { op: 'get', key: 'marker' },
            { op: 'putIfAbsent', key: 'marker', value: 'used', ttl: 30 },
          ]),
        ),
      );
      expect(outcomes.filter(([taken]) => taken === 'v')).toHaveLength(1);
      // Every loser sees the marker the winner left in the same atomic step.
      expect(outcomes.filter(([taken, marker]) => taken === null && marker === 'used')).toHaveLength(19);
    });

    it('batchIf writes only when every condition holds, in one round trip, and reports what it saw', async () => {
      await store.put('token', 'record', 30);
      const before = store.roundTrips;
      const spend: StoreWriteOp[] = [
        { op: 'del', key: 'token' },
        { op: 'put', key: 'next', value: 'record', ttl: 30 },
        { op: 'put', key: 'used', value: 'marker', ttl: 30 },
        { op: 'sadd', key: 'family', members: ['next'], ttl: 30 },
        { op: 'srem', key: 'family', members: ['token'] },
      ];
      const conditions = [
        { key: 'token', value: 'record' },
        { key: 'used', value: null },
        { key: 'revoked', value: null },
      ];
      expect(await store.batchIf(conditions, spend)).toEqual({ applied: true, current: ['record', null, null] });
      expect(store.roundTrips - before).toBe(1);
      expect(await store.getMany(['token', 'next', 'used'])).toEqual([null, 'record', 'marker']);
      expect(await store.smembers('family')).toEqual(['next']);
      expect(await store.ttl('next')).toBeGreaterThan(29);
      // The same step again: the conditions fail, nothing is written, the current values come back.
      const again = await store.batchIf(conditions, [{ op: 'put', key: 'other', value: 'x' }, ...spend]);
      expect(again).toEqual({ applied: false, current: [null, 'marker', null] });
      expect(await store.get('other')).toBeNull();
      expect(await store.smembers('family')).toEqual(['next']);
    });

    it('spend takes a value once, leaves its marker and moves its companion, in one round trip', async () => {
      await store.put('code', 'record', 30);
      await store.put('waiting', '{"g":"grant","o":false}', 30);
      const request = {
        key: 'code',
        marker: { key: 'code-used', value: 'grant', ttl: 60 },
        blocker: 'revoked',
        companion: {
          from: 'waiting',
          to: 'rt',
          ttl: 90,
          extra: { x: 123 },
          index: 'tokens',
          member: 'h1',
          indexTtl: 120,
        },
      };
      const before = store.roundTrips;
      expect(await store.spend(request)).toEqual({ value: 'record', marker: null, blocked: false, moved: true });
      expect(store.roundTrips - before).toBe(1);
      expect(await store.getMany(['code', 'waiting', 'code-used'])).toEqual([null, null, 'grant']);
      expect(JSON.parse((await store.get('rt'))!)).toEqual({ g: 'grant', o: false, x: 123 });
      expect(await store.ttl('rt')).toBeGreaterThan(89);
      expect(await store.ttl('code-used')).toBeGreaterThan(59);
      expect(await store.smembers('tokens')).toEqual(['h1']);
      expect(await store.ttl('tokens')).toBeGreaterThan(119);
      // A second use finds the marker only, and writes nothing.
      expect(await store.spend({ ...request, companion: { ...request.companion, to: 'rt2' } })).toEqual({
        value: null,
        marker: 'grant',
        blocked: false,
        moved: false,
      });
      expect(await store.get('rt2')).toBeNull();
      // An unknown value leaves no marker behind.
      expect(await store.spend({ ...request, key: 'nothing', marker: { ...request.marker, key: 'n-used' } })).toEqual({
        value: null,
        marker: null,
        blocked: false,
        moved: false,
      });
      expect(await store.get('n-used')).toBeNull();
    });

    it('spend with its blocker present still takes the value, but moves nothing; without a companion only takes', async () => {
      await store.put('code', 'record', 30);
      await store.put('waiting', '{"g":"grant"}', 30);
      await store.put('revoked', '1', 30);
      const request = {
        key: 'code',
        marker: { key: 'code-used', value: 'grant', ttl: 60 },
        blocker: 'revoked',
        companion: { from: 'waiting', to: 'rt', ttl: 90, extra: {}, index: 'tokens', member: 'h1', indexTtl: 120 },
      };
      expect(await store.spend(request)).toEqual({ value: 'record', marker: null, blocked: true, moved: false });
      expect(await store.getMany(['code', 'waiting', 'rt', 'code-used'])).toEqual([
        null,
        '{"g":"grant"}',
        null,
        'grant',
      ]);
      expect(await store.smembers('tokens')).toEqual([]);
      await store.put('code2', 'r2', 30);
      const plain = { key: 'code2', marker: { key: 'used2', value: 'g', ttl: 60 }, blocker: 'none' };
      expect(await store.spend(plain)).toEqual({ value: 'r2', marker: null, blocked: false, moved: false });
      expect(await store.get('used2')).toBe('g');
      // A companion that is absent (no refresh for this code) moves nothing.
      await store.put('code3', 'r3', 30);
      const absent = { ...request, key: 'code3', blocker: 'none', companion: { ...request.companion, from: 'gone' } };
      expect(await store.spend(absent)).toEqual({ value: 'r3', marker: 'grant', blocked: false, moved: false });
      // A wrong type fails before anything is written.
      await store.put('code4', 'r4', 30);
      await store.put('not-a-set', 'x');
      const wrong = { ...absent, key: 'code4', companion: { ...absent.companion, index: 'not-a-set' } };
      await expect(store.spend(wrong)).rejects.toThrow(TypeError);
      expect(await store.get('code4')).toBe('r4');
    });

    it('refuses a spend across cluster slots, and writes nothing', async () => {
      const plain = await open(`plain${process.pid}-${seq}:`);
      await plain.put('{a}code', 'v');
      const request = { key: '{a}code', marker: { key: '{b}used', value: 'g', ttl: 5 }, blocker: '{a}r' };
      await expect(plain.spend(request)).rejects.toEqual(expect.objectContaining({ name: 'CrossSlotError' }));
      expect(await plain.getMany(['{a}code'])).toEqual(['v']);
    });

    it('batchIf checks existence, and runs with no conditions or no ops', async () => {
      await store.put('present', 'anything');
      expect(await store.batchIf([{ key: 'present', exists: true }], [{ op: 'put', key: 'a', value: '1' }])).toEqual({
        applied: true,
        current: ['anything'],
      });
      expect(await store.batchIf([{ key: 'absent', exists: true }], [{ op: 'put', key: 'b', value: '1' }])).toEqual({
        applied: false,
        current: [null],
      });
      expect(await store.batchIf([], [{ op: 'expire', key: 'a', ttl: 0.15 }])).toEqual({ applied: true, current: [] });
      expect(await store.batchIf([{ key: 'a', value: '1' }], [])).toEqual({ applied: true, current: ['1'] });
      expect(await store.getMany(['a', 'b'])).toEqual(['1', null]);
      await sleep(300);
      expect(await store.get('a')).toBeNull();
    });

    it('batchIf is a compare-and-set: of 20 concurrent writers on one condition exactly one applies', async () => {
      await store.put('token', 'v1', 30);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.batchIf(
            [{ key: 'token', value: 'v1' }],
            [
              { op: 'put', key: 'token', value: `v2-${i}`, ttl: 30 },
              { op: 'sadd', key: 'winners', members: [String(i)] },
            ],
          ),
        ),
      );
      const winners = outcomes.flatMap((o, i) => (o.applied ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await store.get('token')).toBe(`v2-${winners[0]}`);
      expect(await store.smembers('winners')).toEqual([String(winners[0])]);
      // Every loser saw the winner's value in the same atomic step.
      expect(outcomes.filter((o) => !o.applied && o.current[0] === `v2-${winners[0]}`)).toHaveLength(19);
    });

    it('batchIf is all or nothing: a wrong type or bad argument writes nothing', async () => {
      await store.put('str', 'x');
      await expect(
        store.batchIf(
          [],
          [
            { op: 'put', key: 'first', value: '1' },
            { op: 'sadd', key: 'str', members: ['m'] },
          ],
        ),
      ).rejects.toThrow(TypeError);
      expect(await store.get('first')).toBeNull();
      await store.sadd('aset', ['m']);
      const first: StoreWriteOp = { op: 'put', key: 'first', value: '1' };
      await expect(store.batchIf([{ key: 'aset', value: null }], [first])).rejects.toThrow(TypeError);
      const badTtl: StoreWriteOp = { op: 'put', key: 'k', value: 'v', ttl: -1 };
      await expect(store.batchIf([], [first, badTtl])).rejects.toThrow(RangeError);
      // Reads and takes are refused: batchIf reads through its conditions only.
      await expect(store.batchIf([], [{ op: 'take', key: 'str' } as never])).rejects.toThrow(TypeError);
      await expect(store.batchIf([{ key: '', value: null }], [])).rejects.toThrow(TypeError);
      expect(await store.getMany(['first', 'k', 'str'])).toEqual([null, null, 'x']);
    });

    it('keeps stores with different prefixes apart on the same backend', async () => {
      const other = await open(`${prefix}other:`);
      await store.put('shared-name', 'mine');
      await other.put('shared-name', 'theirs');
      expect(await store.get('shared-name')).toBe('mine');
      expect(await other.get('shared-name')).toBe('theirs');
      expect(await other.take('shared-name')).toBe('theirs');
      expect(await store.get('shared-name')).toBe('mine');
      const put: StoreWriteOp = { op: 'put', key: 'shared-name', value: 'again' };
      const again = await other.batchIf([{ key: 'shared-name', value: null }], [put]);
      expect(again).toEqual({ applied: true, current: [null] });
      expect(await store.get('shared-name')).toBe('mine');
      expect(await other.get('shared-name')).toBe('again');
    });

    it('refuses a batch, batchIf, getMany or del across cluster slots, and writes nothing', async () => {
      const plain = await open(`plain${process.pid}-${seq}:`);
      const cross = expect.objectContaining({ name: 'CrossSlotError' });
      const put = (key: string): StoreWriteOp => ({ op: 'put', key, value: 'v' });
      await expect(plain.batch([put('{a}1'), put('{b}2')])).rejects.toThrow(TypeError);
      await expect(plain.batch([put('{a}1'), put('{b}2')])).rejects.toEqual(cross);
      await expect(plain.batchIf([{ key: '{a}1', value: null }], [put('{b}2')])).rejects.toEqual(cross);
      await expect(plain.batches([[put('{a}1')], [put('{a}2'), put('{b}2')]])).rejects.toEqual(cross);
      await expect(plain.getMany(['{a}1', '{b}2'])).rejects.toEqual(cross);
      await expect(plain.del('{a}1', '{b}2')).rejects.toEqual(cross);
      expect(await plain.get('{a}1')).toBeNull();
      expect(await plain.get('{a}2')).toBeNull();
      expect(await plain.get('{b}2')).toBeNull();
      // One tag, one slot: the tag is what lies between the first { and the next }.
      await plain.batch([put('x{user:1}a'), put('{user:1}b'), put('y{user:1}{z}')]);
      expect(await plain.getMany(['x{user:1}a', '{user:1}b', 'y{user:1}{z}'])).toEqual(['v', 'v', 'v']);
      expect(await plain.del('x{user:1}a', '{user:1}b')).toBe(2);
    });

    it('sends batches of different slots together, in one round trip, each atomic', async () => {
      const plain = await open(`plain${process.pid}-${seq}:`);
      await plain.put('{b}seen', 'before');
      const before = plain.roundTrips;
      const results = await plain.batches([
        [
          { op: 'put', key: '{a}rec', value: 'r', ttl: 30 },
          { op: 'sadd', key: '{a}idx', members: ['rec'], ttl: 30 },
        ],
        [],
        [
          { op: 'take', key: '{b}seen' },
          { op: 'putIfAbsent', key: '{b}marker', value: 'm', ttl: 30 },
        ],
      ]);
      expect(plain.roundTrips - before).toBe(1);
      expect(results).toEqual([[undefined, undefined], [], ['before', true]]);
      expect(await plain.getMany(['{a}rec'])).toEqual(['r']);
      expect(await plain.smembers('{a}idx')).toEqual(['rec']);
      expect(await plain.getMany(['{b}seen', '{b}marker'])).toEqual([null, 'm']);
      const idle = plain.roundTrips;
      expect(await plain.batches([[], []])).toEqual([[], []]);
      expect(plain.roundTrips).toBe(idle);
    });

    it('stores large values whole', async () => {
      const big = `${'x'.repeat(2 * 1024 * 1024)}end`;
      await store.put('big', big, 60);
      const back = await store.get('big');
      expect(back?.length).toBe(big.length);
      expect(back).toBe(big);
    });

    it('is binary-safe for strings: NUL, newlines, CRLF and astral characters round-trip', async () => {
      const tricky = 'a\u0000b\r\n*3\r\n$3\r\nDEL\u{1F600}é\u00ff\uFFFD"\'\\';
      await store.put(tricky, tricky);
      expect(await store.get(tricky)).toBe(tricky);
      await store.sadd('set', [tricky, '']);
      expect((await store.smembers('set')).sort()).toEqual(['', tricky].sort());
    });

    it('rejects bad arguments with typed errors and writes nothing', async () => {
      await expect(store.put('k', 'v', 0)).rejects.toThrow(RangeError);
      await expect(store.put('k', 'v', -1)).rejects.toThrow(RangeError);
      await expect(store.put('k', 'v', Number.NaN)).rejects.toThrow(RangeError);
      await expect(store.put('', 'v')).rejects.toThrow(TypeError);
      await expect(
        store.batch([
          { op: 'put', key: 'k', value: 'v' },
          { op: 'put', key: 'k2', value: 'v', ttl: -5 },
        ]),
      ).rejects.toThrow(RangeError);
      expect(await store.get('k')).toBeNull();
      await store.sadd('aset', ['m']);
      await expect(store.get('aset')).rejects.toThrow(TypeError);
      await store.put('notanumber', 'abc');
      await expect(store.incr('notanumber')).rejects.toThrow(TypeError);
    });

    it('fails with StoreUnavailable once closed', async () => {
      await store.ping();
      await store.close();
      await expect(store.get('a')).rejects.toBeInstanceOf(StoreUnavailable);
      await expect(store.ping()).rejects.toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    });
  });
}
