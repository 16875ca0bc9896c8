import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, MAIN, ROOT } from '../support/built.js';
import { freePort, redisServerAvailable, startRedisServer } from '../support/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'lb-cli-'));
const writeConfig = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 15_000,
  });

interface Broker {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

async function startBroker(configFile: string, port: number, via: 'flag' | 'env' = 'flag'): Promise<Broker> {
  const args = via === 'flag' ? [MAIN, '--config', configFile] : [MAIN];
  const env = via === 'env' ? { ...process.env, BROKER_CONFIG: configFile } : process.env;
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  while (!output.includes('listening on')) {
    if (child.exitCode !== null) throw new Error(`broker exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`broker did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, output: () => output, exited };
}

beforeAll(() => ensureBuilt());

describe('the command line', () => {
  it('prints usage with --help and exits 0', () => {
    const result = run(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: login-broker [--config FILE]');
    expect(result.stdout).toContain('BROKER_CONFIG');
  });

  it('exits 2 with usage for an unknown option or no config', () => {
    const unknown = run(['--nope']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--nope'");
    const none = run([], { BROKER_CONFIG: '' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no configuration file');
  });

  it('exits 2 on a bad config, naming the file and keys, without a stack trace', () => {
    const file = writeConfig('bad.yaml', 'issuer: http://login.example.com\nlisten: { port: lots }\nextra: 1\n');
    const result = run(['--config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).toContain('issuer: must use https');
    expect(result.stderr).toContain('listen.port');
    expect(result.stderr).toContain('unknown key "extra"');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('exits 2 when a provider entry names no provider file, naming the entry', () => {
    const file = writeConfig(
      'provider.yaml',
      'issuer: http://127.0.0.1:4000\nproviders:\n  - id: mystery\n    use: no-such-provider\n    client_id: x\n',
    );
    const result = run(['--config', file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no-such-provider');
    expect(result.stderr).not.toMatch(/^\s+at /m);
  });

  it('exits 2 on malformed YAML and on a missing file', () => {
    const yaml = run(['--config', writeConfig('broken.yaml', 'issuer: [\n')]);
    expect(yaml.status).toBe(2);
    expect(yaml.stderr).toMatch(/YAML syntax error at line \d+/);
    const missing = run(['--config', join(dir, 'absent.yaml')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('file not found');
  });

  it(
    'starts with any config file (flag or BROKER_CONFIG), says which store it uses, and stops ' + 'cleanly on SIGTERM',
    async () => {
      for (const via of ['flag', 'env'] as const) {
        const port = await freePort();
        const file = writeConfig(
          `ok-${via}.yaml`,
          `issuer: http://127.0.0.1:${port}\nlisten: { host: 127.0.0.1, port: ${port} }\n`,
        );
        const broker = await startBroker(file, port, via);
        expect(broker.output()).toContain('embedded in-memory store: state is lost on restart');
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
        broker.child.kill('SIGTERM');
        expect(await broker.exited).toBe(0);
        expect(broker.output()).toContain('stopped');
      }
    },
  );

  it('finishes a request in flight before it stops', async () => {
    const port = await freePort();
    const file = writeConfig(
      'drain.yaml',
      `issuer: http://127.0.0.1:${port}\nlisten: { host: 127.0.0.1, port: ${port} }\n`,
    );
    const broker = await startBroker(file, port);
    // A slow upload keeps a request in flight across the signal.
    const { request } = await import('node:http');
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/healthz', method: 'GET', headers: { 'content-length': '1' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.flushHeaders();
      setTimeout(() => req.end('x'), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    broker.child.kill('SIGTERM');
    expect(await answered).toBe(200);
    expect(await broker.exited).toBe(0);
  });

  it.runIf(redisServerAvailable())(
    'starts while Redis is unreachable: /readyz is 503 until Redis answers',
    async () => {
      const port = await freePort();
      const redis = await startRedisServer();
      await redis.pause();
      const file = writeConfig(
        'redis.yaml',
        `issuer: http://127.0.0.1:${port}\nlisten: { host: 127.0.0.1, port: ${port} }\nstore:\n  ` +
          `redis: ${redis.url}\n  command_timeout_ms: 500\n`,
      );
      const broker = await startBroker(file, port);
      expect(broker.output()).toContain(`Redis at redis://127.0.0.1:${redis.port}/0`);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
      await redis.restart();
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
      }
      expect(status).toBe(200);
      expect(broker.output()).toMatch(/redis: .*retrying with backoff/);
      broker.child.kill('SIGTERM');
      expect(await broker.exited).toBe(0);
      await redis.stop();
    },
  );
});
