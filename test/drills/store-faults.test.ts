import { afterEach, describe, expect, it } from 'vitest';
import { RedisStore, type RedisTarget } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { redisServerAvailable, startRedisServer, waitUntilReady } from '../support/redis-server.js';
import { redisCliAvailable, startRedisCluster, startRedisSentinel } from '../support/redis-topologies.js';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.js';
import { brokerConfig, browserLogin, readyz, sleep, startIdp, Tally, timeUntil } from './support.js';

/**
 * Store fault drills, bounded and automated: two broker instances behind a balancer, three
 * browsers signing in over and over, and a fault in the middle. Every answer is a success or a
 * 503 (never another 5xx, never later than the command timeout allows), /readyz says 503 while
 * the store is gone, and logins succeed again once it is back. Each prints a summary line.
 */
const COMMAND_TIMEOUT_MS = 1000;
const BROWSERS = 3;
const available = redisServerAvailable() && redisCliAvailable();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function twoInstances(target: RedisTarget) {
  const balancer: RoundRobin = await startRoundRobin([]);
  cleanups.push(() => balancer.close());
  const idp = await startIdp(() => balancer.url);
  cleanups.push(() => idp.close());
  const instances: RunningApp[] = [];
  for (let i = 0; i < 2; i++) {
    const store = await waitUntilReady(new RedisStore({ target, prefix: 'lb:', commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    const app = await startApp(brokerConfig(balancer.url, idp.issuer, target), { store });
    cleanups.push(() => app.close());
    instances.push(app);
  }
  balancer.backends.push(...instances.map((a) => a.url));
  balancer.served.push(0, 0);
  return { balancer, idp, instances };
}

/** Browsers sign in in a loop until `stop()`; resolves with how many logins each finished. */
function load(lb: string, idp: string, tally: Tally) {
  let stopAt = Number.POSITIVE_INFINITY;
  const loops = Array.from({ length: BROWSERS }, async (_, i) => {
    while (Date.now() < stopAt) await browserLogin(lb, idp, tally, Math.min(stopAt, Date.now() + 30_000), `user${i}`);
  });
  return {
    stop: async () => {
      stopAt = Date.now();
      await Promise.all(loops);
    },
  };
}

const allReady = (instances: RunningApp[]) => async () =>
  (await Promise.all(instances.map((a) => readyz(a.url)))).every((s) => s === 200);

function expectClean(tally: Tally, loginsAfter: number, instances: RunningApp[]): void {
  const errors = instances.flatMap((a) => a.logs).filter((line) => Number(line.level) >= 50);
  if (tally.other5xx) console.log(`[drill] errors logged: ${JSON.stringify(errors.slice(0, 3))}`);
  expect(tally.other5xx).toBe(0);
  expect(tally.slowest503Ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1500);
  expect(loginsAfter).toBeGreaterThan(0);
}

describe.runIf(available)('drills: the store fails and comes back', () => {
  it('Redis down then back: 503 meanwhile (/readyz too), recovers within 2 s, no other 5xx', async () => {
    const redis = await startRedisServer();
    cleanups.push(() => redis.stop());
    const { balancer, idp, instances } = await twoInstances(redis.url);
    const tally = new Tally();
    const running = load(balancer.url, idp.issuer, tally);
    await sleep(1000);
    await redis.pause();
    await sleep(300);
    const duringOutage = await Promise.all(instances.map((a) => readyz(a.url)));
    await sleep(1500);
    await redis.restart();
    const recoveredMs = await timeUntil(allReady(instances), 5000);
    const before = tally.logins;
    await sleep(1500);
    await running.stop();
    tally.summary('Redis down then back', { 'time to recover ms': recoveredMs });
    expect(duringOutage).toEqual([503, 503]);
    expect(tally.unavailable).toBeGreaterThan(0);
    expect(recoveredMs).toBeLessThanOrEqual(2000);
    expectClean(tally, tally.logins - before, instances);
  }, 60_000);

  it('Sentinel failover (the master is killed): 503 meanwhile, then the replica serves, no other 5xx', async () => {
    const sentinel = await startRedisSentinel();
    cleanups.push(() => sentinel.stop());
    const { balancer, idp, instances } = await twoInstances(sentinel.target);
    const tally = new Tally();
    const running = load(balancer.url, idp.issuer, tally);
    await sleep(1000);
    const killedAt = Date.now();
    await sentinel.master.kill();
    await timeUntil(async () => (await sentinel.masterPort()) === sentinel.replica.port, 20_000);
    const failoverMs = Date.now() - killedAt;
    await timeUntil(allReady(instances), 10_000).catch(async (err: Error) => {
      // Say what each instance answers and logged, so a slow recovery can be told from a stuck one.
      const statuses = await Promise.all(instances.map((a) => readyz(a.url).catch(() => 'no answer')));
      const warnings = instances.flatMap((a) => a.logs).filter((line) => Number(line.level) >= 40);
      console.log(`[drill] not ready: /readyz ${statuses.join(', ')}; ${JSON.stringify(warnings.slice(-5))}`);
      throw err;
    });
    const recoveredMs = Date.now() - killedAt;
    const before = tally.logins;
    await sleep(1500);
    await running.stop();
    tally.summary('Sentinel failover', { 'failover ms': failoverMs, 'time to recover ms': recoveredMs });
    expectClean(tally, tally.logins - before, instances);
  }, 90_000);

  it('Cluster master failure with replica promotion: 503 meanwhile, then served again, no other 5xx', async () => {
    const cluster = await startRedisCluster();
    cleanups.push(() => cluster.stop());
    const { balancer, idp, instances } = await twoInstances(cluster.target);
    const tally = new Tally();
    const running = load(balancer.url, idp.issuer, tally);
    await sleep(1000);
    const victim = await cluster.masterOf(0);
    const killedAt = Date.now();
    await victim.kill();
    // Promoted once another node serves the slot, and every slot is served again.
    await timeUntil(async () => (await cluster.masterOf(0)).port !== victim.port, 20_000);
    await cluster.waitHealthy(20_000);
    const promotedMs = Date.now() - killedAt;
    await timeUntil(allReady(instances), 10_000);
    const recoveredMs = Date.now() - killedAt;
    const before = tally.logins;
    await sleep(1500);
    await running.stop();
    tally.summary('Cluster master failure', { 'promotion ms': promotedMs, 'time to recover ms': recoveredMs });
    expectClean(tally, tally.logins - before, instances);
  }, 90_000);
});
