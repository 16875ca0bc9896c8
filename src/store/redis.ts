import { Cluster, ReplyError } from 'ioredis';
import { StoreUnavailable } from './errors.js';
import { checkOneSlot } from './slots.js';
import { StoreStats } from './stats.js';
import { connectRedis, describeTarget, isCluster, type RedisClient, type RedisTarget } from './topology.js';
import {
  checkBatchIf,
  checkKey,
  checkSpend,
  spendKeys,
  type SpendRequest,
  type SpendResult,
  checkOp,
  checkTtl,
  type BatchIfResult,
  type BatchResult,
  type Store,
  type StoreCondition,
  type StoreOp,
  type StoreWriteOp,
  keysOf,
} from './store.js';

export interface RedisStoreOptions {
  /** Where Redis is: a URL, Sentinel or Cluster. */
  target?: RedisTarget;
  /** One Redis by URL (the same as a string target). */
  url?: string;
  prefix?: string;
  /**
   * Refuse a batch or multi-key command across cluster slots even on one Redis, as a cluster
   * would (tests turn this on; on a cluster it is always on).
   */
  refuseCrossSlot?: boolean;
  /**
   * Conditional and batched writes (batch, batches, batchIf, compareAndSet, putIfAbsent) wait
   * until this many replicas have them (Redis WAIT, in the same round trip), at most `timeoutMs`;
   * a write that fewer replicas confirm in time fails with StoreUnavailable (it may have landed).
   */
  waitReplicas?: { replicas: number; timeoutMs: number };
  /** A command that gets no answer within this time fails with StoreUnavailable. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  log?: { info(msg: string): void; warn(msg: string): void };
}

// INCR, then set the TTL only when this call created the counter: one round trip.
const INCR_WITH_TTL = `local v = redis.call('INCR', KEYS[1])
if v == 1 and tonumber(ARGV[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v`;

// DECR only an existing counter above zero (DECR alone would create one at -1 without a TTL);
// a value that is no counter still reaches DECR, which refuses it.
const DECR_EXISTING = `local v = redis.call('GET', KEYS[1])
if v and (tonumber(v) or 1) > 0 then return redis.call('DECR', KEYS[1]) end
return false`;

// Store.batchIf. KEYS: the condition keys, then one key per op. ARGV[1]: how many conditions;
// then per condition 'v' and the value, 'n' (absent) or 'e' (exists); then per op its name and
// arguments: put <value> <ttl ms, 0: none> | del | sadd <n> <members> <ttl ms> | srem <n>
// <members> | expire <ttl ms>. Replies {1 when it wrote, else 0, the condition values...}.
const BATCH_IF = `local conditions = tonumber(ARGV[1])
local at, current, holds = 2, {}, true
for i = 1, conditions do
  local value = redis.call('GET', KEYS[i])
  current[i] = value
  local kind = ARGV[at]
  if kind == 'v' then
    holds = holds and value == ARGV[at + 1]
    at = at + 2
  else
    holds = holds and ((kind == 'e') == (value ~= false))
    at = at + 1
  end
end
if not holds then return {0, unpack(current)} end
local ops, key = {}, conditions
while at <= #ARGV do
  key = key + 1
  local op = { name = ARGV[at], key = KEYS[key] }
  if op.name == 'put' then
    op.value, op.ttl = ARGV[at + 1], tonumber(ARGV[at + 2])
    at = at + 3
  elseif op.name == 'sadd' or op.name == 'srem' then
    local n = tonumber(ARGV[at + 1])
    op.members = { unpack(ARGV, at + 2, at + 1 + n) }
    at = at + 2 + n
    if op.name == 'sadd' then
      op.ttl = tonumber(ARGV[at])
      at = at + 1
    end
    -- A script is not rolled back: a wrong type must fail before the first write.
    local kind = redis.call('TYPE', op.key).ok
    if kind ~= 'set' and kind ~= 'none' then
      return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
    end
  elseif op.name == 'expire' then
    op.ttl = tonumber(ARGV[at + 1])
    at = at + 2
  else
    at = at + 1
  end
  ops[#ops + 1] = op
end
for _, op in ipairs(ops) do
  if op.name == 'put' then
    if op.ttl > 0 then redis.call('SET', op.key, op.value, 'PX', op.ttl) else redis.call('SET', op.key, op.value) end
  elseif op.name == 'del' then
    redis.call('DEL', op.key)
  elseif op.name == 'sadd' then
    if #op.members > 0 then redis.call('SADD', op.key, unpack(op.members)) end
    if op.ttl > 0 then redis.call('PEXPIRE', op.key, op.ttl) end
  elseif op.name == 'srem' then
    if #op.members > 0 then redis.call('SREM', op.key, unpack(op.members)) end
  else
    redis.call('PEXPIRE', op.key, op.ttl)
  end
end
return {1, unpack(current)}`;

// Store.spend. KEYS: the value, its marker, the blocker, then (with a companion) from, to, index.
// ARGV: marker value, marker ttl ms, then (with a companion) the extra fields as a JSON object,
// its ttl ms, the index member, the index ttl ms. Replies {value, marker before, blocked, moved}.
// The companion gets the extra fields by text: its closing brace gives way to them.
const SPEND = `if #KEYS > 3 then
  -- A script is not rolled back: a wrong type must fail before the first write.
  local kind = redis.call('TYPE', KEYS[6]).ok
  if kind ~= 'set' and kind ~= 'none' then
    return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
  end
end
local value = redis.call('GETDEL', KEYS[1])
local before = redis.call('GET', KEYS[2])
if not value then return {false, before, 0, 0} end
if not before then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
if redis.call('EXISTS', KEYS[3]) == 1 then return {value, before, 1, 0} end
if #KEYS < 4 then return {value, before, 0, 0} end
local waiting = redis.call('GET', KEYS[4])
if not waiting or string.sub(waiting, 1, 1) ~= '{' or string.sub(waiting, -1) ~= '}' then
  return {value, before, 0, 0}
end
if ARGV[3] ~= '{}' then
  if waiting == '{}' then waiting = ARGV[3] else waiting = string.sub(waiting, 1, -2) .. ',' .. string.sub(ARGV[3], 2) end
end
redis.call('DEL', KEYS[4])
redis.call('SET', KEYS[5], waiting, 'PX', ARGV[4])
redis.call('SADD', KEYS[6], ARGV[5])
redis.call('PEXPIRE', KEYS[6], ARGV[6])
return {value, before, 0, 1}`;

// Compare-and-set (ARGV: expected absent?, expected, delete?, value); 1 when it wrote.
const COMPARE_AND_SET = `local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[4]) end
return 1`;

// A rate window (the script of rate-limiter-flexible's RateLimiterRedis, which counted these windows
// before): counts ARGV[1] points, the window (ARGV[2] s) starting at its first point; {consumed, ms left}.
const RATE_WINDOW = `redis.call('SET', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local consumed = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  ttl = 1000 * ARGV[2]
end
return {consumed, ttl}`;

/** A rate window's count waiting for the next read of this turn of the event loop (or its own trip). */
interface Rider {
  key: string;
  points: number;
  windowS: number;
  /** Waits for the next command of any turn (or `flushWindows`), instead of going alone at the end of this one. */
  held: boolean;
  resolve(count: [consumed: number, msLeft: number]): void;
  reject(err: Error): void;
}

type CasArgs = [key: string, expectedAbsent: string, expected: string, remove: string, value: string];
type Scripts = {
  lbIncr(key: string, ttlMs: number): Promise<number>;
  lbBatchIf(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<[number, ...(string | null)[]]>;
  lbCas(...args: CasArgs): Promise<number>;
  lbSpend(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<SpendReply>;
};
type SpendReply = [value: string | null, marker: string | null, blocked: number, moved: number];
type WindowScript = { lbWindow(key: string, points: number, windowS: number): unknown };
type ScriptedRedis = RedisClient & Scripts;
type Multi = ReturnType<RedisClient['multi']>;

function casArgs(key: string, expected: string | null, value: string | null): CasArgs {
  return [key, expected === null ? '1' : '0', expected ?? '', value === null ? '1' : '0', value ?? ''];
}

/**
 * Replies that mean "not now" rather than "wrong command": a cluster without a master for the
 * slot, a slot moving, a demoted master during a failover, a node still loading its data.
 */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|READONLY|LOADING|MASTERDOWN|NOREPLICAS|MOVED|ASK)\b/;

/**
 * The production store, on one Redis, a Sentinel-watched master or a Redis Cluster (topology.ts).
 * Commands fail fast while Redis is down (no offline queue), so a request gets a 503 at once
 * instead of hanging; ioredis keeps reconnecting with backoff.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  #redis: ScriptedRedis;
  #prefix: string;
  #cluster: boolean;
  #refuseCrossSlot: boolean;
  #wait: { replicas: number; timeoutMs: number } | undefined;
  #closing = false;
  #riders: Rider[] = [];
  #aloneSoon = false;
  readonly stats = new StoreStats();

  constructor(options: RedisStoreOptions) {
    const log = options.log;
    let failures = 0;
    const target = options.target ?? options.url;
    if (target === undefined) throw new TypeError('RedisStore needs a target (or a url)');
    this.#prefix = options.prefix ?? '';
    this.#cluster = isCluster(target);
    this.#refuseCrossSlot = this.#cluster || (options.refuseCrossSlot ?? false);
    this.#wait = options.waitReplicas?.replicas ? options.waitReplicas : undefined;
    const redis = connectRedis(target, {
      prefix: this.#prefix,
      commandTimeoutMs: options.commandTimeoutMs ?? 2000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    });
    redis.defineCommand('lbIncr', { numberOfKeys: 1, lua: INCR_WITH_TTL });
    // No numberOfKeys: each call passes its own count first.
    redis.defineCommand('lbBatchIf', { lua: BATCH_IF });
    redis.defineCommand('lbCas', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    redis.defineCommand('lbSpend', { lua: SPEND });
    redis.defineCommand('lbWindow', { numberOfKeys: 1, lua: RATE_WINDOW });
    // Without an error listener an unreachable Redis would crash the process.
    redis.on('error', (err: Error) => {
      failures++;
      // Log the first failure and then every tenth, so an outage does not flood the log.
      if (failures === 1 || failures % 10 === 0) log?.warn(`redis: ${err.message} (retrying with backoff)`);
    });
    redis.on('ready', () => {
      if (failures > 0) log?.info(`redis: connected again after ${failures} failed attempts`);
      else log?.info(`redis: connected to ${describeTarget(target)}`);
      failures = 0;
    });
    this.#redis = redis as ScriptedRedis;
  }

  get crossSlotCommands(): boolean {
    return !this.#refuseCrossSlot;
  }

  get roundTrips(): number {
    return this.stats.roundTrips;
  }

  /**
   * The ioredis client itself (a Redis or a Cluster), for tools that run their own commands. Its
   * key prefix is the store's.
   */
  get client(): RedisClient {
    return this.#redis;
  }

  /** Whether the connection is ready (no round trip: the client's own state). */
  isUp(): boolean {
    return !this.#closing && this.#redis.status === 'ready';
  }

  /**
   * Runs what `fill` queues as one MULTI/EXEC (or `alone`, a single command, as it is); with
   * wait_replicas, a WAIT follows in the same round trip, on the same node (the keys share a slot).
   */
  async #transact(fill: (multi: Multi) => unknown, alone?: () => Promise<unknown>): Promise<Replies> {
    // Rate-window counts waiting for a command ride with this one (not on a cluster, where a
    // pipeline must stay on one node, nor with WAIT).
    if (this.#riders.length > 0 && !this.#cluster && !this.#wait) return this.#transactWithRiders(fill);
    // One command needs no transaction unless a WAIT must follow it.
    if (!this.#wait && alone) return [[null, await alone()]];
    if (!this.#wait) {
      const multi = this.#redis.multi();
      fill(multi);
      return execute(multi);
    }
    const pipeline = this.#redis.pipeline();
    (pipeline as unknown as { multi(): void }).multi();
    fill(pipeline);
    pipeline.exec();
    pipeline.wait(this.#wait.replicas, this.#wait.timeoutMs);
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('transaction aborted');
    const failed = replies.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    const exec = replies[replies.length - 2]?.[1];
    if (!Array.isArray(exec)) throw new Error('transaction aborted');
    const answers = execAnswers(exec);
    const acknowledged = Number(replies[replies.length - 1]?.[1] ?? 0);
    if (acknowledged < this.#wait.replicas) {
      throw new StoreUnavailable(
        `written on the master, but confirmed by ${acknowledged} of ${this.#wait.replicas} replicas ` +
          `within ${this.#wait.timeoutMs} ms`,
      );
    }
    return answers;
  }

  /** The waiting counts, then MULTI … EXEC, in one pipeline: one write, one round trip. */
  async #transactWithRiders(fill: (multi: Multi) => unknown): Promise<Replies> {
    const riders = this.#riders.splice(0);
    const replies = await this.#sendWindows(riders, (pipeline) => {
      (pipeline as unknown as { multi(): void }).multi();
      fill(pipeline);
      pipeline.exec();
    });
    const [err, exec] = replies[replies.length - 1] ?? [new Error('no reply'), null];
    if (err) throw err;
    if (!Array.isArray(exec)) throw new Error('transaction aborted');
    return execAnswers(exec);
  }

