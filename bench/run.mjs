// npm run bench [-- --quick] [-- --cpu-prof] [-- --only=cold_login,sso_login] [-- --metrics]
//   [-- --store=cluster|sentinel] [-- --instances=2]
// Starts a throwaway Redis per server, the broker (dist/, NODE_ENV=production) as its own
// process, the reference (oidc-provider 8) as its own process, the stub upstream IdP, and the
// load driver; measures each scenario on the broker and the reference in alternating
// repetitions (each pair of neighbouring repetitions gives one broker/reference ratio); then
// each login row once more, open loop at half of each side's peak rate, for its latency per hop
// (lib/pacing.mjs); prints one table and writes bench/results/latest.json.
// With --store and/or --instances, the login rows are also measured on that topology (Redis Cluster
// or Sentinel, started here) and/or with several broker instances behind the driver, next to the
// broker on one Redis, in the same alternating repetitions (lib/variants.mjs).
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { signingCeiling } from './ceiling.mjs';
import { BROKER_CLIENTS, UPSTREAM } from './lib/clients.mjs';
import {
  clockTicks,
  freePort,
  killAll,
  killAllSync,
  machine,
  machineBusyMs,
  ownCpuMs,
  procCpuMs,
  redisAvailable,
  startNode,
  startRedis,
  track,
} from './lib/proc.mjs';
import {
  combineInfos,
  cpuShares,
  counterValue,
  diffCalls,
  foreignCores,
  Histogram,
  pairedRatios,
  warmedUp,
  rateOnMachine,
  parseRedisInfo,
  readEventsPerFlow,
  summarize,
} from './lib/stats.mjs';
import { startCluster, startSentinel, redisCliAvailable } from './lib/topologies.mjs';
import { planVariants } from './lib/variants.mjs';
import { summarizeProfile } from './lib/profile.mjs';
import { printReport } from './lib/report.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS = join(ROOT, 'bench/results');

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    only: { type: 'string' },
    // The brokers also serve Prometheus metrics (on a port of their own), to measure their cost.
    metrics: { type: 'boolean', default: false },
    // The brokers run without rate limits (limit 0), to measure what the limits cost.
    'no-rate-limits': { type: 'boolean', default: false },
    // The login rows also on Redis Cluster or Sentinel (single: one Redis only, as always).
    store: { type: 'string' },
    // The login rows also with this many broker instances behind the driver, round-robin.
    instances: { type: 'string' },
    // Override the mode's number and length of the alternating repetitions (to study steadiness).
    reps: { type: 'string' },
    'rep-ms': { type: 'string' },
  },
  strict: true,
});
// `npm run bench --quick` (without the `--`) reaches us as npm_config_quick.
const quick = opts.quick || process.env.npm_config_quick === 'true';
const cpuProf = opts['cpu-prof'] || process.env.npm_config_cpu_prof === 'true';
const storeKind = opts.store ?? process.env.npm_config_store ?? 'single';
const instanceCount = opts.instances ?? process.env.npm_config_instances ?? 1;
const variants = (() => {
  try {
    return planVariants(storeKind, instanceCount);
  } catch (err) {
    process.stderr.write(`[bench] ${err.message}\n`);
    process.exit(2);
  }
})();
// The variants read the store's own round-trip counter from /metrics: every broker serves it then.
const withMetrics = opts.metrics || process.env.npm_config_metrics === 'true' || variants.length > 0;
const withLimits = !(opts['no-rate-limits'] || process.env.npm_config_no_rate_limits === 'true');

// Many short repetitions, broker and reference in turn (b r r b b r ...): a pair of neighbours
// sees the same machine, so the median of the per-pair ratios holds when other work comes and
// goes. The warm-up is counted in the server's own CPU time (at least warmupCpuMs, in steps of
// warmupStepMs, then on until a step's CPU per operation no longer improves on the best before it
// by 5% — lib/stats.mjs warmedUp —, for at most warmupMaxMs): on a busy machine a warm-up by the
// clock does too little work for the JIT to settle, and a fresh server needs more than a warm one. halfLoad: the login rows' open-loop repetitions at half of each side's peak.
const MODE = quick
  ? {
      name: 'quick',
      warmupCpuMs: 400,
      warmupMaxMs: 1000,
      warmupStepMs: 200,
      repMs: 350,
      reps: 4,
      halfLoad: { fraction: 0.5, repMs: 800, reps: 1 },
      seqLogins: 20,
      ceilingMs: 600,
      budgetMs: 180_000,
    }
  : {
      name: 'full',
      warmupCpuMs: 2500,
      warmupMaxMs: 10_000,
      warmupStepMs: 400,
      repMs: 1250,
      reps: 12,
      halfLoad: { fraction: 0.5, repMs: 2000, reps: 2 },
      seqLogins: 100,
      ceilingMs: 2000,
      budgetMs: 600_000,
    };
