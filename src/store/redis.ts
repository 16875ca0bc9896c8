import { Redis, ReplyError } from 'ioredis';
import { StoreUnavailable } from './errors.js';
import { StoreStats } from './stats.js';
import {
  checkBatchIf,
  checkKey,
  checkOp,
  checkTtl,
  type BatchIfResult,
  type BatchResult,
  type Store,
  type StoreCondition,
  type StoreOp,
  type StoreWriteOp,
} from './store.js';

export interface RedisStoreOptions {
  url: string;
  prefix?: string;
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

// Compare-and-set (ARGV: expected absent?, expected, delete?, value); 1 when it wrote.
const COMPARE_AND_SET = `local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[4]) end
return 1`;

type CasArgs = [key: string, expectedAbsent: string, expected: string, remove: string, value: string];
type ScriptedRedis = Redis & {
  lbIncr(key: string, ttlMs: number): Promise<number>;
  lbBatchIf(numberOfKeys: number, ...keysThenArgs: (string | number)[]): Promise<[number, ...(string | null)[]]>;
  lbCas(...args: CasArgs): Promise<number>;
};

function casArgs(key: string, expected: string | null, value: string | null): CasArgs {
  return [key, expected === null ? '1' : '0', expected ?? '', value === null ? '1' : '0', value ?? ''];
}

/**
 * The production store. Commands fail fast while Redis is down (no offline queue), so a
 * request gets a 503 at once instead of hanging; ioredis keeps reconnecting with backoff.
 */
export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  #redis: ScriptedRedis;
  #closing = false;
  readonly stats = new StoreStats();

  constructor(options: RedisStoreOptions) {
    const log = options.log;
    let failures = 0;
    const redis = new Redis(options.url, {
      keyPrefix: options.prefix ?? '',
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
      lazyConnect: false,
    });
    redis.defineCommand('lbIncr', { numberOfKeys: 1, lua: INCR_WITH_TTL });
    // No numberOfKeys: each call passes its own count first.
    redis.defineCommand('lbBatchIf', { lua: BATCH_IF });
    redis.defineCommand('lbCas', { numberOfKeys: 1, lua: COMPARE_AND_SET });
    // Without an error listener an unreachable Redis would crash the process.
    redis.on('error', (err: Error) => {
      failures++;
      // Log the first failure and then every tenth, so an outage does not flood the log.
      if (failures === 1 || failures % 10 === 0) log?.warn(`redis: ${err.message} (retrying with backoff)`);
    });
    redis.on('ready', () => {
      if (failures > 0) log?.info(`redis: connected again after ${failures} failed attempts`);
      else log?.info('redis: connected');
      failures = 0;
    });
    this.#redis = redis as ScriptedRedis;
  }

  get roundTrips(): number {
    return this.stats.roundTrips;
  }

  /**
   * The ioredis client itself, for the rate limiters (rate-limiter-flexible's RateLimiterRedis),
   * which run their own scripts. Its key prefix is the store's.
   */
  get client(): Redis {
    return this.#redis;
  }

  isUp(): boolean {
    return !this.#closing && this.#redis.status === 'ready';
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
      if (err instanceof ReplyError) {
        this.stats.refused++;
        throw new TypeError(`redis refused the command: ${(err as Error).message}`);
      }
      this.stats.unavailable++;
      throw new StoreUnavailable(err instanceof Error ? err.message : String(err), { cause: err });
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
      const reply =
        ttl === undefined
          ? await this.#redis.set(key, value, 'NX')
          : await this.#redis.set(key, value, 'PX', toMs(ttl), 'NX');
      return reply === 'OK';
    });
  }

  async get(key: string): Promise<string | null> {
    checkKey(key);
    return this.#run(() => this.#redis.get(key));
  }

  async getMany(keys: string[]): Promise<(string | null)[]> {
    keys.forEach(checkKey);
    if (keys.length === 0) return Promise.resolve([]);
    return this.#run(() => this.#redis.mget(keys), keys.length);
  }

  async take(key: string): Promise<string | null> {
    checkKey(key);
    return this.#run(() => this.#redis.getdel(key));
  }

  async del(...keys: string[]): Promise<number> {
    keys.forEach(checkKey);
    if (keys.length === 0) return Promise.resolve(0);
    return this.#run(() => this.#redis.del(...keys), keys.length);
  }

  async compareAndSet(key: string, expected: string | null, value: string | null): Promise<boolean> {
    checkKey(key);
    return this.#run(async () => (await this.#redis.lbCas(...casArgs(key, expected, value))) === 1);
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
    ops.forEach(checkOp);
    if (ops.length === 0) return [];
    return this.#run(async () => {
      const multi = this.#redis.multi();
      // How many replies each op produces, to map the replies back to one result per op.
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
            (multi as unknown as Pick<ScriptedRedis, 'lbCas'>).lbCas(...casArgs(op.key, op.expected, op.value));
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
      const results = await multi.exec();
      if (results === null) throw new Error('transaction aborted');
      const failed = results.find(([err]) => err);
      if (failed?.[0]) throw failed[0];
      let at = 0;
      return ops.map((op, i) => {
        const reply = results[at]?.[1];
        at += replies[i]!;
        if (op.op === 'get' || op.op === 'take') return (reply as string | null) ?? null;
        if (op.op === 'putIfAbsent') return reply === 'OK';
        if (op.op === 'compareAndSet') return reply === 1;
        return undefined;
      });
    }, ops.length);
  }

  async batchIf(conditions: StoreCondition[], ops: StoreWriteOp[]): Promise<BatchIfResult> {
    checkBatchIf(conditions, ops);
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
      const [applied, ...current] = await this.#redis.lbBatchIf(keys.length, ...keys, ...args);
      return { applied: applied === 1, current: current.map((value) => value ?? null) };
    }, conditions.length + ops.length);
  }

  async ping(): Promise<void> {
    return this.#run(async () => {
      await this.#redis.ping();
    });
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      if (this.#redis.status === 'ready') await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }
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
