// Redis Sentinel and Redis Cluster for the benchmark, on free loopback ports, nothing kept on disk.
// The same setups as test/support/redis-topologies.ts (which is TypeScript for vitest), reduced
// to what a measurement needs: start, know the masters, stop. Every process is tracked by
// proc.mjs, so killAll() stops them with the rest. Unlike the tests' setups, nothing here kills a
// node, so Sentinel is slower to declare a master down (5 s, not 1 s): a machine saturated by
// the benchmark itself must not trigger a failover in the middle of a measurement.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, track } from './proc.mjs';

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const CLI_BIN = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function redisCliAvailable() {
  return spawnSync(CLI_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** One inline command to a node; the raw reply text ('' when it does not answer in time). */
export function command(port, line, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    let timer;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    // Replies here are short; wait briefly after the first bytes for the rest of a bulk reply.
    timer = setTimeout(done, timeoutMs);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (data) => {
      reply += data.toString();
      clearTimeout(timer);
      timer = setTimeout(done, 20);
    });
    socket.once('error', done);
  });
}

async function distinctPorts(n) {
  const found = new Set();
  while (found.size < n) found.add(await freePort());
  return [...found];
}

const common = (port, dir) => [
  `port ${port}`,
  'bind 127.0.0.1',
  `dir ${dir}`,
  'save ""',
  'appendonly no',
  'loglevel warning',
  'protected-mode no',
];

async function startNode(port, conf, args = []) {
  const child = track(spawn(REDIS_BIN, [conf, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let output = '';
  child.stdout.on('data', (c) => (output = (output + c).slice(-4000)));
  child.stderr.on('data', (c) => (output = (output + c).slice(-4000)));
  const deadline = Date.now() + 10_000;
  while (!(await command(port, 'PING')).startsWith('+PONG')) {
    if (child.exitCode !== null) throw new Error(`redis on ${port} exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`redis on ${port} did not start: ${output}`);
    await sleep(25);
  }
  return { port, pid: child.pid, child };
}

async function until(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const failure = await check();
    if (!failure) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${failure}`);
    await sleep(100);
  }
}

function stopper(nodes, dir) {
  return async () => {
    await Promise.all(
      nodes.map(
        (n) =>
          new Promise((resolve) => {
            if (n.child.exitCode !== null || n.child.signalCode !== null) return resolve();
            n.child.once('exit', resolve);
            n.child.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
}

const url = (port) => `redis://127.0.0.1:${port}/0`;

/**
 * 3 masters + 3 replicas. `masters` are the nodes that took slots (read events are counted
 * there: a replica's reads are its replication stream, not the broker's requests).
 */
export async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'lb-bench-cluster-'));
  const nodes = [];
  const stop = stopper(nodes, dir);
  try {
    const all = await distinctPorts(12);
    const starting = [];
    for (let i = 0; i < 6; i++) {
      const [port, bus] = [all[2 * i], all[2 * i + 1]];
      const conf = join(dir, `node-${port}.conf`);
      const lines = [
        ...common(port, dir),
        'cluster-enabled yes',
        `cluster-port ${bus}`,
        `cluster-config-file nodes-${port}.conf`,
        'cluster-node-timeout 1000',
      ];
      writeFileSync(conf, `${lines.join('\n')}\n`);
      starting.push(startNode(port, conf));
    }
    // A node that failed to start is still tracked: killAll() stops it.
    nodes.push(...(await Promise.all(starting)));
    const create = spawnSync(
      CLI_BIN,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    await until('the cluster did not become healthy', async () => {
      const states = await Promise.all(nodes.map((n) => command(n.port, 'CLUSTER INFO')));
      return states.every((s) => s.includes('cluster_state:ok')) ? undefined : states.join(' | ');
    });
    await until('the replicas did not sync', async () => {
      const infos = await Promise.all(nodes.map((n) => command(n.port, 'INFO replication')));
      const replicas = infos.filter((i) => i.includes('role:slave'));
      return replicas.length === 3 && replicas.every((i) => i.includes('master_link_status:up'))
        ? undefined
        : `${replicas.length} replicas`;
    });
    const roles = await Promise.all(nodes.map((n) => command(n.port, 'INFO replication')));
    const masters = nodes.filter((_, i) => roles[i].includes('role:master'));
    return {
      kind: 'cluster',
      pids: nodes.map((n) => n.pid),
      masterUrls: masters.map((n) => url(n.port)),
      target: { cluster: masters.map((n) => ({ host: '127.0.0.1', port: n.port })) },
      describe: '3 masters + 3 replicas',
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** 1 master, 1 replica, 3 sentinels (quorum 2). Read events are counted on the master. */
export async function startSentinel(name = 'mymaster') {
  const dir = mkdtempSync(join(tmpdir(), 'lb-bench-sentinel-'));
  const nodes = [];
  const stop = stopper(nodes, dir);
  try {
    const [masterPort, replicaPort, ...sentinelPorts] = await distinctPorts(5);
    const masterConf = join(dir, 'master.conf');
    writeFileSync(masterConf, `${[...common(masterPort, dir), 'dbfilename master.rdb'].join('\n')}\n`);
    const replicaConf = join(dir, 'replica.conf');
    const replicaLines = [...common(replicaPort, dir), 'dbfilename replica.rdb', `replicaof 127.0.0.1 ${masterPort}`];
    writeFileSync(replicaConf, `${replicaLines.join('\n')}\n`);
    nodes.push(await startNode(masterPort, masterConf));
    nodes.push(await startNode(replicaPort, replicaConf));
    for (const port of sentinelPorts) {
      const conf = join(dir, `sentinel-${port}.conf`);
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        'protected-mode no',
        'loglevel warning',
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} 5000`,
        `sentinel failover-timeout ${name} 10000`,
      ];
      writeFileSync(conf, `${lines.join('\n')}\n`);
      nodes.push(await startNode(port, conf, ['--sentinel']));
    }
    await until('the sentinel setup did not settle', async () => {
      const info = await command(replicaPort, 'INFO replication');
      const known = await Promise.all(sentinelPorts.map((p) => command(p, `SENTINEL master ${name}`)));
      const aware = known.every((k) => /num-slaves\r\n\$\d+\r\n1\r\n/.test(k));
      return info.includes('master_link_status:up') && aware ? undefined : 'replica or sentinels not ready';
    });
    return {
      kind: 'sentinel',
      pids: nodes.map((n) => n.pid),
      masterUrls: [url(masterPort)],
      target: { sentinels: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name },
      describe: '1 master + 1 replica + 3 sentinels',
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