for (const [flag, key, min] of [
  ['reps', 'reps', 2],
  ['rep-ms', 'repMs', 100],
]) {
  const raw = opts[flag] ?? process.env[`npm_config_${flag.replace('-', '_')}`];
  if (raw === undefined) continue;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`[bench] --${flag} must be a whole number of at least ${min}, not "${raw}"\n`);
    process.exit(2);
  }
  MODE[key] = value;
}
// The paced run's virtual browsers: far more than the logins in flight at half load (rate × latency).
const CONCURRENCY = { request: 16, login: 8, paced: 16 };
const RATE_LIMITS = [
  'authorize',
  'callback',
  'interaction',
  'account',
  'client_auth_failures',
  'client_auth_failures_per_ip',
  'token_requests',
];

const ROWS = [
  {
    id: 'cc_rs256',
    label: 'client_credentials RS256',
    scenario: 'client_credentials',
    alg: 'RS256',
    broker: 'rs',
    conc: 'request',
    unit: 'req/s',
  },
  {
    id: 'cc_es256',
    label: 'client_credentials ES256',
    scenario: 'client_credentials',
    alg: 'ES256',
    broker: 'es',
    conc: 'request',
    unit: 'req/s',
  },
  {
    id: 'refresh',
    label: 'refresh_token (rotation)',
    scenario: 'refresh',
    alg: 'RS256',
    broker: 'rs',
    conc: 'request',
    unit: 'req/s',
  },
  {
    id: 'introspection',
    label: 'introspection',
    scenario: 'introspection',
    broker: 'rs',
    conc: 'request',
    unit: 'req/s',
  },
  {
    id: 'cold_login',
    label: 'cold login (ref: cold code flow)',
    scenario: 'cold_login',
    alg: 'RS256',
    broker: 'rs',
    conc: 'login',
    unit: 'logins/s',
    login: true,
  },
  {
    id: 'sso_login',
    label: 'SSO login (existing session)',
    scenario: 'sso_login',
    alg: 'RS256',
    broker: 'rs',
    conc: 'login',
    unit: 'logins/s',
    login: true,
  },
];
const only = opts.only ? new Set(opts.only.split(',')) : undefined;
// With variants, the login rows only, unless --only says otherwise.
const rows = ROWS.filter((r) => (only ? only.has(r.id) : !variants.length || r.login));

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const _sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redisClients = [];
const topologyStops = [];
let tmp;
let finished = false;

async function cleanup(brokers = []) {
  for (const client of redisClients) client.disconnect();
  redisClients = [];
  // SIGTERM first so a --cpu-prof broker writes its profile; then SIGKILL whatever is left.
  await Promise.all(
    brokers.map(
      (b) =>
        new Promise((resolve) => {
          if (b.child.exitCode !== null) return resolve();
          const timer = setTimeout(resolve, 5000);
          b.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          b.child.kill('SIGTERM');
        }),
    ),
  );
  await Promise.all(topologyStops.splice(0).map((stop) => stop()));
  await killAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}

process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`${signal}: stopping everything`);
    cleanup().finally(() => process.exit(130));
  });
}

