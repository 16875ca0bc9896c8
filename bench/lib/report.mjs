// The printed table and the verdict against the issue's targets.
import { compareVariant } from './variants.mjs';

const n = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '–');
/** The steadiness a figure's median should have: its 95% interval within ±10%. */
export const MAX_HALF_WIDTH = 0.1;
/** A median with a "!" when its 95% interval is wider than ±10% (lib/stats.mjs medianInterval). */
const med = (s, digits = 0) => (s ? `${n(s.median, digits)}${s.halfWidth > MAX_HALF_WIDTH ? '!' : ''}` : '–');
/** A ratio with its interval's half-width: "0.85× ±4%". */
const ratioCell = (s) => (s ? `${n(s.median, 2)}× ±${n((s.halfWidth ?? NaN) * 100)}%` : '–');
/** "p50 / p99" of a histogram summary. */
const pp = (h) => (h ? `${n(h.p50, 1)} / ${n(h.p99, 1)}` : '–');
/** The hops of a login in the order a browser makes them (broker: upstream and callback; reference: interaction, resume). */
const HOP_ORDER = ['authorize', 'upstream', 'callback', 'interaction', 'resume', 'token'];
/** The issue's bound on what the broker adds to each hop of a login at half load (p99, ms). */
export const OWN_HOP_P99_MS = 5;

/** The issue's targets, each { target, measured, ok }. */
export function evaluateTargets(report) {
  const row = (id) => report.rows.find((r) => r.id === id);
  const out = [];
  const cold = row('cold_login');
  if (cold) {
    // The median of the per-pair ratios (older reports: the ratio of the medians).
    const cpu = cold.ratios?.cpuMsPerFlow;
    const ratio = cpu?.median ?? cold.broker.cpuMsPerFlow.median / cold.reference.cpuMsPerFlow.median;
    out.push({
      target: 'broker CPU per cold brokered login ≤ 0.6× reference cold code flow',
      measured:
        `${n(cold.broker.cpuMsPerFlow.median, 2)} ms vs ` +
        `${n(cold.reference.cpuMsPerFlow.median, 2)} ms: ${n(ratio, 2)}×` +
        (cpu ? ` ±${n(cpu.halfWidth * 100)}% (median of per-pair ratios)` : ''),
      ok: ratio <= 0.6,
    });
    out.push({
      target: '≤ 6 store round trips per cold login',
      measured: `${n(cold.broker.roundTripsPerFlow, 1)} (reference ${n(cold.reference.roundTripsPerFlow, 1)})`,
      ok: cold.broker.roundTripsPerFlow <= 6,
    });
    out.push({
      target: '≤ 1 KB of Redis per session',
      measured:
        `${n(cold.broker.redisBytesPerFlow)} B retained per login (reference ` +
        `${n(cold.reference.redisBytesPerFlow)} B)`,
      ok: cold.broker.redisBytesPerFlow <= 1024,
    });
  }
  for (const id of ['cc_rs256', 'cc_es256', 'refresh']) {
    const r = row(id);
    if (!r) continue;
    const share = r.broker.ceilingShare?.median;
    out.push({
      target: `${r.label} ≥ 85% of the signing ceiling`,
      measured:
        `${pct(share)} (reference ${pct(r.reference.ceilingShare?.median)}); signing is ` +
        `${pct(r.broker.signingCpuShare?.median)} of the broker's CPU ` +
        `(reference ${pct(r.reference.signingCpuShare?.median)})`,
      ok: share >= 0.85,
    });
  }
  const intro = row('introspection');
  if (intro)
    out.push({
      target: 'introspection ≥ 1.5× the reference',
      measured: intro.ratios ? ratioCell(intro.ratios.rate) : `${n(intro.ratio, 2)}×`,
      ok: intro.ratio >= 1.5,
    });
  for (const id of ['cold_login', 'sso_login']) {
    const half = row(id)?.halfLoad;
    if (!half?.broker?.own) continue;
    const own = Object.entries(half.broker.own).sort((a, b) => HOP_ORDER.indexOf(a[0]) - HOP_ORDER.indexOf(b[0]));
    // The driver itself started logins late, or logins queued for a browser: the machine (not only
    // the broker) was too busy for this run's p99 to say much.
    const b = half.broker;
    const late = b.startLag?.p99 > OWN_HOP_P99_MS || b.poolWaits > 0;
    out.push({
      target: `${id}: p99 the broker adds to each hop at half load < ${OWN_HOP_P99_MS} ms`,
      measured:
        own.map(([hop, h]) => `${hop} ${n(h.p99, 1)} ms`).join(', ') +
        (late
          ? ` (busy machine: the driver started logins up to ${n(b.startLag?.p99, 1)} ms late at p99` +
            `${b.poolWaits ? `, ${b.poolWaits} waited for a browser` : ''}; rerun when quiet)`
          : ''),
      ok: own.length > 0 && own.every(([, h]) => h.p99 < OWN_HOP_P99_MS),
    });
  }
  return out;
}

