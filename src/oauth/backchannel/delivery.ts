import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { BackchannelLogoutConfig } from '../../config/tokens.js';
import { nowMs } from '../../lib/clock.js';
import type { Store, StoreOp } from '../../store/index.js';
import type { ClientRegistry } from '../clients.js';
import type { Jwt } from '../jwt.js';
import { logoutToken } from './logout-token.js';
import { sessionClients, sessionClientsKey } from './session-clients.js';
import { subjectFor } from '../subjects.js';

/** Every delivery key shares one hash tag: a job, its lease and the due-list change atomically. */
const TAG = '{bcl}';
const keys = {
  due: `bcl:${TAG}:due`,
  job: (id: string) => `bcl:${TAG}:job:${id}`,
  lease: (id: string) => `bcl:${TAG}:lease:${id}`,
};
/** A delivery not finished within this is dropped by the store, whatever happened. */
const JOB_TTL_S = 3600;
/** At most this many due deliveries are picked up per scan. */
const SCAN_BATCH = 50;

/** One pending delivery: the facts of the token, never a token (a fresh one is signed per try). */
interface Job {
  clientId: string;
  sid: string;
  sub: string;
  attempts: number;
  dueAt: number;
}

export type Fetch = typeof globalThis.fetch;

function parseJob(text: string | null): Job | undefined {
  if (!text) return undefined;
  try {
    const job = JSON.parse(text) as Job;
    return typeof job.clientId === 'string' && typeof job.attempts === 'number' ? job : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Back-Channel Logout 1.0 delivery. When a session ends, a job per client that received tokens
 * in it (and registered a `backchannel_logout_uri`) is recorded in the store with the due-list,
 * then tried at once without holding up the user's logout. A try takes a short lease, so two
 * instances never send the same job at once; a failure (network, timeout, 5xx, 429) is retried
 * after `retry_base_ms`, 4 times longer each time, up to `attempts` tries; each instance scans
 * the due-list every `scan_interval_ms`, so a job whose instance died is finished by another.
 * Outcomes are logged with the client and the attempt, never a token.
 */
export class BackchannelLogout {
  readonly #timers = new Set<NodeJS.Timeout>();
  #scanner: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly deps: {
      store: Store;
      jwt: Jwt;
      clients: ClientRegistry;
      log: Logger;
      config: BackchannelLogoutConfig;
      fetch?: Fetch;
    },
  ) {}

  /** Records the deliveries of an ended session and starts them; resolves once they are recorded. */
  async sessionEnded(sid: string, sub: string): Promise<number> {
    const ids = await recordLogoutDeliveries(this.deps.store, this.deps.clients, sid, sub);
    for (const id of ids) this.#later(id, 0);
    return ids.length;
  }

  /** Starts the periodic scan of the due-list (deliveries of any instance). */
  start(): void {
    if (this.#scanner || this.#stopped) return;
    this.#scanner = setInterval(() => void this.scan(), this.deps.config.scan_interval_ms);
    this.#scanner.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#scanner) clearInterval(this.#scanner);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  /** One pass over the due-list: tries up to SCAN_BATCH deliveries that are due. */
  async scan(): Promise<void> {
    try {
      const ids = (await this.deps.store.smembers(keys.due)).slice(0, SCAN_BATCH);
      await Promise.all(ids.map((id) => this.attempt(id)));
    } catch (err) {
      this.deps.log.warn({ err: { message: (err as Error).message } }, 'back-channel logout scan failed');
    }
  }

  #later(id: string, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      void this.attempt(id, true);
    }, delayMs);
    timer.unref();
    this.#timers.add(timer);
  }

  /**
   * Tries one delivery if it is due and no instance is on it; never throws. `timed`: this
   * instance's own timer for it, which tries again at the due time if it fired before it.
   */
  async attempt(id: string, timed = false): Promise<void> {
    const { store, config, log } = this.deps;
    try {
      const leaseS = Math.ceil(config.timeout_ms / 1000) + 5;
      if (!(await store.putIfAbsent(keys.lease(id), '1', leaseS))) return;
      const job = parseJob(await store.get(keys.job(id)));
      if (!job || job.dueAt > nowMs()) {
        const ops: StoreOp[] = [{ op: 'del', key: keys.lease(id) }];
        if (!job) ops.push({ op: 'srem', key: keys.due, members: [id] });
        await store.batch(ops);
        // A timer may fire a little before its time by the clock (the event loop's clock is read
        // once per turn); left alone, the retry would wait for the next scan (scan_interval_ms).
        if (job && timed) this.#later(id, Math.max(1, job.dueAt - nowMs()));
        return;
      }
      const outcome = await this.#send(job);
      const attempt = job.attempts + 1;
      const entry = { client: job.clientId, attempt, outcome: outcome.text };
      const done = outcome.final || attempt >= config.attempts;
      if (done) {
        await store.batch([
          { op: 'del', key: keys.job(id) },
          { op: 'srem', key: keys.due, members: [id] },
          { op: 'del', key: keys.lease(id) },
        ]);
        if (outcome.ok) log.info(entry, 'back-channel logout delivered');
        else log.warn(entry, 'back-channel logout not delivered: given up');
        return;
      }
      const wait = config.retry_base_ms * 4 ** (attempt - 1);
      const next: Job = { ...job, attempts: attempt, dueAt: nowMs() + wait };
      await store.batch([
        { op: 'put', key: keys.job(id), value: JSON.stringify(next), ttl: JOB_TTL_S },
        { op: 'del', key: keys.lease(id) },
      ]);
      log.info({ ...entry, retry_in_ms: wait }, 'back-channel logout failed: will retry');
      this.#later(id, wait);
    } catch (err) {
      log.warn({ err: { message: (err as Error).message } }, 'back-channel logout attempt failed');
    }
  }

  /** One POST of a fresh logout token (§2.5); `final` when retrying cannot help. */
  async #send(job: Job): Promise<{ ok: boolean; final: boolean; text: string }> {
    const client = await this.deps.clients.find(job.clientId);
    const uri = client?.backchannel_logout_uri;
    if (!uri) return { ok: false, final: true, text: 'client no longer has a backchannel_logout_uri' };
    // The client's own `sub` for the user: pairwise clients never see the user id (OIDC Core §8.1).
    const token = await logoutToken(this.deps.jwt, { ...job, sub: subjectFor(client, job.sub) });
    try {
      const res = await (this.deps.fetch ?? fetch)(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'cache-control': 'no-store' },
        body: new URLSearchParams({ logout_token: token }).toString(),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.deps.config.timeout_ms),
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.ok) return { ok: true, final: true, text: `HTTP ${res.status}` };
      const retry = res.status >= 500 || res.status === 429;
      return { ok: false, final: !retry, text: `HTTP ${res.status}` };
    } catch (err) {
      const name = (err as Error).name;
      return { ok: false, final: false, text: name === 'TimeoutError' ? 'timeout' : 'network error' };
    }
  }
}

