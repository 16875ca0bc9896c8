// The printed table and the verdict against the issue's targets.
import { compareVariant } from './variants.mjs';

const n = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '–');
/** A median with a "!" when its repetitions spread more than 15%. */
const med = (s, digits = 0) => (s ? `${n(s.median, digits)}${s.unstable ? '!' : ''}` : '–');

/** The issue's targets, each { target, measured, ok }. */
export function evaluateTargets(report) {
  const row = (id) => report.rows.find((r) => r.id === id);
  const out = [];
  const cold = row('cold_login');
  if (cold) {
    const ratio = cold.broker.cpuMsPerFlow.median / cold.reference.cpuMsPerFlow.median;
    out.push({
      target: 'broker CPU per cold brokered login ≤ 0.6× reference cold code flow',
      measured:
        `${n(cold.broker.cpuMsPerFlow.median, 2)} ms vs ` +
        `${n(cold.reference.cpuMsPerFlow.median, 2)} ms = ${n(ratio, 2)}×`,
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
      measured: `${n(intro.ratio, 2)}×`,
      ok: intro.ratio >= 1.5,
    });
  return out;
}

export function printReport(report) {
  const lines = [];
  const m = report.machine;
  lines.push('');
  lines.push(`login-broker vs oidc-provider 8 — ${report.mode.name} run, ${report.date}`);
  lines.push(
    `machine: ${m.nproc} cores, ${m.cpu}, ${m.memory_gb ?? '?'} GB, Node ${m.node}; ` +
      `${report.mode.reps} reps × ${report.mode.repMs} ms after ${report.mode.warmupMs} ms warm-up; ` +
      `connections: ${report.concurrency.request} (requests), ${report.concurrency.login} (logins)`,
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
    'broker/ref',
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
      `${n(r.ratio, 2)}×`,
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
    '("!" marks a median whose repetitions spread more than 15%. "% ceiling" = rate × signatures per ' +
      'response / signing ceiling;',
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
  if (report.variants?.length) lines.push(...scaleTable(report));
  const errors = report.rows.flatMap((r) =>
    sidesOf(r)
      .filter((s) => r[s].errors)
      .map((s) => `${r.label} ${s}: ${r[s].errors} errors (${r[s].errorSamples.join(' | ')})`),
  );
  if (errors.length) lines.push('', 'ERRORS:', ...errors);
  const unstable = report.rows.flatMap((r) =>
    sidesOf(r).flatMap((s) =>
      r[s].rate.unstable
        ? [`${r.label} ${s}: rate spread ${pct(r[s].rate.spread)} over ${r[s].rate.values.map((v) => n(v)).join(', ')}`]
        : [],
    ),
  );
  if (unstable.length)
    lines.push('', 'spread > 15% (noisy; rerun or use the full mode):', ...unstable.map((u) => `  ${u}`));
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