export function printReport(report) {
  const lines = [];
  const m = report.machine;
  lines.push('');
  lines.push(`login-broker vs oidc-provider 8 — ${report.mode.name} run, ${report.date}`);
  lines.push(
    `machine: ${m.nproc} cores, ${m.cpu}, ${m.memory_gb ?? '?'} GB, Node ${m.node}; ` +
      `${report.mode.reps} reps × ${report.mode.repMs} ms after a warm-up of ` +
      `${report.mode.warmupCpuMs ?? report.mode.warmupMs} ms of server CPU; ` +
      `connections: ${report.concurrency.request} (requests), ${report.concurrency.login} (logins)`,
  );
  if (m.loadavg)
    lines.push(
      `load average (1 / 5 / 15 min): ${m.loadavg.start.map((x) => n(x, 2)).join(' / ')} at the start, ` +
        `${m.loadavg.end.map((x) => n(x, 2)).join(' / ')} at the end`,
    );
  const c = (alg) => {
    const x = report.ceilings[alg];
    return (
      `${alg} ${n(x.opsPerSecond)}/s (${n(1000 / x.opsPerCpuSecond, 3)} CPU-ms per signature; ` +
      `${n(x.wallOpsPerSecond)}/s by the wall clock in this run)`
    );
  };
  lines.push(
    `signing ceiling (jose, one thread per core = ${report.ceilings.RS256.threads}, signatures per ` +
      `CPU-second × cores): ${c('RS256')}, ${c('ES256')}`,
  );
  lines.push('');
  const head = [
    'scenario',
    'broker /s',
    'p50 ms',
    'p99 ms',
    'CPU ms/op',
    'ref /s',
    'p50 ms',
    'p99 ms',
    'CPU ms/op',
    'rate b/r',
    'CPU b/r',
    '% ceiling b / r',
    'sign/CPU b / r',
  ];
  const table = [head];
  for (const r of report.rows) {
    const b = r.broker;
    const f = r.reference;
    table.push([
      r.label,
      med(b.rate),
      med(b.p50, 1),
      med(b.p99, 1),
      med(b.cpuMsPerFlow, 2),
      med(f.rate),
      med(f.p50, 1),
      med(f.p99, 1),
      med(f.cpuMsPerFlow, 2),
      r.ratios ? ratioCell(r.ratios.rate) : `${n(r.ratio, 2)}×`,
      r.ratios ? ratioCell(r.ratios.cpuMsPerFlow) : '',
      b.ceilingShare ? `${pct(b.ceilingShare.median)} / ${pct(f.ceilingShare?.median)}` : '',
      b.signingCpuShare ? `${pct(b.signingCpuShare.median)} / ${pct(f.signingCpuShare?.median)}` : '',
    ]);
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  for (const [i, row] of table.entries()) {
    lines.push(
      row.map((cell, j) => (j === 0 ? String(cell).padEnd(widths[j]) : String(cell).padStart(widths[j]))).join('  '),
    );
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  lines.push(
    '(Medians of the repetitions; "!" marks one whose 95% interval is wider than ±10%. "b/r" = the median of ' +
      'the per-pair ratios',
    ' broker / reference (each pair ran back to back), ± the half-width of its 95% interval; "rate b/r" from each' +
      " repetition's rate × cores / (cores − other work's cores),",
    ' as measured under "spread". "% ceiling" = rate × signatures per response / signing ceiling;',
  );
  lines.push(
    ' "sign/CPU" = the share of the server\'s own CPU time spent signing, at the ceiling\'s cost per signature.)',
  );
  const sidesOf = (r) => r.sides ?? ['broker', 'reference'];
  for (const r of report.rows.filter((x) => x.broker.hops && Object.keys(x.broker.hops).length > 1)) {
    for (const side of sidesOf(r)) {
      const s = r[side];
      const hops = Object.entries(s.hops)
        .map(([hop, h]) => `${hop} ${n(h.p50, 1)}/${n(h.p99, 1)}`)
        .join(', ');
      const extra = [
        Number.isFinite(s.roundTripsPerFlow)
          ? `${n(s.roundTripsPerFlow, 1)} round trips (${Object.entries(s.roundTripsPerHop ?? {})
              .map(([hop, v]) => `${hop} ${n(v, 1)}`)
              .join(', ')}; ${n(s.commandsPerFlow, 1)} commands)`
          : '',
        Number.isFinite(s.redisBytesPerFlow) ? `${n(s.redisBytesPerFlow)} B Redis/login` : '',
        s.stubCpuMsPerFlow !== undefined ? `stub CPU ${n(s.stubCpuMsPerFlow, 2)} ms` : '',
        `redis CPU ${n(s.redisCpuMsPerFlow, 2)} ms`,
        `driver CPU ${n(s.driverCpuMsPerFlow, 2)} ms`,
      ].filter(Boolean);
      lines.push(`${r.label} · ${side}: hops p50/p99 ms: ${hops}; ${extra.join('; ')}`);
    }
  }
  if (report.rows.some((r) => r.halfLoad)) lines.push(...halfLoadTable(report));
  if (report.variants?.length) lines.push(...scaleTable(report));
  const errors = report.rows.flatMap((r) =>
    sidesOf(r)
      .filter((s) => r[s].errors)
      .map((s) => `${r.label} ${s}: ${r[s].errors} errors (${r[s].errorSamples.join(' | ')})`),
  );
  if (errors.length) lines.push('', 'ERRORS:', ...errors);
  lines.push('', ...spreadLines(report));
  if (report.keySizes) {
    for (const side of ['broker', 'reference']) {
      const kinds = Object.entries(report.keySizes[side].kinds).sort((a, b) => b[1].keys - a[1].keys);
      lines.push(
        `Redis keys · ${side} (MEMORY USAGE, avg bytes × keys sampled): ` +
          `${kinds.map(([k, v]) => `${k} ${v.avgBytes}×${v.keys}`).join(', ')}`,
      );
    }
  }
  lines.push('', 'targets:');
  for (const t of evaluateTargets(report)) lines.push(`  ${t.ok ? 'met  ' : 'SHORT'}  ${t.target}: ${t.measured}`);
  if (report.profile) {
    lines.push(
      '',
      `broker CPU profile (${report.profile.file}; main thread, ${n(report.profile.busyMs)} ms busy ` +
        `after start-up), top self time:`,
    );
    for (const f of report.profile.top.slice(0, 15))
      lines.push(`  ${n(f.percent, 1).padStart(5)}%  ${f.name}  ${f.where}`);
    lines.push('  charged to the nearest package or broker area up the stack:');
    for (const g of report.profile.groups.slice(0, 10)) lines.push(`  ${n(g.percent, 1).padStart(5)}%  ${g.name}`);
    lines.push('  broker functions, inclusive (synchronous part):');
    for (const f of report.profile.brokerInclusive.slice(0, 12))
      lines.push(`  ${n(f.percent, 1).padStart(5)}%  ${f.label}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  report.targets = evaluateTargets(report);
}

/**
 * The scale-out table: each login row on one Redis with one instance (the broker side of the main
 * table), then every variant, each against the side it is compared with.
 */
export function scaleTable(report) {
  const lines = [
    '',
    `scale-out (store: ${report.store?.kind ?? 'single'}${report.store?.nodes ? `, ${report.store.nodes}` : ''}):`,
  ];
  const head = [
    'login row · setup',
    'logins/s',
    'p50 ms',
    'p99 ms',
    'broker CPU ms/login',
    'redis CPU ms/login',
    'store RT',
    'Redis reads',
    'vs',
    'rate ×',
    'CPU ×',
  ];
  const table = [head];
  for (const r of report.rows.filter((x) => report.variants.some((v) => x[v.id]))) {
    const sides = [{ id: 'broker', label: 'one Redis, 1 instance' }, ...report.variants.filter((v) => r[v.id])];
    for (const v of sides) {
      const s = r[v.id];
      const c = v.compareTo ? compareVariant(r, v) : undefined;
      table.push([
        `${r.id} · ${v.label}`,
        med(s.rate),
        med(s.p50, 1),
        med(s.p99, 1),
        med(s.cpuMsPerFlow, 2),
        n(s.redisCpuMsPerFlow, 2),
        n(s.storeRoundTripsPerFlow, 1),
        n(s.roundTripsPerFlow, 1),
        v.compareTo ? (v.compareTo === 'broker' ? 'one Redis' : v.compareTo) : '',
        c ? `${n(c.rate, 2)}×` : '',
        c ? `${n(c.cpuMsPerFlow, 2)}×` : '',
      ]);
    }
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  for (const [i, row] of table.entries()) {
    lines.push(
      row.map((cell, j) => (j === 0 ? String(cell).padEnd(widths[j]) : String(cell).padStart(widths[j]))).join('  '),
    );
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  lines.push(
    '(broker CPU: every instance of the setup; redis CPU: every process of the topology, replicas and sentinels',
    ' included. Per login, from one login at a time: "store RT" = the store round trips the brokers counted',
    ' (login_broker_store_round_trips_total, rate limiters included); "Redis reads" = read events summed over',
    ' every master (INFO total_reads_processed). On a cluster the store sends the per-slot transactions of one',
    ' step to their nodes at once and counts the group as one round trip, while each node counts its own read',
    ' event, so "Redis reads" can exceed "store RT" there; background traffic (replica acks, sentinel pings,',
    ' slot refreshes) adds a little to "Redis reads" on a topology. With wait_replicas the WAIT travels in',
    " the same round trip as its transaction; the replica's acknowledgement it asks for (REPLCONF ACK) is one",
    ' more read event on the master per waited write, not a round trip of the broker.)',
  );
  for (const r of report.rows)
    for (const v of report.variants.filter((x) => x.instances > 1 && r[x.id]))
      lines.push(`${r.id} · ${v.label}: broker CPU split ${r[v.id].instanceCpuShares.map(pct).join(' / ')}`);
  return lines;
}

/** One figure's steadiness: "median [lo–hi] ±x%, range y%". */
function steadiness(s, digits) {
  if (!s) return '–';
  return (
    `${n(s.median, digits)} [${n(s.ci?.lo, digits)}–${n(s.ci?.hi, digits)}] ±${n(s.halfWidth * 100)}%, ` +
    `range ${pct(s.spread)}`
  );
}

/**
 * How steady each figure was over the repetitions: the 95% interval of the median (order
 * statistics) and its half-width, then the whole range ((max − min) / median).
 */
export function spreadLines(report) {
  const reps = report.mode.reps;
  const lines = [
    `spread over ${reps} repetitions (median [95% interval] ±half-width, range = (max − min) / median; ` +
      `the intervals cover ${pct(report.rows[0]?.broker.rate.ci?.coverage)}):`,
  ];
  for (const r of report.rows) {
    const parts = [];
    if (r.ratios)
      parts.push(
        `rate b/r ${steadiness(r.ratios.rate, 2)}`,
        ...(r.ratios.rateRaw ? [`as measured ${steadiness(r.ratios.rateRaw, 2)}`] : []),
        `CPU b/r ${steadiness(r.ratios.cpuMsPerFlow, 2)}`,
      );
    for (const side of r.sides ?? ['broker', 'reference'])
      parts.push(
        `${side} rate ${steadiness(r[side].rate, 0)}`,
        `${side} CPU ms/op ${steadiness(r[side].cpuMsPerFlow, 2)}`,
      );
    if (r.foreignCores)
      parts.push(
        `other work on the machine ${n(r.foreignCores.median, 2)} cores (median; ` +
          `${n(Math.min(...r.foreignCores.values), 2)}–${n(Math.max(...r.foreignCores.values), 2)})`,
      );
    lines.push(`  ${r.id}: ${parts.join('; ')}`);
  }
  return lines;
}

/**
 * The half-load table: each login row, open loop at half of each side's peak rate; p50 / p99 ms
 * per hop from the scheduled start, and the broker's own time per hop.
 */
export function halfLoadTable(report) {
  const rows = report.rows.filter((r) => r.halfLoad);
  const hops = HOP_ORDER.filter((hop) =>
    rows.some((r) => r.halfLoad.sides.some((s) => r.halfLoad[s].hops[hop] || r.halfLoad[s].own?.[hop])),
  );
  const first = rows[0].halfLoad;
  const lines = [
    '',
    `half load: open loop (constant arrival rate) at ${pct(first.fraction)} of each side's peak, ` +
      `${first.reps} × ${first.repMs} ms per side; p50 / p99 ms from each login's scheduled start ` +
      '(the first hop includes any wait to start):',
  ];
  const head = ['login row · side', 'target /s', 'done /s', 'login', ...hops, 'start lag p99'];
  const table = [head];
  for (const r of rows) {
    for (const side of r.halfLoad.sides) {
      const h = r.halfLoad[side];
      table.push([
        `${r.id} · ${side}`,
        n(h.targetRate),
        n(h.achievedRate),
        pp(h.login),
        ...hops.map((hop) => pp(h.hops[hop])),
        n(h.startLag?.p99, 1),
      ]);
      if (h.own)
        table.push([
          `${r.id} · broker's own`,
          '',
          '',
          '',
          ...hops.map((hop) => (h.own[hop] ? pp(h.own[hop]) : '')),
          '',
        ]);
    }
  }
  const widths = head.map((_, i) => Math.max(...table.map((row) => String(row[i]).length)));
  for (const [i, row] of table.entries()) {
    lines.push(
      row.map((cell, j) => (j === 0 ? String(cell).padEnd(widths[j]) : String(cell).padStart(widths[j]))).join('  '),
    );
    if (i === 0) lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const up = rows.map((r) => r.halfLoad.broker?.upstreamTokenMs).find(Boolean);
  lines.push(
    `("broker's own" = the broker's hops less the upstream's own handling of its token request in the callback` +
      (up ? `, p50 / p99 ${pp(up)} ms` : '') +
      `; the upstream hop is the stub's. Target: < ${OWN_HOP_P99_MS} ms p99 per hop. "start lag" = how late the` +
      ' driver started a login after its schedule.)',
  );
  for (const r of rows)
    for (const side of r.halfLoad.sides) {
      const h = r.halfLoad[side];
      if (h.poolWaits) lines.push(`${r.id} · ${side}: ${h.poolWaits} logins waited for a free virtual browser`);
    }
  return lines;
}
