// Processes for the benchmark: a throwaway redis-server, child Node processes, CPU sampling.
// Everything started here is registered and killed by killAll() (also on SIGINT/SIGTERM/exit).
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { parseMachineStat, parseProcStat, parseSchedstat } from './stats.mjs';

const children = new Set();

export function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGKILLs every child still running (each by its own pid); waits at most `waitMs`. */
export async function killAll(waitMs = 3000) {
  const running = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (child) =>
        new Promise((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          try {
            child.kill('SIGKILL');
          } catch {
            clearTimeout(timer);
            resolve();
          }
        }),
    ),
  );
}

/** Synchronous last resort for process 'exit': signals only our own children. */
export function killAllSync() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export function redisAvailable() {
  return spawnSync(REDIS_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(500);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A redis-server on a free loopback port, nothing on disk. */
export async function startRedis() {
  const port = await freePort();
  const child = track(
    spawn(
      REDIS_BIN,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ),
  );
  let output = '';
  child.stdout.on('data', (c) => (output += c));
  child.stderr.on('data', (c) => (output += c));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
    if (await redisAnswers(port)) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}: ${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { port, pid: child.pid, url: `redis://127.0.0.1:${port}/0`, child };
}

/**
 * Spawns a Node process and waits until `readyUrl` answers 2xx (polled, bounded by timeoutMs).
 * stderr/stdout are kept (last 64 KB) for the error message.
 */
export async function startNode(name, args, { env = {}, readyUrl, timeoutMs = 20_000, ipc = false, cwd } = {}) {
  const child = track(
    spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-65_536);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const proc = { name, child, pid: child.pid, output: () => output };
  if (readyUrl) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
      try {
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        if (res.ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline)
        throw new Error(`${name} did not answer ${readyUrl} within ${timeoutMs} ms:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return proc;
}

/** utime + stime of a process so far, in clock ticks (see getconf CLK_TCK). */
export function procCpu(pid) {
  return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

let schedstat;
/** Whether /proc/<pid>/task/<tid>/schedstat is there (Linux with schedstats): CPU time in ns. */
function hasSchedstat() {
  if (schedstat === undefined) {
    try {
      parseSchedstat(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8'));
      schedstat = true;
    } catch {
      schedstat = false;
    }
  }
  return schedstat;
}

/**
 * CPU time of a process so far, in ms: the sum over its threads of the time each spent on a CPU
 * (schedstat, nanoseconds), or else utime + stime from /proc/<pid>/stat (clock ticks, 10 ms
 * steps, too coarse for repetitions of a second or less). Threads that already exited are not in
 * the schedstat sum: the servers here keep theirs (libuv's pool, Redis's background threads).
 */
export function procCpuMs(pid, ticksPerSecond = 100) {
  if (hasSchedstat()) {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += parseSchedstat(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8'));
      } catch {
        /* the thread ended since the listing */
      }
    }
    return ns / 1e6;
  }
  const { utime, stime } = procCpu(pid);
  return ((utime + stime) * 1000) / ticksPerSecond;
}

/** The machine's busy CPU time so far (every core, steal included), in ms. */
export function machineBusyMs(ticksPerSecond = 100) {
  return (parseMachineStat(readFileSync('/proc/stat', 'utf8')) * 1000) / ticksPerSecond;
}

/** CPU ms so far of the bench's own processes: this one and every child it started. */
export function ownCpuMs(ticksPerSecond = 100) {
  let ms = procCpuMs(process.pid, ticksPerSecond);
  for (const child of children) {
    try {
      ms += procCpuMs(child.pid, ticksPerSecond);
    } catch {
      /* ended */
    }
  }
  return ms;
}

export function clockTicks() {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
}

export function machine() {
  let model = 'unknown';
  try {
    model = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? model;
  } catch {
    /* not Linux */
  }
  const nproc = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim()) || undefined;
  let memTotal;
  try {
    memTotal = /MemTotal:\s*(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  } catch {
    /* not Linux */
  }
  return {
    nproc,
    cpu: model,
    memory_gb: memTotal ? Math.round(Number(memTotal) / 1048576) : undefined,
    node: process.version,
  };
}
