import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBacking } from '../../src/store/memory.js';
import { MemoryStore, type RedisStore } from '../../src/store/index.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { fuzzCase, value, type FuzzCase, type Value } from './generators.js';
import { materialize, REDIRECT, renew, startTarget, type FuzzTarget } from './harness.js';
import { broken, storeBroken, userIdsOf } from './invariants.js';
import { agent, send, type RawRequest } from './send.js';

/**
 * Property-based fuzzing of the real app: generated and mutated requests on every route, and dev
 * logins with fuzzed form fields. `npm test` runs a bounded, seeded number of cases;
 * `npm run fuzz -- --runs=N [--seed=S]` runs more. A failure prints its seed and path and (with
 * FUZZ_RECORD=1, as `npm run fuzz` sets) is kept in regressions.json, which every run replays.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_201);
const STORE_TIMEOUT_MS = 2000;
/** Cases between renewals of the target's state (codes, interactions, sessions get used up). */
const RENEW_EVERY = 100;
/** Time for a property's fresh cases, and for a test (vitest's own limit): generous per case. */
const TIME_LIMIT_MS = Math.max(240_000, RUNS * 20);
const TEST_TIMEOUT_MS = TIME_LIMIT_MS + 60_000;
const REGRESSIONS = new URL('./regressions.json', import.meta.url);

interface Regression {
  property: string;
  seed: number;
  path: string;
  note?: string;
}

const regressions: Regression[] = JSON.parse(readFileSync(REGRESSIONS, 'utf8')) as Regression[];

function record<T>(property: string, details: fc.RunDetails<T>): void {
  if (process.env.FUZZ_RECORD !== '1' || !details.failed || details.counterexamplePath === null) return;
  const entry: Regression = {
    property,
    seed: details.seed,
    path: details.counterexamplePath,
    note: String(details.errorInstance).split('\n')[0]!.slice(0, 200),
  };
  if (regressions.some((r) => r.property === property && r.seed === entry.seed && r.path === entry.path)) return;
  regressions.push(entry);
  writeFileSync(REGRESSIONS, `${JSON.stringify(regressions, null, 2)}\n`);
}

/** Runs a property: first its recorded regressions, then `runs` fresh cases from the seed. */
async function check<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  runs: number,
): Promise<void> {
  const property = fc.asyncProperty(arbitrary, predicate);
  for (const r of regressions.filter((r) => r.property === name)) {
    await fc.assert(property, { seed: r.seed, path: r.path, endOnFailure: true, unbiased: true });
  }
  const details = await fc.check(property, {
    seed: SEED,
    numRuns: runs,
    interruptAfterTimeLimit: TIME_LIMIT_MS,
    unbiased: true,
  });
  record(name, details);
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(
      `${name}: ${why}\n${fc.defaultReportMessage(details)}\n` +
        `replay: FUZZ_SEED=${details.seed} (path ${details.counterexamplePath})`,
    );
  }
}

function userIdsIn(backing: Map<string, unknown>, prefix: string): () => string[] {
  return () => userIdsOf(backing.keys(), prefix);
}

/** Renews the target's state every RENEW_EVERY cases (not while the store is stopped). */
function renewing(target: () => FuzzTarget): () => Promise<void> {
  let cases = 0;
  return async () => {
    if (++cases % RENEW_EVERY === 0) await renew(target());
  };
}

/** Answers by route and status (FUZZ_STATS=1 prints them): how deep the cases reach. */
const seen = new Map<string, number>();

