// npm run bench [-- --quick] [-- --cpu-prof] [-- --only=cold_login,sso_login] [-- --metrics]
// Starts a throwaway Redis per server, the broker (dist/, NODE_ENV=production) as its own
// process, the reference (oidc-provider 8) as its own process, the stub upstream IdP, and the
// load driver; measures each scenario on the broker and the reference in alternating
// repetitions; prints one table and writes bench/results/latest.json.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  procCpu,
  redisAvailable,
  startNode,
  startRedis,
  track,
} from './lib/proc.mjs';
import { commandCalls, cpuMs, diffCalls, parseRedisInfo, summarize } from './lib/stats.mjs';
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
  },
  strict: true,
});
// `npm run bench --quick` (without the `--`) reaches us as npm_config_quick.
const quick = opts.quick || process.env.npm_config_quick === 'true';
const cpuProf = opts['cpu-prof'] || process.env.npm_config_cpu_prof === 'true';
const withMetrics = opts.metrics || process.env.npm_config_metrics === 'true';
const withLimits = !(opts['no-rate-limits'] || process.env.npm_config_no_rate_limits === 'true');

const MODE = quick
  ? { name: 'quick', warmupMs: 300, repMs: 500, reps: 3, seqLogins: 20, ceilingMs: 600, budgetMs: 180_000 }
  : { name: 'full', warmupMs: 2000, repMs: 3000, reps: 5, seqLogins: 100, ceilingMs: 2000, budgetMs: 600_000 };
const CONCURRENCY = { request: 16, login: 8 };
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
const rows = ROWS.filter((r) => !only || only.has(r.id));

const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const _sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redisClients = [];
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

