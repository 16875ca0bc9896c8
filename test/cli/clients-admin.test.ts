import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_CACHE_MS } from '../../src/oauth/clients.js';
import { clientKeys } from '../../src/oauth/client-store.js';
import type { Store } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { ensureBuilt } from '../support/built.js';
import { clientsCli } from '../support/cli.js';
import { loginWithDev } from '../support/dev-login.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent } from '../support/user-agent.js';

const dir = mkdtempSync(join(tmpdir(), 'lb-clients-admin-'));
const REDIRECT = 'http://127.0.0.1:5010/cb';
const PREFIX = 'cla:';
const YAML_CLIENTS = [
  { client_id: 'yaml-web', client_secret: 'yaml-web-secret-0123456789', redirect_uris: ['http://127.0.0.1:5011/cb'] },
  // Its id is also put in the store before an instance starts: the file wins, with a warning.
  { client_id: 'shadowed', redirect_uris: ['http://127.0.0.1:5012/cb'] },
];
const clients = clientsCli;
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
/** Long enough for every instance's cache of a store client to have expired. */
const settle = () => new Promise((r) => setTimeout(r, CLIENT_CACHE_MS + 300));

beforeAll(() => ensureBuilt());

describe.skipIf(!redisServerAvailable())('login-broker clients: a store client on two instances sharing Redis', () => {
  let redis: RedisServer;
  let a: RunningApp;
  let b: RunningApp;
  let configFile: string;
  const raw = (redisUrl: string) => ({
    store: { redis: redisUrl, prefix: PREFIX },
    clients: YAML_CLIENTS,
    providers: [{ id: 'dev', use: 'dev' }],
  });

  beforeAll(async () => {
    redis = await startRedisServer();
    configFile = join(dir, 'broker.yaml');
    writeFileSync(configFile, JSON.stringify({ issuer: 'http://127.0.0.1:4999', ...raw(redis.url) }));
    a = await startApp(raw(redis.url), { store: await openRedisStore(redis.url, { prefix: PREFIX }) });
    // One issuer for both instances, as behind a balancer.
    b = await startApp(
      { ...raw(redis.url), issuer: a.url },
      { store: await openRedisStore(redis.url, { prefix: PREFIX }) },
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await redis?.stop();
  });

  const token = async (base: string, form: Record<string, string>, secret: string, id = 'app2') => {
    const response = await fetch(`${base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(id, secret) },
      body: new URLSearchParams(form),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  const introspect = async (base: string, value: string, secret: string) => {
    const response = await fetch(`${base}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('app2', secret) },
      body: new URLSearchParams({ token: value }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { active: boolean }).active;
  };

  /** Code + PKCE with openid-client: authorize on A, the token request sent to B. */
  async function loginAcross(secret: string) {
    const config = await oidc.discovery(new URL(a.url), 'app2', secret, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
    });
    config[oidc.customFetch] = (url, options) => fetch(url.replace(a.url, b.url), options as RequestInit);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid offline_access',
      provider: 'dev',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const callback = await loginWithDev(new UserAgent(), url, { username: 'ada' });
    expect(callback.origin + callback.pathname).toBe(REDIRECT);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    const claims = tokens.claims()!;
    expect(claims.aud).toBe('app2');
    return tokens;
  }

  it('add → login across instances → list → show → update → rotate-secret → remove', async () => {
    // B looks the id up before it exists: that miss must not be remembered.
    expect(
      (await token(b.url, { grant_type: 'refresh_token', refresh_token: 'x' }, 'nope-nope-nope-nope')).status,
    ).toBe(401);

    const added = await clients(
      [
        'add',
        'app2',
        '--redirect-uris',
        REDIRECT,
        '--client-name',
        'App Two',
        '--confidential',
        '--first-party',
        '--json',
      ],
      configFile,
    );
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    const made = JSON.parse(added.stdout) as { client: Record<string, unknown>; client_secret: string };
    expect(made.client).toMatchObject({ client_id: 'app2', client_name: 'App Two', origin: 'cli' });
    const secret = made.client_secret;
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only the hash is stored.
    expect(await a.store.get(clientKeys.record('app2'))).not.toContain(secret);

    const tokens = await loginAcross(secret);
    expect(tokens.refresh_token).toBeDefined();
    expect(await introspect(a.url, tokens.access_token, secret)).toBe(true);

    const listed = await clients(['list', '--json'], configFile);
    expect(listed.status).toBe(0);
    const page = JSON.parse(listed.stdout) as {
      clients: { client_id: string; last_used_at?: number }[];
      total: number;
    };
    expect(page.clients.map((c) => c.client_id)).toEqual(['app2']);
    expect(page.clients[0]!.last_used_at).toBeGreaterThan(0);
    const text = await clients(['list'], configFile);
    expect(text.stdout).toMatch(/^app2 {2}App Two {2}confidential {2}cli /m);
    expect(text.stdout).toContain('1 of 1 store client(s)');

    const shown = await clients(['show', 'app2'], configFile);
    expect(shown.stdout).toContain('client app2 (App Two): confidential, client_secret_basic or client_secret_post');
    expect(shown.stdout).toContain(`redirect_uris: ${REDIRECT}`);
    expect(shown.stdout).toContain('secret: set (only its hash is kept)');
    expect(shown.stdout).not.toContain(secret);

    // Flags change the keys given; the rest (and the secret) stay.
    const updated = await clients(
      ['update', 'app2', '--client-name', 'App 2', '--post-logout-redirect-uris', 'http://127.0.0.1:5010/'],
      configFile,
    );
    expect(updated.status).toBe(0);
    expect(updated.stdout).toContain('updated client app2 (App 2)');
    expect(updated.stdout).not.toContain('client_secret:');
    const invalid = await clients(['update', 'app2', '--redirect-uris', 'http://app.example/cb'], configFile);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/redirect_uris\.0: .*https/);

    const rotated = await clients(['rotate-secret', 'app2', '--json'], configFile);
    expect(rotated.status).toBe(0);
    const newSecret = (JSON.parse(rotated.stdout) as { client_secret: string }).client_secret;
    expect(newSecret).not.toBe(secret);
    await settle();
    const refresh = (value: string, with_: string, base = b.url) =>
      token(base, { grant_type: 'refresh_token', refresh_token: value }, with_);
    expect((await refresh(tokens.refresh_token!, secret)).status).toBe(401);
    const renewed = await refresh(tokens.refresh_token!, newSecret, a.url);
    expect(renewed.status).toBe(200);

    const removed = await clients(['remove', 'app2'], configFile);
    expect(removed.status).toBe(0);
    expect(removed.stdout).toContain('removed client app2');
    expect((await clients(['remove', 'app2'], configFile)).status).toBe(1);
    await settle();
    // Gone everywhere: the client cannot authenticate, its access token is refused at userinfo.
    expect((await refresh(renewed.body.refresh_token!, newSecret)).body.error).toBe('invalid_client');
    const info = await fetch(`${b.url}/userinfo`, {
      headers: { authorization: `Bearer ${renewed.body.access_token}` },
    });
    expect(info.status).toBe(401);
    // Created again with the same id: the old grant stays dead (RFC 6749 §5.2).
    const again = await clients(['add', 'app2', '--redirect-uris', REDIRECT, '--confidential', '--json'], configFile);
    const againSecret = (JSON.parse(again.stdout) as { client_secret: string }).client_secret;
    const dead = await refresh(renewed.body.refresh_token!, againSecret);
    expect(dead.status).toBe(400);
    expect(dead.body.error).toBe('invalid_grant');
    expect(await introspect(a.url, renewed.body.access_token!, againSecret)).toBe(false);
    expect((await clients(['remove', 'app2'], configFile)).status).toBe(0);
  }, 60_000);

  it('add from a YAML document on standard input; a public client gets no secret', async () => {
    const doc = `client_id: cli-spa\nclient_name: SPA\nredirect_uris:\n  - http://127.0.0.1:5013/cb\nscope: openid profile\n`;
    const added = await clients(['add', '--stdin'], configFile, doc);
    expect(added.status).toBe(0);
    expect(added.stdout).toContain('added client cli-spa (SPA): public');
    expect(added.stdout).not.toContain('client_secret:');
    const shown = JSON.parse((await clients(['show', 'cli-spa', '--json'], configFile)).stdout);
    expect(shown).toMatchObject({ client_id: 'cli-spa', scope: 'openid profile', token_endpoint_auth_method: 'none' });
    // A document replaces the client as a whole.
    const replaced = await clients(
      ['update', 'cli-spa', '--stdin'],
      configFile,
      `redirect_uris: [http://127.0.0.1:5014/cb]\n`,
    );
    expect(replaced.status).toBe(0);
    const after = JSON.parse((await clients(['show', 'cli-spa', '--json'], configFile)).stdout);
    expect(after.redirect_uris).toEqual(['http://127.0.0.1:5014/cb']);
    expect(after.client_name).toBeUndefined();
    expect((await clients(['rotate-secret', 'cli-spa'], configFile)).stderr).toMatch(/has no secret/);
    expect((await clients(['remove', 'cli-spa'], configFile)).status).toBe(0);
  });

  it('refuses invalid metadata with the key named, and stores nothing', async () => {
    const cases: [string[], RegExp][] = [
      [['add', 'bad', '--redirect-uris', 'https://x.example/cb#frag'], /redirect_uris\.0: must not contain a fragment/],
      [
        ['add', 'bad', '--grant-types', 'client_credentials'],
        /grant_types: client_credentials needs a confidential client/,
      ],
      [['add', 'bad', '--redirect-uris', REDIRECT, '--pkce', 'sometimes'], /pkce: /],
      [
        ['add', 'bad', '--redirect-uris', REDIRECT, '--subject-type', 'pairwise'],
        /subject_type: pairwise needs subjects\.pairwise_salt/,
      ],
      [['add', 'b d', '--redirect-uris', REDIRECT], /client_id: must be 1-128 URL-safe characters/],
    ];
    for (const [args, message] of cases) {
      const run = await clients(args, configFile);
      expect(run.status, args.join(' ')).toBe(1);
      expect(run.stderr).toMatch(message);
    }
    const unknownKey = await clients(['add', '--stdin'], configFile, 'client_id: bad\ncolour: blue\n');
    expect(unknownKey.status).toBe(1);
    expect(unknownKey.stderr).toMatch(/colour/);
    expect(await a.store.get(clientKeys.record('bad'))).toBeNull();
  });

  it('refuses an id of the configuration file; an instance starting with one in both warns, and the file wins', async () => {
    const taken = await clients(['add', 'yaml-web', '--redirect-uris', REDIRECT], configFile);
    expect(taken.status).toBe(1);
    expect(taken.stderr).toMatch(/client_id: .yaml-web. is a client of the configuration file/);
    expect((await clients(['update', 'yaml-web', '--client-name', 'x'], configFile)).stderr).toContain(
      'configuration file',
    );
    expect((await clients(['show', 'yaml-web'], configFile)).status).toBe(1);

    // Written before the id was in the file (here: straight into the store).
    const store: Store = await openRedisStore(redis.url, { prefix: PREFIX });
    await store.put(
      clientKeys.record('shadowed'),
      JSON.stringify({
        v: 1,
        client: { client_id: 'shadowed', redirect_uris: ['http://127.0.0.1:6000/elsewhere'] },
        origin: 'cli',
        gen: 'g',
        created_at: 1,
        updated_at: 1,
      }),
    );
    await store.sadd(clientKeys.index, ['shadowed']);
    await store.close();
    const c = await startApp(raw(redis.url), { store: await openRedisStore(redis.url, { prefix: PREFIX }) });
    try {
      const warning = c.logs.find((l) => l.client === 'shadowed');
      expect(warning).toMatchObject({ level: 40 });
      expect(String(warning!.msg)).toContain('the configuration file wins');
      // The file's redirect URI is the one that counts.
      const url = `${c.url}/authorize?client_id=shadowed&response_type=code&redirect_uri=${encodeURIComponent('http://127.0.0.1:6000/elsewhere')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`;
      expect((await fetch(url, { redirect: 'manual' })).status).toBe(400);
    } finally {
      await c.close();
    }
  });

  it('prints its usage with every action and client key', async () => {
    const help = await clients(['--help'], configFile);
    expect(help.status).toBe(0);
    for (const word of [
      'add',
      'list',
      'show',
      'update',
      'rotate-secret',
      'remove',
      '--json',
      '--stdin',
      '--confidential',
    ]) {
      expect(help.stdout).toContain(word);
    }
    for (const key of [
      'client_name',
      'redirect_uris',
      'post_logout_redirect_uris',
      'grant_types',
      'response_types',
      'token_endpoint_auth_method',
      'jwks',
      'jwks_uri',
      'subject_type',
      'sector_identifier_uri',
      'pkce',
      'scope',
      'first_party',
      'resources',
      'backchannel_logout_uri',
      'backchannel_logout_session_required',
      'upstream_tokens',
      'native_providers',
    ]) {
      expect(help.stdout).toContain(`--${key.replaceAll('_', '-')}`);
    }
    const wrong = await clients(['frobnicate'], configFile);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('unknown or missing action "frobnicate"');
  });
});

describe('login-broker clients without store.redis', () => {
  beforeAll(() => ensureBuilt());
  it('explains that it needs store.redis (exit status 2)', async () => {
    const file = join(dir, 'memory.yaml');
    writeFileSync(
      file,
      JSON.stringify({
        issuer: 'http://127.0.0.1:4999',
        clients: YAML_CLIENTS,
        providers: [{ id: 'dev', use: 'dev' }],
      }),
    );
    const run = await clients(['list'], file);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('set store.redis');
    expect(run.stdout).toBe('');
  });
});