/** The load driver, over IPC: call(cmd, fields) → reply, each with a timeout. */
function startDriver() {
  const child = track(fork(join(ROOT, 'bench/driver.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  let next = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`driver: ${msg.error}`));
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`driver exited with ${code}`));
    pending.clear();
  });
  return {
    child,
    call(cmd, fields = {}, timeoutMs = 60_000) {
      const id = ++next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`driver: ${cmd} took more than ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ id, cmd, ...fields });
      });
    },
  };
}

async function redisInfos(clients) {
  return combineInfos(await Promise.all(clients.map(async (c) => parseRedisInfo(await c.info('all')))));
}

/** CPU ms so far summed over several processes (the instances of a side, a topology's nodes). */
function procCpus(pids, ticks) {
  return pids.reduce((sum, pid) => sum + procCpuMs(pid, ticks), 0);
}

/** The store round trips the brokers counted so far (login_broker_store_round_trips_total). */
async function storeRoundTrips(metricsUrls) {
  if (!metricsUrls.length) return NaN;
  const texts = await Promise.all(
    metricsUrls.map(async (url) => (await fetch(url, { signal: AbortSignal.timeout(5000) })).text()),
  );
  return texts.reduce((sum, text) => sum + counterValue(text, 'login_broker_store_round_trips_total'), 0);
}

/** Bytes per key kind (`<prefix><kind>:...`), from MEMORY USAGE on a bounded sample of keys. */
async function keyKinds(client, prefix, limit = 3000) {
  const kinds = {};
  let cursor = '0';
  let seen = 0;
  for (let i = 0; i < 1000 && seen < limit; i++) {
    const [nextCursor, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = nextCursor;
    for (const key of keys) {
      if (seen >= limit) break;
      seen++;
      const kind = key.slice(prefix.length).split(':')[0];
      const bytes = Number(await client.memory('USAGE', key, 'SAMPLES', '0')) || 0;
      kinds[kind] ??= { keys: 0, bytes: 0 };
      const k = kinds[kind];
      k.keys++;
      k.bytes += bytes;
    }
    if (cursor === '0') break;
  }
  for (const k of Object.values(kinds)) k.avgBytes = Math.round(k.bytes / k.keys);
  return { sampledKeys: seen, kinds };
}

async function main() {
  const started = Date.now();
  if (!existsSync(join(ROOT, 'dist/main.js')))
    throw new Error('dist/main.js is missing: run `npm run build` first (npm run bench does)');
  if (!redisAvailable())
    throw new Error('redis-server is not on PATH: install it (apt-get install redis-server) to run the benchmark');
  if (storeKind !== 'single' && !redisCliAvailable())
    throw new Error(`--store=${storeKind} needs redis-cli (and redis-server's --sentinel) on PATH`);
  // Each variant is one more side to measure on each login row.
  const budgetMs = MODE.budgetMs * (1 + 0.5 * variants.length);
  const watchdog = setTimeout(() => {
    log(`time budget of ${budgetMs / 1000} s exceeded: stopping`);
    cleanup().finally(() => process.exit(1));
  }, budgetMs);
  watchdog.unref();

  tmp = mkdtempSync(join(tmpdir(), 'lb-bench-'));
  mkdirSync(RESULTS, { recursive: true });
  const ticks = clockTicks();
  const cores = machine().nproc ?? availableParallelism();
  const loadBefore = loadavg();

  log(
    `mode ${MODE.name}${withMetrics ? ', metrics on' : ''}${withLimits ? '' : ', rate limits off'}: ` +
      `starting redis ×2, stub upstream, brokers, reference` +
      (variants.length ? `; variants: ${variants.map((v) => v.label).join('; ')}` : ''),
  );
  const [brokerRedis, refRedis] = await Promise.all([startRedis(), startRedis()]);
  const [stubPort, rsPort, esPort, refPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const stubUrl = `http://127.0.0.1:${stubPort}`;
  const stub = await startNode(
    'stub upstream',
    [join(ROOT, 'bench/stub-upstream.mjs'), String(stubPort), UPSTREAM.client_id, UPSTREAM.client_secret],
    {
      readyUrl: `${stubUrl}/.well-known/openid-configuration`,
    },
  );

  const profileDir = join(RESULTS, 'profile');
  if (cpuProf) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  const startBroker = async (name, port, algorithm, prefix, more = {}) => {
    const issuer = more.issuer ?? `http://127.0.0.1:${port}`;
    const metricsPort = withMetrics ? await freePort() : undefined;
    const config = {
      issuer,
      listen: { host: '127.0.0.1', port },
      store: { redis: more.redis ?? brokerRedis.url, prefix, wait_replicas: more.waitReplicas ?? 0 },
      log: { level: 'warn' },
      providers: [
        {
          id: 'stub',
          use: 'oidc',
          issuer: stubUrl,
          client_id: UPSTREAM.client_id,
          client_secret: UPSTREAM.client_secret,
        },
      ],
      clients: BROKER_CLIENTS,
      keys: { algorithm },
      ...(withMetrics ? { metrics: { listen: { host: '127.0.0.1', port: metricsPort } } } : {}),
      // One driver on one address makes every request: the limits stay on (their cost is measured)
      // but high enough never to refuse.
      rate_limits: Object.fromEntries(
        RATE_LIMITS.map((name) => [name, { limit: withLimits ? 100_000_000 : 0, window_s: 60 }]),
      ),
    };
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, JSON.stringify(config, null, 2)); // JSON is YAML
    const flags = cpuProf && algorithm === 'RS256' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const proc = await startNode(name, [...flags, join(ROOT, 'dist/main.js'), '--config', file], {
      env: { NODE_ENV: 'production' },
      readyUrl: `http://127.0.0.1:${port}/readyz`,
    });
    const metricsUrl = metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined;
    return { ...proc, url: issuer, listenUrl: `http://127.0.0.1:${port}`, metricsUrl, kind: 'broker', prefix };
  };
  let topology;
  /** A variant's broker instances (one issuer, one store, own key prefix) as one side to measure. */
  const startVariant = async (variant, index) => {
    const ports = await Promise.all(Array.from({ length: variant.instances }, () => freePort()));
    const issuer = `http://127.0.0.1:${ports[0]}`;
    const redis = variant.store === 'single' ? brokerRedis.url : topology.target;
    const procs = [];
    // One at a time: the first creates the signing keys and client secrets in the store.
    for (const [i, port] of ports.entries()) {
      const name = `broker-${variant.id}-${i + 1}`;
      const more = { issuer, redis, waitReplicas: variant.waitReplicas };
      procs.push(await startBroker(name, port, 'RS256', `lbv${index}:`, more));
    }
    return procs;
  };
  const brokers = [];
  let driver;
  try {
    const needsEs = rows.some((r) => r.broker === 'es');
    const [rs, es] = await Promise.all([
      startBroker('broker-rs256', rsPort, 'RS256', 'lb:'),
      needsEs ? startBroker('broker-es256', esPort, 'ES256', 'lbes:') : undefined,
    ]);
    brokers.push(rs);
    if (es) brokers.push(es);
    if (storeKind !== 'single') {
      log(`starting Redis ${storeKind}`);
      topology = storeKind === 'cluster' ? await startCluster() : await startSentinel();
      topologyStops.push(topology.stop);
    }
    const variantProcs = {};
    for (const [i, variant] of variants.entries()) {
      log(`starting ${variant.label}`);
      variantProcs[variant.id] = await startVariant(variant, i + 1);
      brokers.push(...variantProcs[variant.id]);
    }
    const refUrl = `http://127.0.0.1:${refPort}`;
    const reference = await startNode('reference', [join(ROOT, 'bench/reference.mjs'), String(refPort), refRedis.url], {
      env: { NODE_ENV: 'production' },
      readyUrl: `${refUrl}/.well-known/openid-configuration`,
    });

    const brokerRedisClient = new Redis(brokerRedis.url, { lazyConnect: false });
    const refRedisClient = new Redis(refRedis.url, { lazyConnect: false });
    redisClients.push(brokerRedisClient, refRedisClient);
    // A side: its server processes, the Redis processes it uses (all, for CPU) and the nodes whose
    // read events and memory count (every master), and where its store counters are served.
    const single = { pids: [brokerRedis.pid], urls: [brokerRedis.url], clients: [brokerRedisClient] };
    const side = (procs, redis) => ({
      kind: procs[0].kind,
      url: procs[0].url,
      instances: procs.length > 1 ? procs.map((p) => p.listenUrl) : undefined,
      pids: procs.map((p) => p.pid),
      metricsUrls: procs.map((p) => p.metricsUrl).filter(Boolean),
      redis,
    });
    const ref = side([{ ...reference, url: refUrl, kind: 'reference' }], {
      pids: [refRedis.pid],
      urls: [refRedis.url],
      clients: [refRedisClient],
    });
    let topologyRedis = single;
    if (topology) {
      const clients = topology.masterUrls.map((url) => new Redis(url, { lazyConnect: false }));
      redisClients.push(...clients);
      topologyRedis = { pids: topology.pids, urls: topology.masterUrls, clients };
    }
    const variantSides = Object.fromEntries(
      variants.map((v) => [v.id, side(variantProcs[v.id], v.store === 'single' ? single : topologyRedis)]),
    );

    driver = startDriver();

    log('signing ceiling (jose, every core)');
    const ceilings = {};
    for (const alg of ['RS256', 'ES256'])
      ceilings[alg] = await signingCeiling(alg, { durationMs: MODE.ceilingMs, warmupMs: 300 });

    /**
     * The login row again, open loop at half of each side's peak (the median rate just measured),
     * in alternating repetitions; histograms of the repetitions merged. Latency per hop from the
     * scheduled start; the broker's own time per hop without the upstream's handling of its token
     * request (the stub reports it by code).
     */
    const halfLoad = async (row, targets, out) => {
      const { fraction, repMs, reps: n } = MODE.halfLoad;
      const sides = Object.keys(targets);
      log(`${row.label}: half load, open loop at ${fraction * 100}% of each side's peak, ${n} × ${repMs} ms each`);
      const acc = {};
      for (const [side, target] of Object.entries(targets)) {
        const key = `${row.id}/${side}/paced`;
        await driver.call(
          'setup',
          {
            spec: {
              key,
              name: row.scenario,
              alg: row.alg,
              concurrency: CONCURRENCY.paced,
              target: { kind: target.kind, url: target.url, instances: target.instances },
            },
          },
          120_000,
        );
        acc[side] = { rate: fraction * out[side].rate.median, reps: [], hist: {} };
      }
      const merge = (a, name, sparse) => {
        a.hist[name] ??= new Histogram();
        a.hist[name].merge(sparse);
      };
      for (let i = 0; i < n; i++) {
        for (const side of i % 2 ? [...sides].reverse() : sides) {
          const a = acc[side];
          const r = await driver.call(
            'paced',
            {
              key: `${row.id}/${side}/paced`,
              rate: a.rate,
              durationMs: repMs,
              upstreamUrl: targets[side].kind === 'broker' ? stubUrl : undefined,
            },
            repMs + 60_000,
          );
          if (r.errors) log(`  ${side} half load rep ${i + 1}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
          merge(a, 'login', r.latency);
          merge(a, 'startLag', r.startLag);
          merge(a, 'upstreamToken', r.upstreamTokenMs);
          for (const [hop, h] of Object.entries(r.hops)) merge(a, `hop:${hop}`, h);
          for (const [hop, h] of Object.entries(r.own)) merge(a, `own:${hop}`, h);
          a.reps.push({
            scheduled: r.scheduled,
            completed: r.completed,
            errors: r.errors,
            errorSamples: r.errorSamples,
            achievedRate: r.achievedRate,
            poolWaits: r.poolWaits,
            hopsP99: Object.fromEntries(
              Object.entries(r.hops).map(([k, h]) => [k, Histogram.fromSparse(h).percentile(99)]),
            ),
          });
        }
      }
      for (const side of sides) await driver.call('drop', { key: `${row.id}/${side}/paced` });
      const pick = (a, prefix) =>
        Object.fromEntries(
          Object.entries(a.hist)
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, h]) => [k.slice(prefix.length), h.toJSON()]),
        );
      const result = { fraction, repMs, reps: n, sides };
      for (const side of sides) {
        const a = acc[side];
        const completed = a.reps.reduce((s, r) => s + r.completed, 0);
        result[side] = {
          targetRate: a.rate,
          achievedRate: summarize(a.reps.map((r) => r.achievedRate)).median,
          scheduled: a.reps.reduce((s, r) => s + r.scheduled, 0),
          completed,
          errors: a.reps.reduce((s, r) => s + r.errors, 0),
          errorSamples: [...new Set(a.reps.flatMap((r) => r.errorSamples))].slice(0, 3),
          poolWaits: a.reps.reduce((s, r) => s + r.poolWaits, 0),
          login: a.hist.login?.toJSON(),
          startLag: a.hist.startLag?.toJSON(),
          hops: pick(a, 'hop:'),
          // The broker's own time per hop (its hops less the upstream's handling of its requests).
          own: targets[side].kind === 'broker' ? pick(a, 'own:') : undefined,
          upstreamTokenMs: a.hist.upstreamToken?.count ? a.hist.upstreamToken.toJSON() : undefined,
          // Each repetition's p99 per hop, to see how far one repetition's figure moves.
          repHopsP99: a.reps.map((r) => r.hopsP99),
        };
      }
      return result;
    };

    const results = [];
    for (const row of rows) {
      const targets = {
        broker: side([row.broker === 'es' ? es : rs], single),
        reference: ref,
        ...(row.login ? variantSides : {}),
      };
      const sides = Object.keys(targets);
      const concurrency = CONCURRENCY[row.conc];
      log(`${row.label}: setup, warm-up, ${MODE.reps} × ${MODE.repMs} ms on each of ${sides.length}, alternating`);
      const out = { id: row.id, label: row.label, unit: row.unit, concurrency, sides };
      const reps = Object.fromEntries(sides.map((s) => [s, []]));
      const warmUps = {};
      out.warmUp = warmUps;
      for (const [side, target] of Object.entries(targets)) {
        const spec = {
          key: `${row.id}/${side}`,
          name: row.scenario,
          alg: row.alg,
          concurrency,
          target: { kind: target.kind, url: target.url, instances: target.instances },
        };
        await driver.call('setup', { spec }, 120_000);
        const cpu0 = procCpus(target.pids, ticks);
        const t0 = Date.now();
        let warmErrors = 0;
        let warmSample;
        const steps = [];
        for (;;) {
          const c0 = procCpus(target.pids, ticks);
          const left = MODE.warmupMaxMs - (Date.now() - t0);
          const warm = await driver.call('run', {
            key: spec.key,
            durationMs: Math.max(50, Math.min(MODE.warmupStepMs, left)),
          });
          const c1 = procCpus(target.pids, ticks);
          warmErrors += warm.errors;
          warmSample ??= warm.errorSamples[0];
          steps.push(warm.completed ? (c1 - c0) / warm.completed : NaN);
          if (Date.now() - t0 >= MODE.warmupMaxMs) break;
          if (c1 - cpu0 >= MODE.warmupCpuMs && warmedUp(steps)) break;
        }
        warmUps[side] = {
          cpuMs: procCpus(target.pids, ticks) - cpu0,
          wallMs: Date.now() - t0,
          cpuMsPerFlowBySteps: steps,
        };
        if (warmErrors) log(`  ${side} warm-up: ${warmErrors} errors, e.g. ${warmSample}`);
      }
      for (let i = 0; i < MODE.reps; i++) {
        for (const side of i % 2 ? [...sides].reverse() : sides) {
          const target = targets[side];
          const redis = target.redis;
          const infoBefore = await redisInfos(redis.clients);
          const sample = () => ({
            server: procCpus(target.pids, ticks),
            instances: target.pids.map((pid) => procCpuMs(pid, ticks)),
            stub: procCpuMs(stub.pid, ticks),
            redis: procCpus(redis.pids, ticks),
            driver: procCpuMs(driver.child.pid, ticks),
          });
          const cpu0 = sample();
          const busy0 = machineBusyMs(ticks);
          const own0 = ownCpuMs(ticks);
          const r = await driver.call('run', { key: `${row.id}/${side}`, durationMs: MODE.repMs });
          const busy1 = machineBusyMs(ticks);
          const own1 = ownCpuMs(ticks);
          const cpu1 = sample();
          const infoAfter = await redisInfos(redis.clients);
          const { instances: inst0, ...rest0 } = cpu0;
          const cpu = Object.fromEntries(Object.keys(rest0).map((k) => [k, cpu1[k] - cpu0[k]]));
          // Each instance's share of the side's server CPU: round-robin should split it evenly.
          const perInstance = inst0.map((c, j) => cpu1.instances[j] - c);
          const foreign = foreignCores({
            machineBusyMs: busy1 - busy0,
            ownMs: own1 - own0,
            elapsedMs: r.elapsedMs,
          });
          reps[side].push({
            ...r,
            rateOnMachine: rateOnMachine(r.rate, foreign, cores),
            cpuMs: cpu,
            cpuMsPerFlow: r.completed ? cpu.server / r.completed : NaN,
            // Cores other work on the machine took meanwhile (not the bench's own processes).
            foreignCores: foreign,
            instanceCpuMs: perInstance,
            redisMemoryDelta: infoAfter.usedMemory - infoBefore.usedMemory,
            redisCommands: diffCalls(infoBefore.calls, infoAfter.calls),
          });
          if (r.errors) log(`  ${side} rep ${i + 1}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
        }
      }
      for (const side of sides) {
        const list = reps[side];
        const hops = {};
        for (const hop of Object.keys(list[0].hops)) {
          hops[hop] = {
            p50: summarize(list.map((r) => r.hops[hop]?.p50 ?? NaN)).median,
            p99: summarize(list.map((r) => r.hops[hop]?.p99 ?? NaN)).median,
          };
        }
        const sigs = summarize(list.map((r) => r.signaturesPerFlow)).median;
        const rate = summarize(list.map((r) => r.rate));
        const completed = list.reduce((s, r) => s + r.completed, 0);
        out[side] = {
          rate,
          // The rate scaled to the whole machine (lib/stats.mjs rateOnMachine).
          rateOnMachine: summarize(list.map((r) => r.rateOnMachine)),
          p50: summarize(list.map((r) => r.latency.p50)),
          p99: summarize(list.map((r) => r.latency.p99)),
          cpuMsPerFlow: summarize(list.map((r) => r.cpuMsPerFlow)),
          serverCpuShare: summarize(list.map((r) => r.cpuMs.server / r.elapsedMs)),
          stubCpuMsPerFlow:
            row.login && targets[side].kind === 'broker'
              ? summarize(list.map((r) => r.cpuMs.stub / r.completed)).median
              : undefined,
          redisCpuMsPerFlow: summarize(list.map((r) => r.cpuMs.redis / r.completed)).median,
          // The driver shares the machine: its CPU per flow says how much of the 2 cores it took.
          driverCpuMsPerFlow: summarize(list.map((r) => r.cpuMs.driver / r.completed)).median,
          hops,
          signaturesPerFlow: sigs,
          ceilingShare:
            row.alg && sigs
              ? summarize(list.map((r) => (r.rate * r.signaturesPerFlow) / ceilings[row.alg].opsPerSecond))
              : undefined,
          // CPU-normalised: the share of the server's own CPU time that went into signing, with a
          // signature costing (cores / ceiling) core-seconds. Unlike "% of ceiling" it does not
          // depend on how much of the shared machine the driver, Redis and the stub took.
          signingCpuShare:
            row.alg && sigs
              ? summarize(
                  list.map(
                    (r) =>
                      (r.signaturesPerFlow * 1000 * ceilings[row.alg].threads) /
                      ceilings[row.alg].opsPerSecond /
                      r.cpuMsPerFlow,
                  ),
                )
              : undefined,
          // Each instance's share of the side's server CPU over the repetitions (one instance: [1]).
          instanceCpuShares: cpuShares(list.map((r) => r.instanceCpuMs)),
          completed,
          errors: list.reduce((s, r) => s + r.errors, 0),
          errorSamples: [...new Set(list.flatMap((r) => r.errorSamples))].slice(0, 3),
          // Retained Redis memory over the measured reps, per completed flow.
          redisBytesPerFlow: completed ? list.reduce((s, r) => s + r.redisMemoryDelta, 0) / completed : NaN,
          redisCommandsPerFlow: completed
            ? Object.fromEntries(
                Object.entries(
                  list.reduce((acc, r) => {
                    for (const [k, v] of Object.entries(r.redisCommands)) acc[k] = (acc[k] ?? 0) + v;
                    return acc;
                  }, {}),
                )
                  .filter(([k]) => k !== 'info')
                  .map(([k, v]) => [k, Math.round((v / completed) * 100) / 100]),
              )
            : {},
          reps: list.map((r) => ({
            completed: r.completed,
            errors: r.errors,
            rate: r.rate,
            rateOnMachine: r.rateOnMachine,
            cpuMsPerFlow: r.cpuMsPerFlow,
            foreignCores: r.foreignCores,
            p50: r.latency.p50,
            p99: r.latency.p99,
            cpuMs: r.cpuMs,
            instanceCpuMs: r.instanceCpuMs,
            elapsedMs: r.elapsedMs,
          })),
        };
      }
      // Per pair of neighbouring repetitions (rep i of each side ran back to back): broker / reference.
      // The rate ratio from the rates scaled to the whole machine: a pair whose two repetitions met
      // different amounts of other work keeps its ratio (rateRaw: from the rates as measured).
      out.ratios = {
        rate: pairedRatios(
          reps.broker.map((r) => r.rateOnMachine),
          reps.reference.map((r) => r.rateOnMachine),
        ),
        rateRaw: pairedRatios(
          reps.broker.map((r) => r.rate),
          reps.reference.map((r) => r.rate),
        ),
        cpuMsPerFlow: pairedRatios(
          reps.broker.map((r) => r.cpuMsPerFlow),
          reps.reference.map((r) => r.cpuMsPerFlow),
        ),
      };
      out.ratio = out.ratios.rate.median;
      out.foreignCores = summarize(sides.flatMap((side) => reps[side].map((r) => r.foreignCores)));
      for (const side of sides) await driver.call('drop', { key: `${row.id}/${side}` });

      if (row.login) out.halfLoad = await halfLoad(row, { broker: targets.broker, reference: targets.reference }, out);

      if (row.login) {
        // Round trips: one login at a time, so every Redis read event is one request's round trip.
        for (const [side, target] of Object.entries(targets)) {
          const key = `${row.id}/${side}/seq`;
          const redis = target.redis;
          await driver.call(
            'setup',
            {
              spec: {
                key,
                name: row.scenario,
                alg: row.alg,
                concurrency: 1,
                redisUrls: redis.urls,
                target: { kind: target.kind, url: target.url, instances: target.instances },
              },
            },
            60_000,
          );
          await driver.call('run', { key, count: 4 });
          const storeBefore = await storeRoundTrips(target.metricsUrls);
          const before = await redisInfos(redis.clients);
          const r = await driver.call('run', { key, count: MODE.seqLogins });
          const after = await redisInfos(redis.clients);
          const storeAfter = await storeRoundTrips(target.metricsUrls);
          const commands = diffCalls(before.calls, after.calls);
          delete commands.info;
          // The store's own count (its /metrics counter; limiter round trips included): on a cluster
          // a group of per-slot transactions sent at once to their nodes is one round trip there.
          out[side].storeRoundTripsPerFlow = r.completed ? (storeAfter - storeBefore) / r.completed : NaN;
          // The driver counted each hop's read events (one login at a time, its own INFO left out).
          out[side].roundTripsPerHop = r.roundTripsPerHop;
          out[side].roundTripsPerFlow = r.completed
            ? Object.values(r.roundTripsPerHop ?? {}).reduce((a, b) => a + b, 0)
            : NaN;
          // Cross-check from this side: every read event in the pass (on every counted node), less the
          // driver's two INFOs per hop and our own after-INFO on each node.
          out[side].roundTripsCrossCheck = readEventsPerFlow({
            before,
            after,
            hopsPerFlow: Object.keys(r.hops).length,
            flows: r.completed + r.errors,
            completed: r.completed,
          });
          out[side].commandsPerFlow = r.completed
            ? Object.values(commands).reduce((a, b) => a + b, 0) / r.completed
            : NaN;
          out[side].sequential = { completed: r.completed, errors: r.errors, hops: r.hops, commands };
          await driver.call('drop', { key });
        }
      }
      results.push(out);
    }

    log('Redis key sizes (MEMORY USAGE over a sample of keys)');
    const keySizes = {
      broker: await keyKinds(brokerRedisClient, 'lb:'),
      reference: await keyKinds(refRedisClient, 'op:'),
    };

    await driver.call('exit', {}, 5000).catch(() => {});
    const report = {
      date: new Date().toISOString(),
      mode: MODE,
      metrics: withMetrics,
      rateLimits: withLimits,
      concurrency: CONCURRENCY,
      machine: { ...machine(), loadavg: { start: loadBefore, end: loadavg() } },
      ceilings,
      rows: results,
      store: topology ? { kind: topology.kind, nodes: topology.describe } : { kind: 'single' },
      variants,
      keySizes,
      durationS: Math.round((Date.now() - started) / 1000),
    };
    await cleanup(brokers);
    if (cpuProf) {
      const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')) : [];
      if (files.length)
        report.profile = {
          file: join('bench/results/profile', files[0]),
          ...summarizeProfile(join(profileDir, files[0])),
        };
    }
    writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(report, null, 2));
    printReport(report);
    log(`wrote bench/results/latest.json (${report.durationS} s)`);
    finished = true;
    // Numbers from flows that failed are not numbers: a broken scenario fails the run.
    const failing = (x) => x.completed === 0 || x.errors > 0.01 * x.completed;
    const broken = results.flatMap((r) => [
      ...r.sides.filter((s) => failing(r[s])).map((s) => `${r.id} ${s}`),
      ...(r.halfLoad?.sides ?? []).filter((s) => failing(r.halfLoad[s])).map((s) => `${r.id} ${s} (half load)`),
    ]);
    if (broken.length) {
      log(`failed flows in: ${broken.join(', ')}`);
      process.exitCode = 1;
    }
  } catch (err) {
    for (const p of [stub, ...brokers]) if (p.child.exitCode !== null) log(`${p.name} exited early:\n${p.output()}`);
    throw err;
  } finally {
    if (!finished) await cleanup(brokers);
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  async (err) => {
    log(`failed: ${err.stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
