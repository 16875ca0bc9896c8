import { describe, expect, it } from 'vitest';
import { roundRobin } from '../../bench/lib/balance.mjs';
import {
  combineInfos,
  counterValue,
  cpuShares,
  hopReadEvents,
  parseRedisInfo,
  readEventsPerFlow,
} from '../../bench/lib/stats.mjs';
import { compareVariant, planVariants } from '../../bench/lib/variants.mjs';

const info = (reads: number, memory: number, calls: string) =>
  parseRedisInfo(
    `# Stats\r\ntotal_reads_processed:${reads}\r\n# Memory\r\nused_memory:${memory}\r\n# Commandstats\r\n${calls}`,
  );

/** The arithmetic behind the scale-out rows (--store, --instances), so their numbers can be trusted. */
describe('bench scale-out helpers', () => {
  it('sums read events, memory and command calls over the counted nodes', () => {
    const combined = combineInfos([
      info(10, 1000, 'cmdstat_get:calls=3,usec=1\r\ncmdstat_exec:calls=1,usec=1\r\n'),
      info(5, 500, 'cmdstat_get:calls=2,usec=1\r\n'),
    ]);
    expect(combined).toEqual({ nodes: 2, reads: 15, usedMemory: 1500, calls: { get: 5, exec: 1 } });
    expect(combineInfos([])).toEqual({ nodes: 0, reads: 0, usedMemory: 0, calls: {} });
  });

  it("counts a hop's read events over every node, less each node's own after-INFO", () => {
    // Node 1 saw the hop's transaction and our INFO; node 2 only our INFO.
    expect(hopReadEvents([100, 40], [102, 41])).toBe(1);
    // One node, as on one Redis: the same as before (after - before - 1).
    expect(hopReadEvents([7], [10])).toBe(2);
    expect(() => hopReadEvents([1, 2], [3])).toThrow(/same nodes/);
  });

  it('takes the probes of a sequential pass off its read events, on every node', () => {
    // 3 masters, 10 logins of 4 hops: the driver's 2 INFOs per hop and our after-INFO on each node.
    const before = { nodes: 3, reads: 1000, usedMemory: 0, calls: {} };
    const probes = 3 * (1 + 2 * 4 * 10);
    const after = { ...before, reads: 1000 + probes + 10 * 11 };
    expect(readEventsPerFlow({ before, after, hopsPerFlow: 4, flows: 10, completed: 10 })).toBe(11);
    // Failed flows still made their probes, but do not count as logins.
    const withErrors = { ...before, reads: 1000 + 3 * (1 + 2 * 4 * 12) + 10 * 11 };
    expect(readEventsPerFlow({ before, after: withErrors, hopsPerFlow: 4, flows: 12, completed: 10 })).toBe(11);
    expect(readEventsPerFlow({ before, after, hopsPerFlow: 4, flows: 0, completed: 0 })).toBeNaN();
  });

  it('reads a Prometheus counter, summed over label sets, and not a longer name sharing its prefix', () => {
    const text = [
      '# HELP login_broker_store_round_trips_total Round trips',
      '# TYPE login_broker_store_round_trips_total counter',
      'login_broker_store_round_trips_total 42',
      'login_broker_store_round_trips_total_extra 1000',
      'login_broker_logins_total{outcome="ok"} 3',
      'login_broker_logins_total{outcome="error"} 2',
    ].join('\n');
    expect(counterValue(text, 'login_broker_store_round_trips_total')).toBe(42);
    expect(counterValue(text, 'login_broker_logins_total')).toBe(5);
    expect(counterValue(text, 'absent_total')).toBeNaN();
  });

  it('sends requests to the shared issuer to each instance in turn, and leaves other URLs alone', () => {
    const route = roundRobin('http://127.0.0.1:4000', ['http://127.0.0.1:4000', 'http://127.0.0.1:4001']);
    const hosts = [1, 2, 3, 4].map(() => route(new URL('http://127.0.0.1:4000/authorize?x=1')).host);
    expect(hosts).toEqual(['127.0.0.1:4000', '127.0.0.1:4001', '127.0.0.1:4000', '127.0.0.1:4001']);
    const routed = route(new URL('http://127.0.0.1:4000/callback/stub?code=c'));
    expect(`${routed.pathname}${routed.search}`).toBe('/callback/stub?code=c');
    // The upstream is not the issuer: never rerouted, and it does not advance the turn.
    expect(route(new URL('http://127.0.0.1:5000/authorize')).host).toBe('127.0.0.1:5000');
    expect(route(new URL('http://127.0.0.1:4000/token')).host).toBe('127.0.0.1:4001');
    // One instance (no list): every URL as it is.
    expect(roundRobin('http://127.0.0.1:4000', [])(new URL('http://127.0.0.1:4000/x')).port).toBe('4000');
  });

  it('plans the variants --store and --instances ask for, each with the side it is compared with', () => {
    expect(planVariants('single', 1)).toEqual([]);
    expect(planVariants('cluster', 1).map((v) => [v.id, v.compareTo])).toEqual([['cluster', 'broker']]);
    expect(planVariants('sentinel', 1).map((v) => [v.id, v.waitReplicas, v.compareTo])).toEqual([
      ['sentinel', 0, 'broker'],
      ['sentinel_wait1', 1, 'sentinel'],
    ]);
    expect(planVariants('single', 2).map((v) => [v.id, v.instances, v.compareTo])).toEqual([
      ['single_x2', 2, 'broker'],
    ]);
    // Two instances on a cluster are compared with one instance on the cluster.
    expect(planVariants('cluster', 2).map((v) => [v.id, v.compareTo])).toEqual([
      ['cluster', 'broker'],
      ['cluster_x2', 'cluster'],
    ]);
    expect(() => planVariants('memory', 1)).toThrow(/--store must be one of single, cluster, sentinel/);
    expect(() => planVariants('single', 0)).toThrow(/--instances/);
    expect(() => planVariants('single', 'two')).toThrow(/--instances must be a whole number from 1 to 4, not "two"/);
    expect(() => planVariants('single', '')).toThrow(/--instances/);
    // As npm hands it over (npm run bench --instances=2): a string.
    expect(planVariants('single', '2').map((v) => v.instances)).toEqual([2]);
    expect(() => planVariants('single', 1.5)).toThrow(/--instances/);
  });

  it('compares a variant with its baseline: rate and CPU as ratios, round trips as a difference', () => {
    const side = (rate: number, cpu: number, trips: number) => ({
      rate: { median: rate },
      cpuMsPerFlow: { median: cpu },
      storeRoundTripsPerFlow: trips,
    });
    const [variant] = planVariants('single', 2);
    const row = { id: 'cold_login', broker: side(100, 6, 11), single_x2: side(150, 7.5, 11) };
    expect(compareVariant(row, variant!)).toEqual({ rate: 1.5, cpuMsPerFlow: 1.25, storeRoundTrips: 0 });
    expect(compareVariant({ ...row, broker: side(0, 0, 11) }, variant!).rate).toBeNaN();
    expect(() => compareVariant({ id: 'x', broker: row.broker }, variant!)).toThrow(/lacks single_x2/);
  });
});

describe('bench CPU split between instances', () => {
  it("gives each instance's share of the summed CPU over the repetitions", () => {
    expect(
      cpuShares([
        [300, 100],
        [100, 300],
        [200, 200],
      ]),
    ).toEqual([0.5, 0.5]);
    expect(cpuShares([[30, 10]])).toEqual([0.75, 0.25]);
    expect(cpuShares([[640], [620]])).toEqual([1]);
    expect(cpuShares([[0, 0]]).every(Number.isNaN)).toBe(true);
  });
});
