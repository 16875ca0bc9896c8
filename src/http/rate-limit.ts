import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import { BrokerError } from './broker-error.js';

/** A fixed-window counter in the store (src/store/rate-window.ts has this shape). */
export interface WindowCounter {
  consume(
    key: string,
    points?: number,
    options?: { held?: boolean },
  ): Promise<{ allowed: boolean; consumed: number; msBeforeNext: number }>;
  /** Sends the key's counts that were `held` and still wait (src/store/rate-window.ts). */
  flush?(key: string): void;
}

interface LimitLog {
  warn(obj: object, msg: string): void;
}

/**
 * Over a limit: 429 with Retry-After (RFC 6585 §4). The code is RFC 6749's
 * temporarily_unavailable (§4.1.2.1: "temporary overloading"); the status and Retry-After say
 * why and for how long. Rendered by the error handler like any error: a JSON error on API
 * routes, the error page on browser routes (the route's kind decides).
 */
export class RateLimited extends BrokerError {
  override readonly name = 'RateLimited';
  override readonly headers: Record<string, string>;

  constructor(
    readonly limit: string,
    readonly retryAfterS: number,
  ) {
    super('temporarily_unavailable', `too many requests; try again in ${retryAfterS} s`, 429);
    this.headers = { 'Retry-After': String(retryAfterS) };
  }
}

/** Addresses and client ids never appear in store keys (as with the password lockout). */
const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);

const SWEEP_AT = 10_000;

/**
 * One configured limit, shared by every process through the store. A key found over the limit
 * is remembered in this process until its window ends, so a flood costs the store nothing more
 * and the refusal is logged once per window. With `lease` > 1 a process takes that many points
 * in one store call and spends them locally (for generous limits on busy paths: one round trip
 * per `lease` requests, at the price of refusing up to `lease` − 1 requests early near the end
 * of a window). When the store does not answer, requests pass: the store's own 503 follows.
 */
export class Limit {
  readonly #blocked = new Map<string, number>();
  readonly #leases = new Map<string, { left: number; until: number }>();
  #storeFailing = false;

  constructor(
    readonly name: string,
    private readonly counter: WindowCounter,
    private readonly options: { log: LimitLog; limited(limit: string): void; lease?: number },
  ) {}

  /** Seconds this key must still wait, from this process's memory alone (no round trip); 0 if none. */
  blockedFor(key: string): number {
    // Nothing blocked in this process (the usual case): no key to hash.
    if (this.#blocked.size === 0) return 0;
    return this.#blockedFor(digest(key), Date.now());
  }

  #blockedFor(hashed: string, now: number): number {
    const until = this.#blocked.get(hashed);
    if (until === undefined) return 0;
    if (until > now) return Math.max(1, Math.ceil((until - now) / 1000));
    this.#blocked.delete(hashed);
    return 0;
  }

  /** Refuses with RateLimited when the key is known to be over the limit, without a round trip. */
  check(key: string): void {
    const wait = this.blockedFor(key);
    if (wait > 0) this.#refuse(wait);
  }

  /**
   * Counts one request for the key; throws RateLimited when it goes over the limit. With `held`,
   * the count waits for the request's next store command (call `flush` when the request ends).
   */
  async take(key: string, context: object = {}, options: { held?: boolean } = {}): Promise<void> {
    const hashed = digest(key);
    const now = Date.now();
    const wait = this.#blockedFor(hashed, now);
    if (wait > 0) this.#refuse(wait);
    const lease = this.options.lease ?? 1;
    if (lease > 1) {
      const held = this.#leases.get(hashed);
      if (held && held.until > now && held.left > 0) {
        held.left--;
        return;
      }
    }
    let count;
    try {
      count = await this.counter.consume(hashed, lease, options);
    } catch (err) {
      if (!this.#storeFailing) {
        this.#storeFailing = true;
        this.options.log.warn(
          { limit: this.name, err: { message: (err as Error).message } },
          'rate limit not checked: the store does not answer',
        );
      }
      return;
    }
    this.#storeFailing = false;
    if (count.allowed) {
      if (lease > 1) this.#remember(this.#leases, hashed, { left: lease - 1, until: now + count.msBeforeNext });
      return;
    }
    this.#remember(this.#blocked, hashed, now + count.msBeforeNext);
    const retryAfter = Math.max(1, Math.ceil(count.msBeforeNext / 1000));
    this.options.log.warn(
      { limit: this.name, ...context, retry_after_s: retryAfter },
      'rate limit reached: refusing until the window ends',
    );
    this.#refuse(retryAfter);
  }

  /** Sends the key's held counts that still wait (a request decided without a store command). */
  flush(key: string): void {
    this.counter.flush?.(digest(key));
  }

