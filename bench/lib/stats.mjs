// Small, dependency-free statistics for the benchmark: percentiles, medians and spread.

/** The p-th percentile (0..100) of numbers, nearest-rank on a sorted copy; NaN when empty. */
export function percentile(values, p) {
  if (!values.length) return NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile must be in 0..100, got ${p}`);
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function median(values) {
  if (!values.length) return NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** (max - min) / median of the repetitions, as a fraction; 0 for a single value, NaN when empty. */
export function spread(values) {
  if (!values.length) return NaN;
  const m = median(values);
  if (m === 0) return 0;
  return (Math.max(...values) - Math.min(...values)) / Math.abs(m);
}

/**
 * A distribution-free confidence interval for the median: the order statistics x(k) and x(n+1-k)
 * (1-based, on the sorted finite values) with the largest k whose two-sided coverage,
 * 1 - 2·P(Binomial(n, 1/2) < k), is still at least `confidence`. Too few values for that
 * (n < 6 at 95%) give the whole range [min, max] and its lower coverage, 1 - 2^(1-n).
 * `halfWidth` is (hi - lo) / 2 / |median|: "±halfWidth" is how far another run's median may
 * fall, at that coverage, if the repetitions are independent draws from the same machine.
 */
export function medianInterval(values, confidence = 0.95) {
  const sorted = Float64Array.from(values.filter(Number.isFinite)).sort();
  const n = sorted.length;
  if (!n) return { lo: NaN, hi: NaN, coverage: NaN, halfWidth: NaN };
  // k = 1 is the whole range; k + 1 is taken while 1 - 2·P(X <= k) still reaches the confidence,
  // X ~ Binomial(n, 1/2), with C(n, j) kept in log space so that no large n overflows.
  let k = 1;
  let logC = 0; // log C(n, j)
  let below = Math.exp(-n * Math.LN2); // P(X < k) = P(X <= k - 1)
  for (let j = 1; j < Math.ceil(n / 2); j++) {
    logC += Math.log(n - j + 1) - Math.log(j);
    const next = below + Math.exp(logC - n * Math.LN2); // P(X < j + 1)
    if (1 - 2 * next < confidence) break;
    below = next;
    k = j + 1;
  }
  const lo = sorted[k - 1];
  const hi = sorted[n - k];
  const m = median(sorted);
  const coverage = Math.max(0, 1 - 2 * below);
  return { lo, hi, coverage, halfWidth: m === 0 ? 0 : (hi - lo) / 2 / Math.abs(m) };
}

/**
 * Summary of repeated measurements of one figure: median, spread ((max - min) / median), whether
 * the spread is too wide, and a 95% interval for the median with its relative half-width.
 */
export function summarize(values, maxSpread = 0.15) {
  const s = spread(values);
  const { lo, hi, coverage, halfWidth } = medianInterval(values);
  return {
    median: median(values),
    spread: s,
    values: [...values],
    unstable: Number.isFinite(s) && s > maxSpread,
    ci: { lo, hi, coverage },
    halfWidth,
  };
}

/**
 * Per-pair ratios of two sides measured in alternating repetitions: a[i] / b[i] for each
 * repetition i (the two ran next to each other, so a noisy neighbour slows both), summarised as
 * above. Its median is steadier than median(a) / median(b) when the machine's load drifts.
 * Pairs where either value is not a finite number, or b is 0, are left out.
 */
export function pairedRatios(a, b, maxSpread = 0.1) {
  if (a.length !== b.length)
    throw new Error(`paired ratios need as many values on each side (${a.length} ≠ ${b.length})`);
  const ratios = [];
  for (let i = 0; i < a.length; i++)
    if (Number.isFinite(a[i]) && Number.isFinite(b[i]) && b[i] !== 0) ratios.push(a[i] / b[i]);
  return summarize(ratios, maxSpread);
}

/**
 * A latency histogram with fixed memory: 0.01 ms buckets up to 100 ms, then 1 ms buckets to 10 s.
 * Percentiles are accurate to the bucket width, which is far below what a shared machine resolves.
 */
export class Histogram {
  constructor() {
    this.fine = new Uint32Array(10_000);
    this.coarse = new Uint32Array(10_000);
    this.count = 0;
    this.max = 0;
  }

  record(ms) {
    if (!(ms >= 0)) return;
    this.count++;
    if (ms > this.max) this.max = ms;
    if (ms < 100) this.fine[Math.floor(ms * 100)]++;
    else this.coarse[Math.min(9_999, Math.floor(ms))]++;
  }

  percentile(p) {
    if (this.count === 0) return NaN;
    const target = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.fine.length; i++) {
      seen += this.fine[i];
      if (seen >= target) return Math.min((i + 1) / 100, this.max);
    }
    for (let i = 100; i < this.coarse.length; i++) {
      seen += this.coarse[i];
      if (seen >= target) return Math.min(i + 1, this.max);
    }
    return this.max;
  }

  toJSON() {
    return { count: this.count, p50: this.percentile(50), p99: this.percentile(99), max: this.max };
  }

  /** The non-empty buckets, small enough to cross the driver's IPC: { count, max, fine, coarse }. */
  toSparse() {
    const pairs = (a) => {
      const out = [];
      for (let i = 0; i < a.length; i++) if (a[i]) out.push([i, a[i]]);
      return out;
    };
    return { count: this.count, max: this.max, fine: pairs(this.fine), coarse: pairs(this.coarse) };
  }

  /** Adds another histogram's samples (a Histogram or its toSparse() form) to this one. */
  merge(other) {
    const sparse = other instanceof Histogram ? other.toSparse() : other;
    for (const [i, c] of sparse.fine) this.fine[i] += c;
    for (const [i, c] of sparse.coarse) this.coarse[i] += c;
    this.count += sparse.count;
    if (sparse.max > this.max) this.max = sparse.max;
    return this;
  }

  static fromSparse(sparse) {
    return new Histogram().merge(sparse);
  }
}

/** CPU milliseconds from two /proc/<pid>/stat samples (utime + stime, in clock ticks). */
export function cpuMs(before, after, ticksPerSecond = 100) {
  return ((after.utime + after.stime - before.utime - before.stime) * 1000) / ticksPerSecond;
}

/** Parses /proc/<pid>/stat text: fields after the parenthesised command name (which may hold spaces). */
export function parseProcStat(text) {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('not a /proc/<pid>/stat line');
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // Field 3 (state) is fields[0]; utime is field 14 and stime field 15 (proc(5)).
  return { utime: Number(fields[11]), stime: Number(fields[12]) };
}

/** CPU time in ns from /proc/<pid>/task/<tid>/schedstat text (its first field: time spent on a CPU). */
export function parseSchedstat(text) {
  const first = text.trim().split(/\s+/)[0];
  if (!/^\d+$/.test(first)) throw new Error('not a schedstat line');
  return Number(first);
}

/**
 * The machine's busy CPU time so far, in clock ticks, from the first line of /proc/stat: user,
 * nice, system, irq, softirq and steal (the time a hypervisor gave to other guests); idle and
 * iowait left out, guest time already within user.
 */
export function parseMachineStat(text) {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no cpu line in /proc/stat');
  const [user, nice, system, , , irq, softirq, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + steal;
}

/**
 * How many cores other work took during a window: the machine's busy time less what the bench's
 * own processes used (both in ms), over the window's length; never below 0 (the machine's count
 * moves in clock ticks, ours in nanoseconds).
 */
export function foreignCores({ machineBusyMs, ownMs, elapsedMs }) {
  if (!(elapsedMs > 0)) return NaN;
  return Math.max(0, machineBusyMs - ownMs) / elapsedMs;
}

/**
 * A repetition's rate scaled to the whole machine: × cores / (cores − the cores other work took
 * meanwhile). On a machine the bench saturates, its throughput follows the cores left to it, so
 * this takes out what other work that comes and goes did to the rate. The cores left are taken
 * as at least a tenth of the machine, so a repetition that got almost nothing cannot blow up.
 * With no measure of other work (NaN) the rate is left as it is.
 */
export function rateOnMachine(rate, foreign, cores) {
  if (!Number.isFinite(foreign)) return rate;
  return (rate * cores) / Math.max(cores - foreign, 0.1 * cores);
}

/**
 * Whether a warm-up has settled: its last step's CPU per operation is no more than `gain` below
 * the best of the steps before it (a server still warming gets cheaper step by step). Steps with
 * no completed operation (NaN) are left out; fewer than two steps are not settled.
 */
export function warmedUp(steps, gain = 0.05) {
  const finite = steps.filter(Number.isFinite);
  if (finite.length < 2) return false;
  const last = finite[finite.length - 1];
  return last >= (1 - gain) * Math.min(...finite.slice(0, -1));
}

/** Parses Redis INFO text into { section: { key: value } } with numbers where they are numbers. */
export function parseRedisInfo(text) {
  const out = {};
  let section = 'default';
  for (const line of text.split(/\r?\n/)) {
    if (!line) continue;
    if (line.startsWith('# ')) {
      section = line.slice(2).trim().toLowerCase();
      out[section] ??= {};
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    const value = line.slice(colon + 1);
    out[section] ??= {};
    out[section][key] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return out;
}

/** Per-command call counts from an INFO commandstats section: { get: 12, set: 3, ... }. */
export function commandCalls(info) {
  const calls = {};
  for (const [key, value] of Object.entries(info.commandstats ?? {})) {
    const match = /(?:^|,)calls=(\d+)/.exec(String(value));
    if (key.startsWith('cmdstat_') && match) calls[key.slice(8)] = Number(match[1]);
  }
  return calls;
}

/** after - before for each command; commands that did not change are left out. */
export function diffCalls(before, after) {
  const delta = {};
  for (const [name, n] of Object.entries(after)) {
    const d = n - (before[name] ?? 0);
    if (d > 0) delta[name] = d;
  }
  return delta;
}

/**
 * What the benchmark sums over several Redis nodes (the masters of a cluster, or one node): read
 * events (`total_reads_processed`), used memory and per-command calls, from parsed INFO of each.
 */
export function combineInfos(infos) {
  const calls = {};
  let reads = 0;
  let usedMemory = 0;
  for (const info of infos) {
    reads += Number(info.stats?.total_reads_processed ?? 0);
    usedMemory += Number(info.memory?.used_memory ?? 0);
    for (const [name, n] of Object.entries(commandCalls(info))) calls[name] = (calls[name] ?? 0) + n;
  }
  return { nodes: infos.length, reads, usedMemory, calls };
}

/**
 * Read events of one hop, from `total_reads_processed` of every counted node before and after it.
 * Each node's after-INFO is a read event of its own (the before-INFO is already in `before`).
 */
export function hopReadEvents(before, after) {
  if (before.length !== after.length) throw new Error('before and after must name the same nodes');
  return after.reduce((sum, n, i) => sum + n - before[i], 0) - after.length;
}

/**
 * Read events per completed flow over a sequential pass, seen from the runner: every read event on
 * the counted nodes between its two INFOs, less its own after-INFO and the driver's two INFOs per
 * hop on every node (`before`/`after` are combineInfos results).
 */
export function readEventsPerFlow({ before, after, hopsPerFlow, flows, completed }) {
  if (!completed) return NaN;
  const probes = after.nodes * (1 + 2 * hopsPerFlow * flows);
  return (after.reads - before.reads - probes) / completed;
}

/** The sum of a Prometheus counter over all its label sets, from text exposition; NaN when absent. */
export function counterValue(text, name) {
  let total = NaN;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !/[\s{]/.test(line[name.length] ?? '')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) total = (Number.isNaN(total) ? 0 : total) + value;
  }
  return total;
}

/** Each process's share of their summed CPU over repetitions (`reps`: per repetition, ms per process). */
export function cpuShares(reps) {
  const totals = [];
  for (const rep of reps) for (const [i, ms] of rep.entries()) totals[i] = (totals[i] ?? 0) + ms;
  const sum = totals.reduce((a, b) => a + b, 0);
  return totals.map((t) => (sum > 0 ? t / sum : NaN));
}
