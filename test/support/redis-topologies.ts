import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterTarget, SentinelTarget } from '../../src/store/index.js';
import { freePort } from './redis-server.js';

const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const cli = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** One redis-server (or sentinel) process of a topology, on a loopback port. */
export interface RedisNodeProcess {
  port: number;
  /** SIGKILLs the process (a crash, as far as the others can tell). */
  kill(): Promise<void>;
  /** Starts it again on the same port, with the same configuration file. */
  restart(): Promise<void>;
  readonly running: boolean;
}

interface Topology {
  dir: string;
  nodes: RedisNodeProcess[];
  stop(): Promise<void>;
}

export interface RedisCluster extends Topology {
  target: ClusterTarget;
  /** The node serving `slot` as master now (asks a live node). */
  masterOf(slot: number): Promise<RedisNodeProcess>;
  /** Resolves once every slot is served and every node agrees the cluster is ok. */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

export interface RedisSentinel extends Topology {
  target: SentinelTarget;
  master: RedisNodeProcess;
  replica: RedisNodeProcess;
  sentinels: RedisNodeProcess[];
  /** The port the sentinels name as master now. */
  masterPort(): Promise<number>;
}

/** Every process any topology started, killed when the test process exits however it exits. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export function redisCliAvailable(): boolean {
  return spawnSync(cli, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A free port whose +10000 neighbour (the cluster bus) is free too is not needed: cluster-port is set. */
async function ports(n: number): Promise<number[]> {
  const found = new Set<number>();
  while (found.size < n) found.add(await freePort());
  return [...found];
}

function startNode(port: number, conf: string, args: string[] = []): RedisNodeProcess {
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    output = '';
    const started = spawn(binary, [conf, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(started);
    started.once('exit', () => live.delete(started));
    started.stdout?.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
    started.stderr?.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
    child = started;
    const deadline = Date.now() + 10_000;
    while (!(await command(port, 'PING')).startsWith('+PONG')) {
      if (started.exitCode !== null) throw new Error(`redis on ${port} exited: ${output}`);
      if (Date.now() > deadline) throw new Error(`redis on ${port} did not start: ${output}`);
      await sleep(25);
    }
  };
  const node: RedisNodeProcess & { launch(): Promise<void> } = {
    port,
    launch,
    kill: async () => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
    restart: launch,
    get running() {
      return child !== undefined && child.exitCode === null;
    },
  };
  return node;
}

/** Sends one inline command to a node and returns the raw reply ('' when it does not answer). */
export function command(port: number, line: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = Buffer.alloc(0);
    const done = () => {
      socket.destroy();
      resolve(reply.toString());
    };
    socket.setTimeout(timeoutMs, done);
    socket.once('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (data: Buffer) => {
      reply = Buffer.concat([reply, data]);
      if (parsedUpTo(reply, 0) !== undefined) done();
    });
    socket.once('error', done);
  });
}