  #refuse(seconds: number): never {
    this.options.limited(this.name);
    throw new RateLimited(this.name, seconds);
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= SWEEP_AT) this.#sweep();
    map.set(key, value);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, until] of this.#blocked) if (until <= now) this.#blocked.delete(key);
    for (const [key, lease] of this.#leases) if (lease.until <= now) this.#leases.delete(key);
    // Still full of live entries (a flood of distinct keys): forget the oldest half.
    for (const map of [this.#blocked, this.#leases] as Map<string, unknown>[]) {
      if (map.size < SWEEP_AT) continue;
      let drop = map.size / 2;
      for (const key of map.keys()) {
        if (drop-- <= 0) break;
        map.delete(key);
      }
    }
  }
}

/** The per-IP limits of the browser routes. */
export interface BrowserLimits {
  authorize?: Limit;
  callback?: Limit;
  interaction?: Limit;
  account?: Limit;
}

const INTERACTION_POST = /^\/interaction\/[^/]+\/(?:login|consent)$/;

/**
 * Which browser limit a request falls under, matched like the router matches (case-insensitive,
 * one trailing slash allowed), so a spelling the router accepts cannot slip past the limit.
 */
export function browserLimitFor(
  limits: BrowserLimits,
  base: string,
  method: string,
  rawPath: string,
): Limit | undefined {
  let path = rawPath.toLowerCase();
  if (base) {
    if (!path.startsWith(base)) return undefined;
    path = path.slice(base.length);
  }
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '/authorize') return limits.authorize;
  if (path.startsWith('/callback/') || (path.startsWith('/upstream/') && path.endsWith('/login')))
    return limits.callback;
  if (method !== 'POST') return undefined;
  if (INTERACTION_POST.test(path) || path === '/device' || path.startsWith('/device/')) return limits.interaction;
  if (path.startsWith('/account/')) return limits.account;
  return undefined;
}

/**
 * Per client IP (ctx.ip: the socket's address, or X-Forwarded-For's last hop with trust_proxy)
 * on the browser routes. A key this process already knows to be over its limit is refused here,
 * without a round trip. Otherwise the count is started here and decided in
 * `browserRateLimitVerdict`, placed after the session middleware, so that on Redis it rides with
 * the session's read in one round trip (RedisStore.consumeWindow) and a refused request reaches
 * no route. A GET on a provider's callback is decided by the route itself, right after its first
 * store step (the transaction's take, which the count rides with; see `rateLimitVerdict`), and
 * at the latest when the route ends. So is an authorize or callback request of a browser
 * `without a session` (`noSession`: there is no session read to ride with): its count is held
 * for the route's first store step (the authorize's one commit, the callback's take), or sent
 * alone when the route ends without one. Refusals render as the error page (these routes are
 * pages: app.ts ROUTE_KINDS).
 */
export function browserRateLimits(
  limits: BrowserLimits,
  base: string,
  options: { noSession?: (ctx: Context) => boolean } = {},
): Middleware {
  const prefix = base.toLowerCase();
  return async (ctx, next) => {
    const limit = browserLimitFor(limits, prefix, ctx.method, ctx.path);
    if (limit) {
      limit.check(ctx.ip);
      const held = (limit === limits.authorize || limit === limits.callback) && options.noSession?.(ctx) === true;
      const verdict = limit.take(ctx.ip, { ip: ctx.ip }, { held });
      // Awaited later (browserRateLimitVerdict); a request that fails before must not leave it unhandled.
      verdict.catch(() => undefined);
      ctx.state.rateLimitVerdict = verdict;
      ctx.state.rateLimitByRoute = held || (limit === limits.callback && ctx.method === 'GET');
      if (held) ctx.state.rateLimitFlush = () => limit.flush(ctx.ip);
    }
    await next();
  };
}

/** Refuses the request when its browser rate limit (started by browserRateLimits) says so. */
export const browserRateLimitVerdict: Middleware = async (ctx, next) => {
  const verdict = ctx.state.rateLimitVerdict;
  if (!ctx.state.rateLimitByRoute) {
    await verdict;
    return next();
  }
  try {
    await next();
  } finally {
    // A held count the route never sent goes now, alone.
    ctx.state.rateLimitFlush?.();
    // A route that never asked is decided now: a refusal replaces its answer (or its error),
    // redirect included.
    await verdict?.catch((err: unknown) => {
      ctx.remove('Location');
      throw err;
    });
  }
};

/**
 * For a route the limit lets decide (a provider's callback; an authorize without a session):
 * waits for this request's count, and throws RateLimited when it is over the limit. Call it
 * right after the first store step, before anything else is done or written.
 */
export async function rateLimitVerdict(ctx: Context): Promise<void> {
  // A held count that found no command to ride with (on a cluster, with WAIT) goes now.
  ctx.state.rateLimitFlush?.();
  await ctx.state.rateLimitVerdict;
}