async function expectSound(target: FuzzTarget, request: RawRequest, storeStopped = false) {
  const response = await send(target.base, request, STORE_TIMEOUT_MS + 1000);
  if (process.env.FUZZ_STATS === '1') {
    const key = `${request.method} ${request.path.split('?')[0]!.slice(0, 60)} → ${response.status}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const problem = broken(
    { request, response },
    { base: target.base.pathname.replace(/\/$/, ''), secrets: target.secrets, storeStopped },
  );
  if (problem) {
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([k, v]) => [k, v.length > 200 ? `${v.slice(0, 200)}…(${v.length})` : v]),
    );
    const shown = {
      method: request.method,
      path: request.path.slice(0, 300),
      headers,
      body: request.body?.toString('latin1').slice(0, 300),
      size: request.body?.length,
    };
    throw new Error(
      `${problem}\nrequest: ${JSON.stringify(shown)}\nanswer: ${response.status} ${response.body.slice(0, 500)}`,
    );
  }
  return response;
}

/** A dev login whose form carries fuzzed fields next to the real state. */
const devLoginForm = fc.record({
  username: value,
  name: fc.option(value, { nil: undefined }),
  email: fc.option(value, { nil: undefined }),
  email_verified: fc.option(value, { nil: undefined }),
  extra: fc.array(fc.tuple(fc.constantFrom('state', 'username', 'email', 'x'), value), { maxLength: 3 }),
});

type DevLoginForm = Record<string, unknown> & { extra: [string, Value][] };

async function fuzzedDevLogin(target: FuzzTarget, form: DevLoginForm, storeStopped = false) {
  const start = await expectSound(
    target,
    {
      method: 'GET',
      path:
        '/authorize?client_id=web&response_type=code&scope=openid%20email&provider=dev&prompt=login' +
        `&redirect_uri=${encodeURIComponent(REDIRECT)}&code_challenge=${'c'.repeat(43)}&code_challenge_method=S256`,
      headers: { cookie: target.cookie },
    },
    storeStopped,
  );
  const location = start.headers.location;
  if (typeof location !== 'string') return;
  const state = new URL(location, target.base).searchParams.get('state') ?? '';
  const resolve = (v: unknown) =>
    typeof v === 'string'
      ? v
      : v && typeof v === 'object' && 'ref' in v
        ? target.refs[(v as { ref: keyof FuzzTarget['refs'] }).ref]
        : 'x'.repeat((v as { huge?: number })?.huge ?? 1);
  const fields = new URLSearchParams({ state });
  for (const key of ['username', 'name', 'email', 'email_verified'])
    if (form[key] !== undefined) fields.append(key, resolve(form[key]));
  for (const [k, v] of form.extra) fields.append(k, resolve(v));
  await expectSound(
    target,
    {
      method: 'POST',
      path: '/callback/dev',
      headers: {
        cookie: target.cookie,
        'content-type': 'application/x-www-form-urlencoded',
        origin: target.base.origin,
        'sec-fetch-site': 'same-origin',
      },
      body: Buffer.from(fields.toString()),
    },
    storeStopped,
  );
}

describe('fuzz: generated requests against the real app (memory store)', () => {
  let target: FuzzTarget;
  const backing = createMemoryBacking();

  beforeAll(async () => {
    target = await startTarget(new MemoryStore({ prefix: 'lb:', backing }));
  });
  afterAll(async () => {
    await target?.broker.close();
    if (process.env.FUZZ_STATS === '1')
      console.log(
        [...seen]
          .sort((a, b) => b[1] - a[1])
          .map(([k, n]) => `${n}\t${k}`)
          .join('\n'),
      );
  });

  const renewal = renewing(() => target);
  it(
    `every route, ${RUNS} cases: no 5xx, no hang, no stack or secret, JSON on API routes`,
    async () => {
      await check(
        'requests',
        fuzzCase,
        async (c: FuzzCase) => {
          await renewal();
          await expectSound(target, materialize(c, target));
        },
        RUNS,
      );
      expect(await storeBroken(target.broker.store, userIdsIn(backing, 'lb:'))).toBeUndefined();
    },
    TEST_TIMEOUT_MS,
  );

  it(
    `dev logins with fuzzed fields, ${Math.ceil(RUNS / 10)} cases: sound answers, no user without its link`,
    async () => {
      await check(
        'dev-logins',
        devLoginForm,
        async (form) => {
          await fuzzedDevLogin(target, form);
          const problem = await storeBroken(target.broker.store, userIdsIn(backing, 'lb:'));
          if (problem) throw new Error(problem);
        },
        Math.ceil(RUNS / 10),
      );
    },
    TEST_TIMEOUT_MS,
  );
});

describe.skipIf(!redisServerAvailable())('fuzz: on Redis, then with Redis stopped', () => {
  let redis: RedisServer;
  let target: FuzzTarget;

  beforeAll(async () => {
    redis = await startRedisServer();
    target = await startTarget(await openRedisStore(redis.url, { commandTimeoutMs: STORE_TIMEOUT_MS }));
  });
  afterAll(async () => {
    agent.destroy();
    await target?.broker.close();
    await redis?.stop();
  });

  const runs = Math.ceil(RUNS / 5);
  const renewal = renewing(() => target);
  it(
    `${runs} cases on Redis, then ${runs} with the store stopped: only its 503, quickly`,
    async () => {
      await check(
        'requests-redis',
        fuzzCase,
        async (c: FuzzCase) => {
          await renewal();
          await expectSound(target, materialize(c, target));
        },
        runs,
      );
      const client = (target.broker.store as RedisStore).client;
      const ids = userIdsOf(await client.keys('lb:user:*'), 'lb:');
      expect(await storeBroken(target.broker.store, () => ids)).toBeUndefined();
      await redis.pause();
      try {
        await check(
          'requests-store-stopped',
          fuzzCase,
          async (c: FuzzCase) => {
            await expectSound(target, materialize(c, target), true);
          },
          runs,
        );
        await check(
          'dev-logins-store-stopped',
          devLoginForm,
          async (form) => {
            await fuzzedDevLogin(target, form, true);
          },
          Math.ceil(runs / 5),
        );
      } finally {
        await redis.restart();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
