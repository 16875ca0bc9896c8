import { describe, expect, it } from 'vitest';
import { arrivalCount, dueCount, hopLatencies, ownLatencies, scheduledAt } from '../../bench/lib/pacing.mjs';
import {
  foreignCores,
  Histogram,
  medianInterval,
  pairedRatios,
  parseMachineStat,
  parseSchedstat,
  summarize,
} from '../../bench/lib/stats.mjs';
import { compareVariant, planVariants } from '../../bench/lib/variants.mjs';

/** The bench's method (issue 12): the paced driver's schedule, per-pair ratios, their spread. */
describe('bench pacing (open loop at a constant arrival rate)', () => {
  it('schedules rate × duration arrivals, evenly spaced', () => {
    expect(arrivalCount(50, 2000)).toBe(100);
    expect(arrivalCount(0.1, 1000)).toBe(1);
    expect(() => arrivalCount(0, 1000)).toThrow(RangeError);
    expect(() => arrivalCount(10, 0)).toThrow(RangeError);
    expect(scheduledAt(0, 50)).toBe(0);
    expect(scheduledAt(3, 50)).toBe(60);
  });

  it('owes every arrival scheduled up to now, so a late timer does not lower the rate', () => {
    expect(dueCount(-1, 50, 100)).toBe(0);
    // Arrival 0 is due at once, arrival 1 at 20 ms.
    expect(dueCount(0, 50, 100)).toBe(1);
    expect(dueCount(19.9, 50, 100)).toBe(1);
    expect(dueCount(20, 50, 100)).toBe(2);
    // A timer 65 ms late owes three more at once.
    expect(dueCount(85, 50, 100)).toBe(5);
    // Never more than the run scheduled.
    expect(dueCount(1e6, 50, 100)).toBe(100);
    // At any time the count due matches the schedule.
    for (let i = 0; i < 100; i++) expect(dueCount(scheduledAt(i, 50), 50, 100)).toBe(i + 1);
  });

  it('times the first hop from the scheduled start (no coordinated omission), later hops from their own start', () => {
    // Scheduled at 100; the driver got to it at 130 (a busy machine, or no free browser), then
    // authorize 130–140, upstream 141–142, callback 142–150, token 151–155.
    const { hops, total } = hopLatencies(100, [
      ['authorize', 130, 140],
      ['upstream', 141, 142],
      ['callback', 142, 150],
      ['token', 151, 155],
    ]);
    expect(hops).toEqual({ authorize: 40, upstream: 1, callback: 8, token: 4 });
    expect(total).toBe(55);
    // A hop made twice (a redirect chain) sums.
    expect(
      hopLatencies(0, [
        ['resume', 0, 2],
        ['resume', 3, 4],
      ]).hops,
    ).toEqual({ resume: 3 });
    expect(hopLatencies(0, []).total).toBeNaN();
  });

  it("takes the upstream's own time off the broker's hop, and leaves the upstream's hop out", () => {
    const hops = { authorize: 3, upstream: 1, callback: 9, token: 4 };
    expect(ownLatencies(hops, { callback: 2.5 })).toEqual({ authorize: 3, callback: 6.5, token: 4 });
    // Never below zero, whatever the clocks said.
    expect(ownLatencies({ callback: 1 }, { callback: 2 })).toEqual({ callback: 0 });
    expect(ownLatencies({ authorize: 3, token: 4 })).toEqual({ authorize: 3, token: 4 });
  });
});

describe('bench histograms across repetitions', () => {
  it('merges repetitions sent sparse over IPC into the same percentiles as one histogram', () => {
    const one = new Histogram();
    const a = new Histogram();
    const b = new Histogram();
    for (let i = 0; i < 2000; i++) {
      const ms = ((i * 7919) % 3000) / 10; // 0–300 ms: both bucket ranges
      one.record(ms);
      (i % 3 ? a : b).record(ms);
    }
    const merged = Histogram.fromSparse(JSON.parse(JSON.stringify(a.toSparse()))).merge(b.toSparse());
    expect(merged.toJSON()).toEqual(one.toJSON());
    expect(new Histogram().merge(a).count).toBe(a.count);
    expect(a.toSparse().fine.every(([, c]) => c > 0)).toBe(true);
  });
});

