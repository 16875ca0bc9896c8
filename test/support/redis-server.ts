import { RedisStore } from '../../src/store/index.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway redis-server on a free loopback port: nothing on disk, gone when stopped. */
export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
  /** Stops the server but remembers the port, so `restart()` brings the same address back. */
  pause(): Promise<void>;
  restart(): Promise<void>;
  /** The running server's process id (for SIGSTOP/SIGCONT); undefined while it is stopped. */
  readonly pid: number | undefined;
}

export interface RedisServerOptions {
  /**
   * Keep the data across `pause()`/`restart()`: an append-only file, fsync'd before every
   * answer, in a temporary directory removed by `stop()`.
   */
  persistent?: boolean;
}

const binary = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/**
 * Whether Redis tests can run. When redis-server is missing they are skipped with a printed
 * reason, except under CI=true, where a missing server is a failure (CI must install it).
 */
export function redisServerAvailable(): boolean {
  const found = spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found) {
    if (process.env.CI === 'true') {
      throw new Error(`${binary} is not installed, and CI=true requires the Redis tests to run`);
    }
    console.warn(`[skip] ${binary} not found on PATH: Redis tests are skipped (install redis-server to run them)`);
  }
  return found;
}

export async function freePort(): Promise<number> {
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

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = options.persistent ? mkdtempSync(join(tmpdir(), 'lb-redis-')) : undefined;
  let child: ChildProcess | undefined = await launch(port, dir);
  const halt = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    stop: async () => {
      await halt();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
    pause: halt,
    restart: async () => {
      child = await launch(port, dir);
    },
    get pid() {
      return child?.exitCode === null ? child.pid : undefined;
    },
  };
}

async function launch(port: number, dir: string | undefined): Promise<ChildProcess> {
  const persistence = dir ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir] : ['--appendonly', 'no'];
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--daemonize', 'no'].concat([
      '--loglevel',
      'warning',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = async () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited: ${output}`));
      if (await answers(port)) return resolve();
      if (Date.now() > deadline) return reject(new Error(`redis-server did not start on ${port}: ${output}`));
      setTimeout(poll, 25);
    };
    void poll();
  });
  return child;
}

async function answers(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
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

/** A RedisStore on a test server, once it answers (ioredis connects in the background). */
export async function openRedisStore(
  url: string,
  options: { prefix?: string; commandTimeoutMs?: number } = {},
): Promise<RedisStore> {
  // As on a cluster, a step across slots fails here too.
  const store = new RedisStore({
    url,
    prefix: options.prefix ?? 'lb:',
    commandTimeoutMs: options.commandTimeoutMs,
    refuseCrossSlot: true,
  });
  return waitUntilReady(store);
}

export async function waitUntilReady(store: RedisStore): Promise<RedisStore> {
  for (let i = 0; i < 250; i++) {
    try {
      await store.ping();
      return store;
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  throw new Error('the Redis store never became ready');
}
