// The paced (open-loop) driver's schedule: logins arrive at a constant rate whatever the server
// does, so a slow answer cannot hold the next arrival back (no coordinated omission), and each
// login's latency is measured from the time it was scheduled to start, not from when the driver
// got round to it.

/** How many arrivals a run of `durationMs` at `rate` per second schedules (at least one). */
export function arrivalCount(rate, durationMs) {
  if (!(rate > 0) || !(durationMs > 0)) throw new RangeError(`a paced run needs a rate and a duration > 0`);
  return Math.max(1, Math.floor((rate * durationMs) / 1000));
}

/** The scheduled start of arrival i (0-based), in ms after the run's start: i × 1000 / rate. */
export function scheduledAt(i, rate) {
  return (i * 1000) / rate;
}

/**
 * How many of `total` arrivals are due `elapsedMs` after the start: those scheduled at or before
 * it. A timer that fires late launches every arrival it owes at once, so the rate holds.
 */
export function dueCount(elapsedMs, rate, total) {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs * rate) / 1000) + 1);
}

/**
 * Per-hop latencies of one login measured from its schedule. `hops` are [name, startMs, endMs] in
 * the order the browser made them; the first hop is charged from `scheduledMs` (the wait for a
 * free connection or virtual browser included), each later hop from its own start, since a
 * browser sends it only when the previous answer came. Returns { name: ms } (a hop made twice
 * sums) and the whole login from its schedule.
 */
export function hopLatencies(scheduledMs, hops) {
  const out = {};
  for (const [i, [name, start, end]] of hops.entries()) {
    const from = i === 0 ? Math.min(scheduledMs, start) : start;
    out[name] = (out[name] ?? 0) + (end - from);
  }
  const total = hops.length ? hops[hops.length - 1][2] - Math.min(scheduledMs, hops[0][1]) : NaN;
  return { hops: out, total };
}

/**
 * The broker's own time in each hop of a login: the hop's latency less the upstream's own handling
 * time of the requests the broker made to it during that hop (the callback's token request).
 * `upstreamMs` is { hop: ms }; hops that the browser sends to the upstream itself are left out.
 */
export function ownLatencies(hops, upstreamMs = {}, upstreamHops = ['upstream']) {
  const out = {};
  for (const [name, ms] of Object.entries(hops)) {
    if (upstreamHops.includes(name)) continue;
    out[name] = Math.max(0, ms - (upstreamMs[name] ?? 0));
  }
  return out;
}