async function redisInfo(client) {
  return parseRedisInfo(await client.info('all'));
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
  const watchdog = setTimeout(() => {
    log(`time budget of ${MODE.budgetMs / 1000} s exceeded: stopping`);
    cleanup().finally(() => process.exit(1));
  }, MODE.budgetMs);
  watchdog.unref();

  tmp = mkdtempSync(join(tmpdir(), 'lb-bench-'));
  mkdirSync(RESULTS, { recursive: true });
  const ticks = clockTicks();

  log(
    `mode ${MODE.name}${withMetrics ? ', metrics on' : ''}${withLimits ? '' : ', rate limits off'}: ` +
      `starting redis ×2, stub upstream, broker ×2, reference`,
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
  const startBroker = async (name, port, algorithm, prefix) => {
    const issuer = `http://127.0.0.1:${port}`;
    const config = {
      issuer,
      listen: { host: '127.0.0.1', port },
      store: { redis: brokerRedis.url, prefix },
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
      ...(withMetrics ? { metrics: { listen: { host: '127.0.0.1', port: 0 } } } : {}),
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
      readyUrl: `${issuer}/readyz`,
    });
    return { ...proc, url: issuer, kind: 'broker', prefix };
  };
  const brokers = [];
  let driver;
  try {
    const [rs, es] = await Promise.all([
      startBroker('broker-rs256', rsPort, 'RS256', 'lb:'),
      startBroker('broker-es256', esPort, 'ES256', 'lbes:'),
    ]);
    brokers.push(rs, es);
    const refUrl = `http://127.0.0.1:${refPort}`;
    const reference = await startNode('reference', [join(ROOT, 'bench/reference.mjs'), String(refPort), refRedis.url], {
      env: { NODE_ENV: 'production' },
      readyUrl: `${refUrl}/.well-known/openid-configuration`,
    });
    const ref = { ...reference, url: refUrl, kind: 'reference', prefix: 'op:' };

    const brokerRedisClient = new Redis(brokerRedis.url, { lazyConnect: false });
    const refRedisClient = new Redis(refRedis.url, { lazyConnect: false });
    redisClients.push(brokerRedisClient, refRedisClient);
    const redisOf = (target) =>
      target.kind === 'broker'
        ? { client: brokerRedisClient, pid: brokerRedis.pid }
        : { client: refRedisClient, pid: refRedis.pid };

    driver = startDriver();

    log('signing ceiling (jose, every core)');
    const ceilings = {};
    for (const alg of ['RS256', 'ES256'])
      ceilings[alg] = await signingCeiling(alg, { durationMs: MODE.ceilingMs, warmupMs: 300 });

    const results = [];
    for (const row of rows) {
      const targets = { broker: row.broker === 'es' ? es : rs, reference: ref };
      const concurrency = CONCURRENCY[row.conc];
      log(`${row.label}: setup, warm-up, ${MODE.reps} × ${MODE.repMs} ms on each server, alternating`);
      const out = { id: row.id, label: row.label, unit: row.unit, concurrency };
      const reps = { broker: [], reference: [] };
      for (const [side, target] of Object.entries(targets)) {
        const spec = {
          key: `${row.id}/${side}`,
          name: row.scenario,
          alg: row.alg,
          concurrency,
          target: { kind: target.kind, url: target.url },
        };
        await driver.call('setup', { spec }, 120_000);
        const warm = await driver.call('run', { key: spec.key, durationMs: MODE.warmupMs });
        if (warm.errors) log(`  ${side} warm-up: ${warm.errors} errors, e.g. ${warm.errorSamples[0]}`);
      }
      for (let i = 0; i < MODE.reps; i++) {
        for (const side of i % 2 ? ['reference', 'broker'] : ['broker', 'reference']) {
          const target = targets[side];
          const redis = redisOf(target);
          const infoBefore = await redisInfo(redis.client);
          const cpu0 = {
            server: procCpu(target.pid),
            stub: procCpu(stub.pid),
            redis: procCpu(redis.pid),
            driver: procCpu(driver.child.pid),
          };
          const r = await driver.call('run', { key: `${row.id}/${side}`, durationMs: MODE.repMs });
          const cpu1 = {
            server: procCpu(target.pid),
            stub: procCpu(stub.pid),
            redis: procCpu(redis.pid),
            driver: procCpu(driver.child.pid),
          };
          const infoAfter = await redisInfo(redis.client);
          const cpu = Object.fromEntries(Object.keys(cpu0).map((k) => [k, cpuMs(cpu0[k], cpu1[k], ticks)]));
          reps[side].push({
            ...r,
            cpuMs: cpu,
            cpuMsPerFlow: r.completed ? cpu.server / r.completed : NaN,
            redisMemoryDelta: infoAfter.memory.used_memory - infoBefore.memory.used_memory,
            redisCommands: diffCalls(commandCalls(infoBefore), commandCalls(infoAfter)),
          });
          if (r.errors) log(`  ${side} rep ${i + 1}: ${r.errors} errors, e.g. ${r.errorSamples[0]}`);
        }
      }
      for (const side of ['broker', 'reference']) {
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
          p50: summarize(list.map((r) => r.latency.p50)),
          p99: summarize(list.map((r) => r.latency.p99)),
          cpuMsPerFlow: summarize(list.map((r) => r.cpuMsPerFlow)),
          serverCpuShare: summarize(list.map((r) => r.cpuMs.server / r.elapsedMs)),
          stubCpuMsPerFlow:
            row.login && side === 'broker' ? summarize(list.map((r) => r.cpuMs.stub / r.completed)).median : undefined,
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
            p50: r.latency.p50,
            p99: r.latency.p99,
            cpuMs: r.cpuMs,
            elapsedMs: r.elapsedMs,
          })),
        };
      }
      out.ratio = out.broker.rate.median / out.reference.rate.median;
      for (const side of ['broker', 'reference']) await driver.call('drop', { key: `${row.id}/${side}` });

      if (row.login) {
        // Round trips: one login at a time, so every Redis read event is one request's round trip.
        for (const [side, target] of Object.entries(targets)) {
          const key = `${row.id}/${side}/seq`;
          const redis = redisOf(target);
          const redisUrl = target.kind === 'broker' ? brokerRedis.url : refRedis.url;
          await driver.call(
            'setup',
            {
              spec: {
                key,
                name: row.scenario,
                alg: row.alg,
                concurrency: 1,
                redisUrl,
                target: { kind: target.kind, url: target.url },
              },
            },
            60_000,
          );
          await driver.call('run', { key, count: 4 });
          const before = await redisInfo(redis.client);
          const r = await driver.call('run', { key, count: MODE.seqLogins });
          const after = await redisInfo(redis.client);
          const commands = diffCalls(commandCalls(before), commandCalls(after));
          delete commands.info;
          // The driver counted each hop's read events (one login at a time, its own INFO left out).
          out[side].roundTripsPerHop = r.roundTripsPerHop;
          out[side].roundTripsPerFlow = r.completed
            ? Object.values(r.roundTripsPerHop ?? {}).reduce((a, b) => a + b, 0)
            : NaN;
          // Cross-check from this side: every read event in the pass, less the driver's two INFOs per
          // hop and our own after-INFO.
          const hopsPerFlow = Object.keys(r.hops).length;
          out[side].roundTripsCrossCheck = r.completed
            ? (after.stats.total_reads_processed -
                before.stats.total_reads_processed -
                1 -
                2 * hopsPerFlow * (r.completed + r.errors)) /
              r.completed
            : NaN;
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
      machine: machine(),
      ceilings,
      rows: results,
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
    const broken = results.flatMap((r) =>
      ['broker', 'reference']
        .filter((s) => r[s].completed === 0 || r[s].errors > 0.01 * r[s].completed)
        .map((s) => `${r.id} ${s}`),
    );
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
