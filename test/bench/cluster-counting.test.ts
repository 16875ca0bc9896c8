import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hopReadEvents, parseRedisInfo } from '../../bench/lib/stats.mjs';
import { RedisStore, slotOf } from '../../src/store/index.js';
import { redisServerAvailable, waitUntilReady } from '../support/redis-server.js';
import { redisCliAvailable, startRedisCluster, type RedisCluster } from '../support/redis-topologies.js';

const available = redisServerAvailable() && redisCliAvailable();

// `npm run bench -- --store=cluster` counts Redis read events summed over every master, next to
// the store's own round-trip counter. This pins down how the two relate on a cluster, as the
// bench's output explains it: one step's per-slot transactions, sent to their nodes at once, are
// one round trip for the store and one read event on each node.
describe.runIf(available)('bench round-trip counting on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let store: RedisStore;
  let masters: Redis[] = [];
  const tags: string[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
    store = await waitUntilReady(new RedisStore({ target: cluster.target, prefix: 'rt:' }));
    // The three masters own 0-5460, 5461-10922 and 10923-16383.
    const ports = new Set<number>();
    for (const slot of [0, 8000, 16000]) ports.add((await cluster.masterOf(slot)).port);
    masters = [...ports].map((port) => new Redis(port, '127.0.0.1'));
    // Two hash tags whose slots lie on different masters.
    const seen = new Set<number>();
    for (let i = 0; tags.length < 2 && i < 1000; i++) {
      const master = await cluster.masterOf(slotOf(`rt:{t${i}}`));
      if (!seen.has(master.port)) {
        seen.add(master.port);
        tags.push(`{t${i}}`);
      }
    }
  }, 60_000);
  afterAll(async () => {
    for (const m of masters) m.disconnect();
    await store?.close();
    await cluster?.stop();
  });

  const reads = () =>
    Promise.all(masters.map(async (m) => Number(parseRedisInfo(await m.info('stats')).stats!.total_reads_processed)));

  /**
   * Round trips the store counted and read events the masters saw for `step`. Replicas ack their
   * masters every second, which a measurement may catch: the fewest of three tries is the count.
   */
  async function measure(step: () => Promise<unknown>) {
    let best = { trips: Infinity, events: Infinity };
    for (let i = 0; i < 3; i++) {
      const trips = store.roundTrips;
      const before = await reads();
      await step();
      const events = hopReadEvents(before, await reads());
      if (events < best.events) best = { trips: store.roundTrips - trips, events };
    }
    return best;
  }

  it('counts 3 masters and 2 tags on different ones', () => {
    expect(masters).toHaveLength(3);
    expect(tags).toHaveLength(2);
  });

  it('sees one read event for one command or one transaction on one slot, as the store counts', async () => {
    const [a] = tags as [string];
    expect(await measure(() => store.put(`${a}k`, 'v', 60))).toEqual({ trips: 1, events: 1 });
    const batch = () =>
      store.batch([
        { op: 'put', key: `${a}1`, value: '1', ttl: 60 },
        { op: 'put', key: `${a}2`, value: '2', ttl: 60 },
      ]);
    expect(await measure(batch)).toEqual({ trips: 1, events: 1 });
  });

  it('sees a read event per node for per-slot transactions the store sends together as one round trip', async () => {
    const [a, b] = tags as [string, string];
    const step = () =>
      store.batches([[{ op: 'put', key: `${a}x`, value: '1', ttl: 60 }], [{ op: 'put', key: `${b}y`, value: '2' }]]);
    expect(await measure(step)).toEqual({ trips: 1, events: 2 });
  });
});
