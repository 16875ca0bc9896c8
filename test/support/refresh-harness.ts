import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { afterAll, beforeAll } from 'vitest';
import { grantOf, recordKeys } from '../../src/oauth/record-keys.js';
import { MemoryStore, type Store, type StoreOp } from '../../src/store/index.js';
import { startApp, type RunningApp } from './app.js';
import { BASE_CONFIG, SECRETS, type StoreKind } from './broker-fixture.js';
import { loginWithDev } from './dev-login.js';
import { openRedisStore, startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server.js';
import { UserAgent } from './user-agent.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';
const WEB_AUTH = `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`;

/** What a refresh answer carries. */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope?: string;
}

/**
 * Runs `before` ahead of the next store call that writes a refresh token (a `put` of an `rt:`
 * key: where a rotation delivers its successor), once; `done` settles when that call has.
 */
export interface RotationHook {
  arm(before: () => Promise<void> | void): Promise<void>;
}

function hookedStore(store: Store): { store: Store; hook: RotationHook } {
  let armed: { before: () => Promise<void> | void; settle: () => void } | undefined;
  const writesRefreshToken = (ops: StoreOp[]) => ops.some((op) => op.op === 'put' && op.key.startsWith('rt:'));
  const proxy = new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop !== 'batch' && prop !== 'batches' && prop !== 'batchIf') return value.bind(target);
      return async (...args: unknown[]) => {
        const ops = (
          prop === 'batch' ? args[0] : prop === 'batches' ? (args[0] as StoreOp[][]).flat() : args[1]
        ) as StoreOp[];
        const hooked = armed && writesRefreshToken(ops) ? armed : undefined;
        if (hooked) {
          armed = undefined;
          await hooked.before();
        }
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } finally {
          hooked?.settle();
        }
      };
    },
  });
  return {
    store: proxy,
    hook: {
      arm: (before) => new Promise<void>((settle) => (armed = { before, settle })),
    },
  };
}

export interface RefreshHarness {
  app: RunningApp;
  /** The throwaway redis-server of the Redis kind. */
  redis?: RedisServer;
  hook: RotationHook;
  /** Signs `username` in with the dev provider and redeems the code: a first token pair. */
  login(username?: string): Promise<Tokens>;
  refresh(refreshToken: string, extra?: Record<string, string>, init?: RequestInit): Promise<Response>;
  /** RFC 7662: is this refresh token active? */
  active(refreshToken: string): Promise<boolean>;
  /** The store key of a refresh token (only hashes are stored). */
  key(refreshToken: string, kind?: 'rt' | 'rt-used'): string;
}

/**
 * One broker per describe block, with its store wrapped by a RotationHook; the Redis kind gets
 * its own redis-server (persistent when asked, so it can be killed and restarted with its data).
 */
export function useRefreshHarness(
  kind: StoreKind,
  raw: Record<string, unknown> = {},
  options: { redis?: RedisServerOptions; commandTimeoutMs?: number } = {},
): () => RefreshHarness {
  let harness: RefreshHarness | undefined;
  beforeAll(async () => {
    let redis: RedisServer | undefined;
    let store: Store;
    if (kind === 'redis') {
      redis = await startRedisServer(options.redis);
      store = await openRedisStore(redis.url, { commandTimeoutMs: options.commandTimeoutMs });
    } else {
      store = new MemoryStore({ prefix: 'lb:' });
    }
    const hooked = hookedStore(store);
    const app = await startApp({ ...BASE_CONFIG, ...raw }, { store: hooked.store });
    harness = makeHarness(app, redis, hooked.hook);
  });
  afterAll(async () => {
    await harness?.app.close();
    await harness?.redis?.stop();
  });
  return () => {
    if (!harness) throw new Error('harness not started');
    return harness;
  };
}

function makeHarness(app: RunningApp, redis: RedisServer | undefined, hook: RotationHook): RefreshHarness {
  const post = (path: string, form: Record<string, string>, init: RequestInit = {}) =>
    fetch(`${app.url}${path}`, {
      ...init,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: WEB_AUTH },
      body: new URLSearchParams(form).toString(),
    });
  return {
    app,
    redis,
    hook,
    async login(username = 'rita') {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = new URL(`${app.url}/authorize`);
      url.search = new URLSearchParams({
        client_id: 'web',
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid profile',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      const back = await loginWithDev(new UserAgent(), url, { username });
      const code = back.searchParams.get('code')!;
      const redeem = { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT };
      const res = await post('/token', redeem);
      if (res.status !== 200) throw new Error(`code redemption answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as Tokens;
    },
    refresh: (refreshToken, extra = {}, init = {}) =>
      post('/token', { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, init),
    async active(refreshToken) {
      const res = await post('/introspect', { token: refreshToken, token_type_hint: 'refresh_token' });
      return ((await res.json()) as { active: boolean }).active;
    },
    key: (refreshToken, kind = 'rt') => {
      const hash = createHash('sha256').update(refreshToken).digest('base64url');
      const grantId = grantOf(refreshToken)!;
      return kind === 'rt' ? recordKeys.rt(grantId, hash) : recordKeys.rtUsed(grantId, hash);
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