describe('bench spread and ratios', () => {
  it('gives a distribution-free 95% interval for the median from order statistics', () => {
    const values = [10, 11, 9, 12, 10.5, 9.5, 10.2, 9.8, 10.1, 13, 7, 10];
    // n = 12: the 3rd and 10th of the sorted values, coverage 1 − 2·79/4096.
    const ci = medianInterval(values);
    expect([ci.lo, ci.hi]).toEqual([9.5, 11]);
    expect(ci.coverage).toBeCloseTo(1 - (2 * 79) / 4096, 10);
    expect(ci.halfWidth).toBeCloseTo((11 - 9.5) / 2 / 10.05, 10);
    // Too few values for 95%: the whole range, with the coverage it has (1 − 2^(1−n)).
    const small = medianInterval([3, 1, 2]);
    expect(small).toMatchObject({ lo: 1, hi: 3, coverage: 0.75 });
    expect(medianInterval([5, 5, 5, 5, 5, 5, 5, 5]).halfWidth).toBe(0);
    expect(medianInterval([]).lo).toBeNaN();
    // Not-a-number values (a repetition with no completed flow) are left out.
    expect(medianInterval([1, Number.NaN, 3]).coverage).toBeCloseTo(0.5);
    // A larger sample narrows toward the middle and keeps its coverage.
    const many = Array.from({ length: 101 }, (_, i) => i);
    const wide = medianInterval(many);
    expect(wide.coverage).toBeGreaterThanOrEqual(0.95);
    expect(wide.lo).toBeGreaterThan(35);
    expect(wide.hi).toBeLessThan(65);
    expect(summarize(values)).toMatchObject({ median: 10.05, ci: { lo: 9.5, hi: 11 } });
  });

  it('takes the median of per-pair ratios, which holds when the load moves both sides of a pair', () => {
    // The machine's load moves both sides of a pair (pairs 3 and 4 ran at half speed); in pair 5
    // the load eased during the broker's repetition, so that one pair's ratio is off.
    const broker = [100, 98, 50, 52, 82.5];
    const reference = [125, 122.5, 62.5, 65, 84.375];
    const paired = pairedRatios(broker, reference);
    expect(paired.median).toBeCloseTo(0.8, 10);
    expect(paired.values.filter((r) => Math.abs(r - 0.8) < 1e-9)).toHaveLength(4);
    // The ratio of the medians takes each side's middle from a different pair and lands on the odd one.
    const ratioOfMedians = summarize(broker).median / summarize(reference).median;
    expect(ratioOfMedians).toBeCloseTo(82.5 / 84.375, 10);
    // Pairs without a number on both sides (or a zero below) are left out.
    expect(pairedRatios([1, Number.NaN, 3, 4], [2, 2, 0, 4]).values).toEqual([0.5, 1]);
    expect(() => pairedRatios([1, 2], [1])).toThrow(/as many values/);
  });

  it('compares a variant per pair of repetitions when both sides have them', () => {
    const [variant] = planVariants('single', 2);
    const side = (rates: number[], cpus: number[]) => ({
      rate: summarize(rates),
      cpuMsPerFlow: summarize(cpus),
      storeRoundTripsPerFlow: 9,
      reps: rates.map((rate, i) => ({ rate, cpuMsPerFlow: cpus[i]! })),
    });
    const row = {
      id: 'cold_login',
      broker: side([100, 50, 100], [6, 12, 6]),
      single_x2: side([90, 45, 90], [7.2, 14.4, 7.2]),
    };
    const c = compareVariant(row, variant!);
    expect(c.rate).toBeCloseTo(0.9, 10);
    expect(c.cpuMsPerFlow).toBeCloseTo(1.2, 10);
  });
});

describe('bench CPU accounting', () => {
  it('reads a thread’s CPU time in ns from schedstat', () => {
    expect(parseSchedstat('60070237 148242979 274\n')).toBe(60070237);
    expect(() => parseSchedstat('')).toThrow(/schedstat/);
  });

  it("counts the machine's busy ticks (steal included) and the cores other work took", () => {
    const stat = 'cpu  41370 5 8955 27511 326 7 269 140 0 0\ncpu0 20540 0 4153 14428 28 0 65 68 0 0\n';
    expect(parseMachineStat(stat)).toBe(41370 + 5 + 8955 + 7 + 269 + 140);
    expect(() => parseMachineStat('intr 1 2 3')).toThrow(/cpu line/);
    expect(foreignCores({ machineBusyMs: 1800, ownMs: 1200, elapsedMs: 1000 })).toBeCloseTo(0.6);
    expect(foreignCores({ machineBusyMs: 1190, ownMs: 1200, elapsedMs: 1000 })).toBe(0);
    expect(foreignCores({ machineBusyMs: 1, ownMs: 0, elapsedMs: 0 })).toBeNaN();
  });
});
