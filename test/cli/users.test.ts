import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { ensureBuilt } from '../support/built.js';
import { usersCli } from '../support/cli.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';

const SECRET = 'trusted-secret-0123456789abcdef';
const CLIENT = { client_id: 'trusted', client_secret: SECRET, grant_types: ['password'], first_party: true };
const dir = mkdtempSync(join(tmpdir(), 'lb-users-'));

const users = (args: string[], input: string, configFile: string) => usersCli(args, configFile, input);

beforeAll(() => ensureBuilt());

describe.skipIf(!redisServerAvailable())('login-broker users (Redis store)', () => {
  let redis: RedisServer;
  let app: RunningApp;
  let configFile: string;

  beforeAll(async () => {
    redis = await startRedisServer();
    const raw = {
      store: { redis: redis.url, prefix: 'cli:' },
      clients: [CLIENT],
      password_grant: { local: { scrypt: { cost: 4096 } } },
    };
    configFile = join(dir, 'broker.yaml');
    // JSON is YAML: the same file the CLI reads, the same store the broker uses.
    writeFileSync(configFile, JSON.stringify({ issuer: 'http://127.0.0.1:4999', ...raw }));
    const store = await openRedisStore(redis.url, { prefix: 'cli:' });
    app = await startApp(raw, { store });
  });
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  const login = async (username: string, password: string) => {
    const response = await fetch(`${app.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`trusted:${SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'openid email' }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('adds a user who can then log in; set-password replaces the password; remove ends it', async () => {
    const added = await users(
      ['add', 'Zoe', '--email', 'zoe@example.org', '--email-verified', '--name', 'Zoe Z'],
      'first password 123\n',
      configFile,
    );
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    expect(added.stdout).toMatch(/^added zoe \(account [A-Za-z0-9_-]{22}\)\n$/);
    expect(added.stdout).not.toContain('first password');

    const first = await login('zoe', 'first password 123');
    expect(first.status).toBe(200);
    expect(first.body.id_token).toEqual(expect.any(String));

    const again = await users(['add', 'zoe'], 'another password 456\n', configFile);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exists');

    const changed = await users(['set-password', 'zoe@example.org'], 'second password 456\n', configFile);
    expect(changed.status).toBe(0);
    expect((await login('zoe', 'first password 123')).status).toBe(400);
    expect((await login('zoe', 'second password 456')).status).toBe(200);

    const removed = await users(['remove', 'zoe'], '', configFile);
    expect(removed.status).toBe(0);
    expect(await login('zoe', 'second password 456')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await users(['remove', 'zoe'], '', configFile)).status).toBe(1);
  });

  it('never takes the password from the command line, and refuses short ones', async () => {
    const argv = await users(['add', 'yann', 'password-on-argv-123'], '', configFile);
    expect(argv.status).toBe(2);
    expect(argv.stderr).toContain('never from the command line');
    const short = await users(['add', 'yann'], 'short\n', configFile);
    expect(short.status).toBe(1);
    expect(short.stderr).toContain('at least 12');
    const none = await users(['add', 'yann'], '', configFile);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('no password');
  });
});

describe('login-broker users (configuration errors)', () => {
  it('refuses the in-memory store and a config without local accounts, with exit status 2', async () => {
    const memory = join(dir, 'memory.yaml');
    writeFileSync(memory, JSON.stringify({ issuer: 'http://127.0.0.1:4999', password_grant: { local: {} } }));
    const inMemory = await users(['add', 'x'], 'a long enough password\n', memory);
    expect(inMemory.status).toBe(2);
    expect(inMemory.stderr).toContain('set store.redis');
    const noLocal = join(dir, 'no-local.yaml');
    writeFileSync(
      noLocal,
      JSON.stringify({ issuer: 'http://127.0.0.1:4999', store: { redis: 'redis://127.0.0.1:1/0' } }),
    );
    const off = await users(['add', 'x'], 'a long enough password\n', noLocal);
    expect(off.status).toBe(2);
    expect(off.stderr).toContain('password_grant.local');
    const usage = await users(['frobnicate', 'x'], '', noLocal);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('Usage: login-broker users add');
  });
});