  #oneSlot(what: string, keys: string[]): void {
    if (this.#refuseCrossSlot) checkOneSlot(what, this.#prefix, keys);
  }

  async #run<T>(command: () => Promise<T>, commands = 1): Promise<T> {
    if (this.#closing) {
      this.stats.unavailable++;
      throw new StoreUnavailable('redis store is closed');
    }
    this.stats.roundTrips++;
    this.stats.commands += commands;
    try {
      return await command();
    } catch (err) {
      const failure = storeError(err);
      if (failure instanceof StoreUnavailable) this.stats.unavailable++;
      else this.stats.refused++;
      throw failure;
    }
  }

  async put(key: string, value: string, ttl?: number): Promise<void> {
    checkKey(key);
    checkTtl(ttl);
    return this.#run(async () => {
      if (ttl === undefined) await this.#redis.set(key, value);
      else await this.#redis.set(key, value, 'PX', toMs(ttl));
    });
  }

  async putIfAbsent(key: string, value: string, ttl?: number): Promise<boolean> {
    checkKey(key);
    checkTtl(ttl);
    return this.#run(async () => {
      const [[, reply] = [null, null]] = await this.#transact(
        (multi) => {
          if (ttl === undefined) multi.set(key, value, 'NX');
          else multi.set(key, value, 'PX', toMs(ttl), 'NX');
        },
        () =>
          ttl === undefined ? this.#redis.set(key, value, 'NX') : this.#redis.set(key, value, 'PX', toMs(ttl), 'NX'),
      );
      return reply === 'OK';
    });
  }

  async get(key: string): Promise<string | null> {
    checkKey(key);
    return this.#withRiders(
      (pipeline) => pipeline.get(key),
      () => this.#redis.get(key),
    );
  }

  /** One command, with the rate-window counts waiting in this turn (consumeWindow) when there are. */
  #withRiders<T>(queue: (pipeline: Multi) => unknown, alone: () => Promise<T>, commands = 1): Promise<T> {
    // On a cluster a pipeline must stay on one node: counts waiting there go on their own.
    if (this.#riders.length === 0 || this.#cluster) return this.#run(alone, commands);
    return this.#run(async () => {
      // Taken only once the command is sent: a store refusing first leaves them to go alone.
      const riders = this.#riders.splice(0);
      const replies = await this.#sendWindows(riders, queue);
      const [err, value] = replies[riders.length] ?? [new Error('no reply'), null];
      if (err) throw err;
      return value as T;
    }, commands);
  }

  /**
   * Counts `points` in the rate window at `key` (it starts with its first point and lasts
   * `windowS`); resolves to [points consumed in this window, ms until it ends]. The count is sent
   * with the next `get`, `getMany`, `take` or transaction made in the same turn of the event loop,
   * in one write and one round trip (the session read, or the callback's take, that follows a
   * browser route's rate limit: src/http/rate-limit.ts), or else on its own at the end of the
   * turn, counted as a limiter round trip. A `held` count waits for the next such command however
   * late (or `flushWindows`). Refuses at once while Redis is not ready.
   */
  consumeWindow(
    key: string,
    points: number,
    windowS: number,
    options: { held?: boolean } = {},
  ): Promise<[consumed: number, msLeft: number]> {
    checkKey(key);
    if (!this.isUp()) return Promise.reject(new StoreUnavailable('redis is not ready'));
    // On a cluster (or with WAIT) nothing rides with a transaction: a held count would only wait.
    const held = options.held === true && !this.#cluster && !this.#wait;
    return new Promise((resolve, reject) => {
      this.#riders.push({ key, points, windowS, held, resolve, reject });
      if (!held && !this.#aloneSoon) {
        this.#aloneSoon = true;
        setImmediate(() => this.#sendRidersAlone());
      }
    });
  }

  /**
   * Sends the counts at `key` still waiting that were `held` for a later command (a request that
   * is about to be decided, or ended without one), on their own, counted as limiter round trips.
   */
  flushWindows(key: string): void {
    this.#sendRidersAlone(key);
  }

  /** Sends the waiting counts on their own: those not held, or (with `heldAt`) the held ones at that key. */
  #sendRidersAlone(heldAt?: string): void {
    if (heldAt === undefined) this.#aloneSoon = false;
    const riders = this.#riders.filter((r) => (heldAt === undefined ? !r.held : r.held && r.key === heldAt));
    if (riders.length === 0) return;
    this.#riders = this.#riders.filter((r) => !riders.includes(r));
    // On a cluster a pipeline must stay in one slot: there each count goes on its own.
    for (const group of this.#cluster ? riders.map((r) => [r]) : [riders]) {
      this.stats.limiterRoundTrips++;
      this.#sendWindows(group).catch(() => undefined);
    }
  }

  /** The riders' counts, then what `more` adds, in one pipeline; settles every rider. */
  async #sendWindows(riders: Rider[], more?: (pipeline: Multi) => void): Promise<Replies> {
    const pipeline = this.#redis.pipeline();
    for (const r of riders) (pipeline as unknown as WindowScript).lbWindow(r.key, r.points, r.windowS);
    more?.(pipeline);
    let replies: Replies;
    try {
      replies = ((await pipeline.exec()) ?? []) as Replies;
    } catch (err) {
      const failure = storeError(err);
      for (const r of riders) r.reject(failure);
      throw failure;
    }
    riders.forEach((r, i) => {
      const [err, reply] = replies[i] ?? [new Error('no reply'), null];
      if (err) r.reject(storeError(err));
      else {
        const [consumed, msLeft] = reply as [number, number];
        r.resolve([Number(consumed), Number(msLeft)]);
      }
    });
    return replies;
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    keys.forEach(checkKey);
    this.#oneSlot('getMany', keys);
    if (keys.length === 0) return Promise.resolve([]);
    return this.#withRiders(
      (pipeline) => pipeline.mget(keys),
      () => this.#redis.mget(keys),
      keys.length,
    );
  }

  async take(key: string): Promise<string | null> {
    checkKey(key);
    return this.#withRiders(
      (pipeline) => pipeline.getdel(key),
      () => this.#redis.getdel(key),
    );
  }

  async del(...keys: string[]): Promise<number> {
    keys.forEach(checkKey);
    this.#oneSlot('del', keys);
    if (keys.length === 0) return Promise.resolve(0);
    return this.#run(() => this.#redis.del(...keys), keys.length);
  }

  async compareAndSet(key: string, expected: string | null, value: string | null): Promise<boolean> {
    checkKey(key);
    return this.#run(async () => {
      const [[, reply] = [null, null]] = await this.#transact(
        (multi) => (multi as unknown as Pick<Scripts, 'lbCas'>).lbCas(...casArgs(key, expected, value)),
        () => this.#redis.lbCas(...casArgs(key, expected, value)),
      );
      return reply === 1;
    });
  }

  async sadd(key: string, members: string[], ttl?: number): Promise<void> {
    await this.batch([{ op: 'sadd', key, members, ttl }]);
  }

  async srem(key: string, members: string[]): Promise<void> {
    await this.batch([{ op: 'srem', key, members }]);
  }

  async smembers(key: string): Promise<string[]> {
    checkKey(key);
    return this.#run(() => this.#redis.smembers(key));
  }

  async incr(key: string, ttl?: number): Promise<number> {
    checkKey(key);
    checkTtl(ttl);
    return this.#run(() => this.#redis.lbIncr(key, ttl === undefined ? 0 : toMs(ttl)));
  }

  async ttl(key: string): Promise<number | null> {
    checkKey(key);
    return this.#run(async () => {
      const ms = await this.#redis.pttl(key);
      return ms < 0 ? null : ms / 1000;
    });
  }

  async batch(ops: StoreOp[]): Promise<BatchResult[]> {
    this.#checkBatch(ops);
    if (ops.length === 0) return [];
    return this.#run(async () => {
      let replies: number[] = [];
      const answers = await this.#transact((multi) => (replies = queue(multi, ops)));
      return results(ops, replies, answers);
    }, ops.length);
  }

  async batches(groups: StoreOp[][]): Promise<BatchResult[][]> {
    for (const ops of groups) this.#checkBatch(ops);
    const sent = groups.filter((ops) => ops.length > 0);
    if (sent.length === 0) return groups.map(() => []);
    return this.#run(
      async () => {
        let answers: BatchResult[][];
        if (this.#cluster) {
          // One transaction per group, all sent at once: each to the node of its slot.
          answers = await Promise.all(
            sent.map(async (ops) => {
              let replies: number[] = [];
              const answers = await this.#transact((multi) => (replies = queue(multi, ops)));
              return results(ops, replies, answers);
            }),
          );
        } else {
          // One node holds every slot: one transaction for all groups, stronger than asked for.
          let replies: number[][] = [];
          const all = await this.#transact((multi) => (replies = sent.map((ops) => queue(multi, ops))));
          let at = 0;
          answers = sent.map((ops, i) => {
            const count = replies[i]!.reduce((a, b) => a + b, 0);
            const mine = all.slice(at, at + count);
            at += count;
            return results(ops, replies[i]!, mine);
          });
        }
        let next = 0;
        return groups.map((ops) => (ops.length === 0 ? [] : answers[next++]!));
      },
      sent.reduce((n, ops) => n + ops.length, 0),
    );
  }

  #checkBatch(ops: StoreOp[]): void {
    ops.forEach(checkOp);
    this.#oneSlot('a batch', keysOf(ops));
  }

  async batchIf(conditions: StoreCondition[], ops: StoreWriteOp[]): Promise<BatchIfResult> {
    checkBatchIf(conditions, ops);
    this.#oneSlot('batchIf', [...keysOf(conditions), ...keysOf(ops)]);
    const keys = conditions.map((condition) => condition.key);
    const args: (string | number)[] = [conditions.length];
    for (const condition of conditions) {
      if ('exists' in condition) args.push('e');
      else if (condition.value === null) args.push('n');
      else args.push('v', condition.value);
    }
    for (const op of ops) {
      keys.push(op.key);
      args.push(...scriptArgs(op));
    }
    return this.#run(async () => {
      const [[, reply] = [null, null]] = await this.#transact(
        (multi) => (multi as unknown as Pick<Scripts, 'lbBatchIf'>).lbBatchIf(keys.length, ...keys, ...args),
        () => this.#redis.lbBatchIf(keys.length, ...keys, ...args),
      );
      const [applied, ...current] = reply as [number, ...(string | null)[]];
      return { applied: applied === 1, current: current.map((value) => value ?? null) };
    }, conditions.length + ops.length);
  }

  async spend(request: SpendRequest): Promise<SpendResult> {
    checkSpend(request);
    this.#oneSlot('spend', spendKeys(request));
    const { key, marker, blocker, companion } = request;
    const keys = [key, marker.key, blocker];
    const args: (string | number)[] = [marker.value, toMs(marker.ttl)];
    if (companion) {
      keys.push(companion.from, companion.to, companion.index);
      args.push(JSON.stringify(companion.extra), toMs(companion.ttl), companion.member, toMs(companion.indexTtl));
    }
    return this.#run(async () => {
      const [[, reply] = [null, null]] = await this.#transact(
        (multi) => (multi as unknown as Pick<Scripts, 'lbSpend'>).lbSpend(keys.length, ...keys, ...args),
        () => this.#redis.lbSpend(keys.length, ...keys, ...args),
      );
      const [value, before, blocked, moved] = reply as SpendReply;
      return { value: value ?? null, marker: before ?? null, blocked: blocked === 1, moved: moved === 1 };
    }, keys.length);
  }

  /** On a cluster, every master must answer: a slot without a master is an outage. */
  async ping(): Promise<void> {
    return this.#run(async () => {
      if (this.#redis instanceof Cluster) {
        // Commands are refused until the client holds the slot map, whatever the nodes answer.
        if (this.#redis.status !== 'ready') throw new Error(`cluster client is ${this.#redis.status}`);
        const masters = this.#redis.nodes('master');
        if (masters.length === 0) throw new Error('no cluster master known yet');
        await Promise.all(masters.map((node) => node.ping()));
      } else {
        await this.#redis.ping();
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Held counts still waiting for a command get none now: refused, never left waiting (the
    // others go alone at the end of this turn, and are refused there).
    const held = this.#riders.filter((r) => r.held);
    this.#riders = this.#riders.filter((r) => !r.held);
    for (const r of held) r.reject(new StoreUnavailable('redis store is closed'));
    try {
      if (this.#redis.status === 'ready') await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }
}

/** Queues the ops on a transaction; returns how many replies each produces. */
function queue(multi: Multi, ops: StoreOp[]): number[] {
  const replies: number[] = [];
  for (const op of ops) {
    switch (op.op) {
      case 'get':
        multi.get(op.key);
        replies.push(1);
        break;
      case 'take':
        multi.getdel(op.key);
        replies.push(1);
        break;
      case 'putIfAbsent':
        if (op.ttl === undefined) multi.set(op.key, op.value, 'NX');
        else multi.set(op.key, op.value, 'PX', toMs(op.ttl), 'NX');
        replies.push(1);
        break;
      case 'put':
        if (op.ttl === undefined) multi.set(op.key, op.value);
        else multi.set(op.key, op.value, 'PX', toMs(op.ttl));
        replies.push(1);
        break;
      case 'del':
        multi.del(op.key);
        replies.push(1);
        break;
      case 'compareAndSet':
        (multi as unknown as Pick<Scripts, 'lbCas'>).lbCas(...casArgs(op.key, op.expected, op.value));
        replies.push(1);
        break;
      case 'sadd':
        if (op.members.length > 0) multi.sadd(op.key, ...op.members);
        if (op.ttl !== undefined) multi.pexpire(op.key, toMs(op.ttl));
        replies.push((op.members.length > 0 ? 1 : 0) + (op.ttl !== undefined ? 1 : 0));
        break;
      case 'srem':
        if (op.members.length > 0) multi.srem(op.key, ...op.members);
        replies.push(op.members.length > 0 ? 1 : 0);
        break;
      case 'append':
        multi.append(op.key, op.value);
        if (op.ttl !== undefined) multi.pexpire(op.key, toMs(op.ttl));
        replies.push(op.ttl !== undefined ? 2 : 1);
        break;
      case 'expire':
        multi.pexpire(op.key, toMs(op.ttl));
        replies.push(1);
        break;
      case 'decr':
        multi.eval(DECR_EXISTING, 1, op.key);
        replies.push(1);
        break;
    }
  }
  return replies;
}

type Replies = [error: Error | null, result: unknown][];

/** EXEC's answers, one per queued command; the first refused one is thrown. */
function execAnswers(exec: unknown[]): Replies {
  const answers: Replies = exec.map((value: unknown) => (value instanceof Error ? [value, null] : [null, value]));
  const refused = answers.find(([err]) => err);
  if (refused?.[0]) throw refused[0];
  return answers;
}

async function execute(multi: Multi): Promise<Replies> {
  const replies = await multi.exec();
  if (replies === null) throw new Error('transaction aborted');
  const failed = replies.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
  return replies;
}

/** One result per op, from the replies of its commands. */
function results(ops: StoreOp[], counts: number[], replies: Replies): BatchResult[] {
  let at = 0;
  return ops.map((op, i) => {
    const reply = replies[at]?.[1];
    at += counts[i]!;
    if (op.op === 'get' || op.op === 'take') return (reply as string | null) ?? null;
    if (op.op === 'putIfAbsent') return reply === 'OK';
    if (op.op === 'compareAndSet') return reply === 1;
    return undefined;
  });
}

/**
 * A refused command is a programming error (TypeError); anything else means Redis is not there
 * now. A transaction Redis discarded (EXECABORT) is judged by the errors that made it discard:
 * during a cluster failover those are MOVED or CLUSTERDOWN, which mean "not now".
 */
function storeError(err: unknown): Error {
  if (err instanceof StoreUnavailable) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ReplyError && !TRANSIENT_REPLY.test(message) && !transientAbort(err as Error)) {
    return new TypeError(`redis refused the command: ${message}`);
  }
  return new StoreUnavailable(message, { cause: err });
}

function transientAbort(err: Error): boolean {
  if (!err.message.startsWith('EXECABORT')) return false;
  const causes = (err as Error & { previousErrors?: unknown[] }).previousErrors ?? [];
  return causes.length > 0 && causes.every((e) => e instanceof Error && TRANSIENT_REPLY.test(e.message));
}

/** An op's arguments for the BATCH_IF script (its key travels in KEYS). */
function scriptArgs(op: StoreWriteOp): (string | number)[] {
  const ttl = (seconds: number | undefined) => (seconds === undefined ? 0 : toMs(seconds));
  switch (op.op) {
    case 'put':
      return ['put', op.value, ttl(op.ttl)];
    case 'del':
      return ['del'];
    case 'sadd':
      return ['sadd', op.members.length, ...op.members, ttl(op.ttl)];
    case 'srem':
      return ['srem', op.members.length, ...op.members];
    case 'expire':
      return ['expire', toMs(op.ttl)];
  }
}

function toMs(ttl: number): number {
  return Math.max(1, Math.ceil(ttl * 1000));
}