/**
 * Records the deliveries of an ended session (a job per client told of it, on the due-list) and
 * returns their ids. Any process may record them: every broker instance's scan sends them.
 */
export async function recordLogoutDeliveries(
  store: Store,
  clients: Pick<ClientRegistry, 'all' | 'find' | 'hasStore'>,
  sid: string,
  sub: string,
): Promise<string[]> {
  // No round trip at logout when no client can have a back-channel URI; with store clients any
  // may have one, so the session's list is read (one round trip, logout only).
  if (!clients.hasStore && !clients.all().some((c) => c.backchannel_logout_uri)) return [];
  const recorded = await sessionClients(store, sid);
  if (recorded.length === 0) return [];
  const found = await Promise.all(recorded.map((id) => clients.find(id)));
  const targets = recorded.filter((_id, i) => found[i]?.backchannel_logout_uri);
  const forget: StoreOp[] = [{ op: 'del', key: sessionClientsKey(sid) }];
  if (targets.length === 0) {
    await store.batch(forget);
    return [];
  }
  const now = nowMs();
  const jobs = targets.map((clientId) => ({
    id: randomUUID(),
    job: { clientId, sid, sub, attempts: 0, dueAt: now },
  }));
  const record: StoreOp[] = [
    ...jobs.map(
      ({ id, job }): StoreOp => ({ op: 'put', key: keys.job(id), value: JSON.stringify(job), ttl: JOB_TTL_S }),
    ),
    { op: 'sadd', key: keys.due, members: jobs.map((j) => j.id), ttl: JOB_TTL_S },
  ];
  await store.batches([forget, record]);
  return jobs.map((j) => j.id);
}
