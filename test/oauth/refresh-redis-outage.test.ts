import { describe, expect, it } from 'vitest';
import { redisServerAvailable, waitUntilReady } from '../support/redis-server.js';
import type { RedisStore } from '../../src/store/index.js';
import { recordKeys } from '../../src/oauth/record-keys.js';
import { sleep, useRefreshHarness, type RefreshHarness, type Tokens } from '../support/refresh-harness.js';

const available = redisServerAvailable();

function signal(h: RefreshHarness, name: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void {
  const pid = h.redis?.pid;
  if (!pid) throw new Error('redis-server is not running');
  process.kill(pid, name);
}

/** The broker's own store, behind the harness's hook: a RedisStore. */
async function storeAnswers(h: RefreshHarness): Promise<void> {
  await waitUntilReady(h.app.store as RedisStore);
}

async function expectPair(res: Response): Promise<Tokens> {
  const body = (await res.json()) as Tokens & { error?: string };
  expect({ status: res.status, error: body.error }).toEqual({ status: 200, error: undefined });
  return body;
}

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(((await res.json()) as { error: string }).error).toBe('temporarily_unavailable');
}

describe.runIf(available)('a Redis stall during a refresh (issue 19.2)', () => {
  const h = useRefreshHarness('redis', {}, { commandTimeoutMs: 1000 });

  it('Redis stopped for 5 s while the rotation is sent: 503, then the retry gets a working pair', async () => {
    const t0 = await h().login();
    let resumed!: Promise<void>;
    void h().hook.arm(() => {
      signal(h(), 'SIGSTOP');
      resumed = sleep(5000).then(() => signal(h(), 'SIGCONT'));
    });
    await expectUnavailable(await h().refresh(t0.refresh_token));
    await resumed;
    await storeAnswers(h());
    const t1 = await expectPair(await h().refresh(t0.refresh_token));
    const t2 = await expectPair(await h().refresh(t1.refresh_token));
    expect(await h().active(t2.refresh_token)).toBe(true);
    // The grant holds exactly one live token: the lost successor was retired.
    const grant = t0.refresh_token.split('.')[0]!;
    const hash = h().key(t2.refresh_token).split(':').pop();
    expect(await h().app.store.smembers(recordKeys.grantTokens(grant))).toEqual([hash]);
  });

  it('clients refreshing through a 5 s stall, retrying on 503, keep their grant', { timeout: 30_000 }, async () => {
    const clients = await Promise.all(['una', 'vik', 'wes'].map((name) => h().login(name)));
    const outcomes: string[] = [];
    const started = Date.now();
    const stall = sleep(800).then(async () => {
      signal(h(), 'SIGSTOP');
      await sleep(5000);
      signal(h(), 'SIGCONT');
    });
    const runs = clients.map(async (tokens) => {
      let current = tokens.refresh_token;
      while (Date.now() - started < 8000) {
        const res = await h()
          .refresh(current)
          .catch(() => undefined);
        const body = res ? ((await res.json()) as Tokens & { error?: string }) : undefined;
        outcomes.push(res ? `${res.status} ${body?.error ?? ''}`.trim() : 'network');
        if (res?.status === 200) current = body!.refresh_token;
        else await sleep(200);
      }
      return current;
    });
    const finals = await Promise.all(runs);
    await stall;
    await storeAnswers(h());
    expect(outcomes).toContain('503 temporarily_unavailable');
    expect(outcomes.filter((o) => o !== '200' && o !== '503 temporarily_unavailable')).toEqual([]);
    for (const token of finals) await expectPair(await h().refresh(token));
  });
});

describe.runIf(available)('a Redis killed during a refresh (issue 19.2)', () => {
  const h = useRefreshHarness('redis', {}, { commandTimeoutMs: 1000, redis: { persistent: true } });

  it('killed before the rotation ran: 503, and after the restart the same token refreshes', async () => {
    const t0 = await h().login();
    void h().hook.arm(() => {
      signal(h(), 'SIGSTOP');
      // The rotation is sent to the stopped server, which dies without reading it.
      setTimeout(() => signal(h(), 'SIGKILL'), 100);
    });
    await expectUnavailable(await h().refresh(t0.refresh_token));
    await h().redis!.restart();
    await storeAnswers(h());
    const t1 = await expectPair(await h().refresh(t0.refresh_token));
    await expectPair(await h().refresh(t1.refresh_token));
  });

  it('killed after the rotation ran but before its answer was used: the retry gets a working pair', async () => {
    const t0 = await h().login();
    void h().hook.arm(() => signal(h(), 'SIGSTOP'));
    // The command times out with the rotation still queued in the stopped server.
    await expectUnavailable(await h().refresh(t0.refresh_token));
    signal(h(), 'SIGCONT');
    // The broker's connection is first in, first out: once it answers, the queued rotation ran
    // (and the append-only file has it). Then the server dies.
    await storeAnswers(h());
    await h().redis!.pause();
    await h().redis!.restart();
    await storeAnswers(h());
    expect(await h().app.store.get(h().key(t0.refresh_token))).toBeNull();
    const t1 = await expectPair(await h().refresh(t0.refresh_token));
    await expectPair(await h().refresh(t1.refresh_token));
  });
});
