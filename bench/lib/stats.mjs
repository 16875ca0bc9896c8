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

/** Summary of repeated measurements of one figure: median, spread, whether the spread is too wide. */
export function summarize(values, maxSpread = 0.15) {
  const s = spread(values);
  return { median: median(values), spread: s, values: [...values], unstable: Number.isFinite(s) && s > maxSpread };
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