/** Where a whole RESP reply starting at `at` ends, or undefined while it is incomplete. */
function parsedUpTo(buffer: Buffer, at: number): number | undefined {
  const eol = buffer.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const kind = String.fromCharCode(buffer[at]!);
  const n = Number(buffer.subarray(at + 1, eol).toString());
  if (kind === '$') {
    if (n < 0) return eol + 2;
    return buffer.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 : undefined;
  }
  if (kind === '*') {
    let next: number | undefined = eol + 2;
    for (let i = 0; i < n && next !== undefined; i++) next = parsedUpTo(buffer, next);
    return next;
  }
  return eol + 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const common = (port: number, dir: string) =>
  [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${dir}`,
    'save ""',
    'appendonly no',
    'loglevel warning',
    'protected-mode no',
  ].join('\n');

/**
 * A Redis Cluster of 3 masters and 3 replicas on free loopback ports, in a temporary directory.
 * The node timeout is short (1 s), so a master failure is noticed and a replica promoted quickly.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'lb-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const all = await ports(12);
    for (let i = 0; i < 6; i++) {
      const [port, bus] = [all[2 * i]!, all[2 * i + 1]!];
      const conf = join(dir, `node-${port}.conf`);
      writeFileSync(
        conf,
        `${common(port, dir)}\ncluster-enabled yes\ncluster-port ${bus}\ncluster-config-file nodes-${port}.conf\n` +
          'cluster-node-timeout 1000\ncluster-replica-validity-factor 0\n',
      );
      nodes.push(startNode(port, conf));
    }
    await Promise.all(nodes.map((n) => (n as RedisNodeProcess & { launch(): Promise<void> }).launch()));
    const create = spawnSync(
      cli,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
    const cluster: RedisCluster = {
      dir,
      nodes,
      stop,
      target: { cluster: nodes.slice(0, 3).map((n) => ({ host: '127.0.0.1', port: n.port })) },
      waitHealthy: async (timeoutMs = 20_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const states = await Promise.all(nodes.filter((n) => n.running).map((n) => command(n.port, 'CLUSTER INFO')));
          if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))) return;
          if (Date.now() > deadline) throw new Error(`the cluster did not become healthy: ${states.join('\n')}`);
          await sleep(100);
        }
      },
      masterOf: async (slot: number) => {
        const asker = nodes.find((n) => n.running)!;
        const reply = await command(asker.port, 'CLUSTER NODES');
        for (const line of reply.split('\n')) {
          const [, address, flags, , , , , , ...ranges] = line.trim().split(' ');
          if (!flags?.includes('master') || flags.includes('fail')) continue;
          const served = ranges.some((r) => {
            const [from, to] = r.split('-').map(Number);
            return slot >= from! && slot <= (to ?? from)!;
          });
          if (served) return nodes.find((n) => address!.startsWith(`127.0.0.1:${n.port}@`))!;
        }
        throw new Error(`no master serves slot ${slot}: ${reply}`);
      },
    };
    await cluster.waitHealthy();
    // And every replica in sync with its master (so WAIT can count it).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(nodes.map((n) => command(n.port, 'INFO replication')));
      const replicas = infos.filter((i) => i.includes('role:slave'));
      if (replicas.length === 3 && replicas.every((i) => i.includes('master_link_status:up'))) break;
      if (Date.now() > deadline) throw new Error(`the replicas did not sync: ${infos.join('\n')}`);
      await sleep(100);
    }
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * One master, one replica and three sentinels (quorum 2) on free loopback ports. The master is
 * declared down after 1 s without an answer, so a failover takes a few seconds.
 */
export async function startRedisSentinel(name = 'mymaster'): Promise<RedisSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'lb-sentinel-'));
  const nodes: RedisNodeProcess[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [masterPort, replicaPort, ...sentinelPorts] = await ports(5);
    const masterConf = join(dir, 'master.conf');
    writeFileSync(masterConf, `${common(masterPort!, dir)}\ndbfilename master.rdb\n`);
    const replicaConf = join(dir, 'replica.conf');
    writeFileSync(
      replicaConf,
      `${common(replicaPort!, dir)}\ndbfilename replica.rdb\nreplicaof 127.0.0.1 ${masterPort}\n`,
    );
    const master = startNode(masterPort!, masterConf);
    const replica = startNode(replicaPort!, replicaConf);
    nodes.push(master, replica);
    const sentinels = sentinelPorts.map((port) => {
      const conf = join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        `${[
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          'protected-mode no',
          'loglevel warning',
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
        ].join('\n')}\n`,
      );
      return startNode(port, conf, ['--sentinel']);
    });
    nodes.push(...sentinels);
    for (const node of nodes) await (node as RedisNodeProcess & { launch(): Promise<void> }).launch();
    const topology: RedisSentinel = {
      dir,
      nodes,
      stop,
      master,
      replica,
      sentinels,
      target: { sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), name },
      masterPort: async () => {
        for (const s of sentinels.filter((n) => n.running)) {
          const reply = await command(s.port, `SENTINEL get-master-addr-by-name ${name}`);
          const port = Number(reply.split('\r\n')[4]);
          if (port) return port;
        }
        throw new Error('no sentinel names a master');
      },
    };
    // Ready when the replica is in sync and every sentinel knows both the replica and the others.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const info = await command(replicaPort!, 'INFO replication');
      const known = await Promise.all(sentinels.map((s) => command(s.port, `SENTINEL master ${name}`)));
      const synced = info.includes('master_link_status:up');
      const aware = known.every(
        (k) => /num-slaves\r\n\$\d+\r\n1\r\n/.test(k) && /num-other-sentinels\r\n\$\d+\r\n2\r\n/.test(k),
      );
      if (synced && aware) break;
      if (Date.now() > deadline) throw new Error(`the sentinel setup did not settle: ${info}\n${known.join('\n')}`);
      await sleep(100);
    }
    return topology;
  } catch (err) {
    await stop();
    throw err;
  }
}
