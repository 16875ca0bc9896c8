import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../support/built.js';
import { freePort, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.js';
import {
  brokerConfig,
  browserLogin,
  readyz,
  sleep,
  spawnBroker,
  startIdp,
  Tally,
  type BrokerProcess,
} from './support.js';

/**
 * Instance drills with real broker processes (dist/main.js) behind a balancer without sticky
 * sessions: one instance SIGKILLed mid-login (the browser retries on the other), and a rolling
 * restart with SIGTERM (/readyz 503 as soon as draining starts; no request that arrived before
 * the drain fails). The upstream's token endpoint answers after 400 ms, so callbacks are in
 * flight when the signals land.
 */
const available = redisServerAvailable();

describe.runIf(available)('drills: broker instances die and restart', () => {
  let dir: string;
  let redis: RedisServer;
  let balancer: RoundRobin;
  let idp: Awaited<ReturnType<typeof startIdp>>;
  const processes: BrokerProcess[] = [];

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'lb-drill-'));
    redis = await startRedisServer();
    // Health-checked every 100 ms, drained for 600 ms: the balancer notices a draining instance.
    balancer = await startRoundRobin([], { healthCheckMs: 100 });
    idp = await startIdp(() => balancer.url, { tokenDelayMs: 400 });
  }, 60_000);

  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    await balancer?.close();
    await idp?.close();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * /readyz after a SIGTERM, polled until it stops answering 200 (the signal lands whenever the
   * process gets to it, later on a loaded machine): draining must show as 503 while the listener
   * is still open (drain_ms 600), never go straight to a refused connection (-1).
   */
  async function firstNotReady(url: string, boundMs = 3000): Promise<number> {
    const started = Date.now();
    for (;;) {
      const status = await readyz(url).catch(() => -1);
      if (status !== 200 || Date.now() - started > boundMs) return status;
      await sleep(20);
    }
  }

  async function instance(name: string): Promise<BrokerProcess> {
    const port = await freePort();
    const broker = await spawnBroker(dir, name, brokerConfig(balancer.url, idp.issuer, redis.url, port, 600));
    processes.push(broker);
    return broker;
  }

  async function pair(): Promise<BrokerProcess[]> {
    const brokers = [await instance(`a${processes.length}`), await instance(`b${processes.length}`)];
    balancer.backends.splice(0, balancer.backends.length, ...brokers.map((b) => b.url));
    balancer.served.splice(0, balancer.served.length, 0, 0);
    return brokers;
  }

  it('an instance SIGKILLed mid-login: the browser retries on the other instance and signs in', async () => {
    const [a] = await pair();
    const tally = new Tally();
    const deadline = Date.now() + 20_000;
    // Three logins in flight; the kill lands while their callbacks wait on the upstream.
    const logins = Array.from({ length: 3 }, (_, i) =>
      browserLogin(balancer.url, idp.issuer, tally, deadline, `k${i}`),
    );
    await sleep(250);
    a!.child.kill('SIGKILL');
    const done = await Promise.all(logins);
    tally.summary('instance SIGKILLed mid-login');
    expect(done).toEqual([true, true, true]);
    expect(tally.other5xx).toBe(0);
  }, 60_000);

  it('rolling restart with SIGTERM: /readyz 503 once draining starts, nothing that arrived before fails', async () => {
    let current = await pair();
    const tally = new Tally();
    let stopAt = Number.POSITIVE_INFINITY;
    const browsers = Array.from({ length: 3 }, async (_, i) => {
      while (Date.now() < stopAt)
        await browserLogin(balancer.url, idp.issuer, tally, Math.min(stopAt, Date.now() + 30_000), `r${i}`);
    });
    const readyWhileDraining: number[] = [];
    for (let round = 0; round < 2; round++) {
      await sleep(700);
      const old = current[round]!;
      expect(await readyz(old.url)).toBe(200);
      old.child.kill('SIGTERM');
      readyWhileDraining.push(await firstNotReady(old.url));
      expect(await old.exited).toBe(0);
      const fresh = await instance(`n${round}`);
      balancer.backends[round] = fresh.url;
      current = round === 0 ? [fresh, current[1]!] : [current[0]!, fresh];
    }
    await sleep(700);
    stopAt = Date.now();
    await Promise.all(browsers);
    tally.summary('rolling restart with SIGTERM', { '/readyz while draining': readyWhileDraining.join(' ') });
    expect(readyWhileDraining).toEqual([503, 503]);
    expect(tally.other5xx).toBe(0);
    expect(tally.gateway).toBe(0);
    expect(tally.unavailable).toBe(0);
    expect(tally.logins).toBeGreaterThan(3);
  }, 90_000);
});
