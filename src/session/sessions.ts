import { randomBytes } from 'node:crypto';
import type Koa from 'koa';
import type { Context, Middleware } from 'koa';
import session from 'koa-session';
import type { SessionConfig } from '../config/tokens.js';
import type { Store, StoreOp } from '../store/index.js';
import { batchPerSlot, getAcrossSlots } from '../store/index.js';
import type { UnitOfWork } from '../store/unit-of-work.js';
import { nowS } from '../lib/clock.js';

/** The browser's SSO session: who logged in, when, and with which provider. */
export interface SsoSession {
  uid: string;
  /** Session id for apps (the ID token's `sid`); not the cookie value. */
  sid: string;
  /** Epoch seconds of the last upstream login (OIDC Core `auth_time`). */
  auth_time: number;
  /** Epoch seconds the session began; it ends `absolute_ttl_s` later whatever happens. */
  created: number;
  /** The provider of the last login. */
  provider: string;
}

/**
 * A signed-in session's id is `<user id>.<random>`, and its record lives under the user's hash
 * tag, so the session and its user are read in one round trip (one slot on a cluster too). Ids
 * made before that (the random part alone) still work, under their old key.
 */
function idParts(id: string): { uid?: string; random: string } {
  const dot = id.lastIndexOf('.');
  return dot > 0 ? { uid: id.slice(0, dot), random: id.slice(dot + 1) } : { random: id };
}
const storeKey = (id: string) => {
  const { uid, random } = idParts(id);
  return uid ? `sess:{${uid}}:${random}` : `sess:${id}`;
};

/** Sessions being started: the user whose id the next session id carries. */
const signingIn = new WeakMap<object, string>();
/** What the session read also read: the record of the session's user (`alsoRead`). */
const alsoReadBy = new WeakMap<object, { uid: string; value: string | null }>();

/**
 * The raw record `alsoRead` read with this request's session, when it is `uid`'s: a string, or
 * null when the key was absent; undefined when nothing was read for this user.
 */
export function readWithSession(ctx: Context, uid: string): string | null | undefined {
  const read = alsoReadBy.get(ctx);
  return read?.uid === uid ? read.value : undefined;
}
/**
 * The store ids of a user's sessions, so an administrator can end them all (`users sessions
 * revoke`). The user's hash tag; written in its own batch alongside the session, in the same
 * round trip. Ended or expired sessions linger as members until the set expires with the last.
 */
const userSessionsKey = (uid: string) => `user-sessions:{${uid}}`;

/** Requests whose session writes go into their unit of work instead (only while startSession saves). */
const deferred = new WeakMap<object, UnitOfWork>();
/**
 * What a request already wrote for its session (by key): koa-session saves again at the end of
 * the request (its hash still dates from the read), and that save of the same data is skipped.
 */
const written = new WeakMap<object, { key: string; data: string }>();

/**
 * What is stored: the session without what its key already says (the user id) and without
 * koa-session's `_maxAge` (always the configured idle time, restored on read).
 */
function storedValue(key: string, value: unknown): string {
  const { _maxAge: _m, ...data } = (value ?? {}) as Record<string, unknown>;
  const { uid } = idParts(key);
  if (uid !== undefined && data.uid === uid) delete data.uid;
  return JSON.stringify(data);
}

/** A stored session's data, with what `storedValue` left out put back. */
function readValue(key: string, text: string, maxAgeMs: number): Record<string, unknown> | undefined {
  const data = JSON.parse(text) as Record<string, unknown> | null;
  if (typeof data !== 'object' || data === null) return undefined;
  const { uid } = idParts(key);
  if (uid !== undefined && data.uid === undefined) data.uid = uid;
  if (data._expire !== undefined && data._maxAge === undefined) data._maxAge = maxAgeMs;
  return data;
}

/** The session's data without koa-session's own expiry fields, to compare two saves. */
function sessionData(value: unknown): string {
  const { _expire: _e, _maxAge: _m, ...data } = (value ?? {}) as Record<string, unknown>;
  return JSON.stringify(data);
}

/** The writes of one session save: its record and, when signed in, its user's index (another slot). */
function sessionOps(key: string, value: unknown, ttl: number): StoreOp[] {
  const put: StoreOp = { op: 'put', key: storeKey(key), value: storedValue(key, value), ttl };
  const uid = (value as Partial<SsoSession> | null)?.uid;
  if (typeof uid !== 'string') return [put];
  return [put, { op: 'sadd', key: userSessionsKey(uid), members: [key], ttl }];
}

/** The session cookie's name. */
export const sessionCookieName = (https: boolean): string => (https ? '__Host-lb_session' : 'lb_session');

/** Whether the request carries no session cookie at all (then the session middleware reads nothing). */
export const withoutSessionCookie = (ctx: Context, https: boolean): boolean =>
  !ctx.cookies.get(sessionCookieName(https));

/**
 * koa-session with the store as its external store: the cookie holds only a random 256-bit id,
 * signed; the data lives in the store with the idle TTL. `__Host-` prefixed, HttpOnly and Secure
 * on https; SameSite=Lax, so the session is there when an app sends the browser to /authorize.
 */
export function sessionMiddleware(
  app: Koa,
  store: Store,
  config: SessionConfig,
  options: { https: boolean; alsoRead?: (uid: string) => string },
): Middleware {
  const maxAge = config.idle_ttl_s * 1000;
  return session(
    {
      key: sessionCookieName(options.https),
      maxAge,
      rolling: false,
      // Re-save only when half the idle time has passed: no store write on every request.
      renew: true,
      httpOnly: true,
      signed: true,
      secure: options.https,
      sameSite: 'lax',
      overwrite: true,
      genid: (ctx?: Context) => {
        const random = randomBytes(32).toString('base64url');
        const uid = ctx && signingIn.get(ctx);
        return uid ? `${uid}.${random}` : random;
      },
      store: {
        get: async (key: string, _maxAge: unknown, context?: { ctx?: Context }) => {
          const { uid } = idParts(key);
          const also = uid !== undefined && options.alsoRead ? options.alsoRead(uid) : undefined;
          let text: string | null;
          if (also === undefined) text = await store.get(storeKey(key));
          else {
            let value: string | null | undefined;
            [text = null, value = null] = await store.getMany([storeKey(key), also]);
            if (context?.ctx) alsoReadBy.set(context.ctx, { uid: uid!, value });
          }
          return text ? readValue(key, text, maxAge) : undefined;
        },
        set: async (key: string, value: unknown, maxAge: number, options?: { ctx?: Context }) => {
          const ttl = Math.max(1, Math.ceil(maxAge / 1000));
          const ctx = options?.ctx;
          const data = sessionData(value);
          const before = ctx && written.get(ctx);
          if (before?.key === key && before.data === data) return;
          const ops = sessionOps(key, value, ttl);
          const work = ctx && deferred.get(ctx);
          if (work) work.add(...ops);
          else if (ops.length === 1) await store.put(storeKey(key), (ops[0] as { value: string }).value, ttl);
          else await store.batches(ops.map((op) => [op]));
          if (ctx) written.set(ctx, { key, data });
        },
        destroy: async (key: string, options?: { ctx?: Context }) => {
          const work = options?.ctx && deferred.get(options.ctx);
          if (work) work.add({ op: 'del', key: storeKey(key) });
          else await store.del(storeKey(key));
        },
      },
    },
    app,
  );
}

/** The live SSO session, or undefined when there is none or it passed its absolute lifetime. */
export function currentSession(ctx: Context, config: SessionConfig): SsoSession | undefined {
  const data = ctx.session as unknown as Partial<SsoSession> | null;
  if (!data || typeof data.uid !== 'string' || typeof data.sid !== 'string') return undefined;
  if (typeof data.created !== 'number' || data.created + config.absolute_ttl_s < nowS()) return undefined;
  return data as SsoSession;
}

/**
 * Starts a fresh session for a login: a new cookie id every time (no session fixation). With
 * `work` (not yet committed), the session's writes (the old record's removal, the new record and
 * its user's index) go into that unit of work, so they land in the request's one commit;
 * otherwise they are written here. Either way koa-session does not write them again.
 */
export async function startSession(
  ctx: Context,
  data: Omit<SsoSession, 'sid' | 'created'> & { sid?: string },
  options: { work?: UnitOfWork } = {},
): Promise<SsoSession> {
  const now = nowS();
  const previous = ctx.session as unknown as Partial<SsoSession> | null;
  // The same user logging in again keeps their sid, so apps' sessions stay tied to it.
  const sid =
    data.sid ?? (previous?.uid === data.uid && previous.sid ? previous.sid : randomBytes(16).toString('base64url'));
  const created = previous?.uid === data.uid && typeof previous.created === 'number' ? previous.created : now;
  const next: SsoSession = { uid: data.uid, sid, auth_time: data.auth_time, created, provider: data.provider };
  const current = ctx.session!;
  Object.assign(current, next);
  if (options.work && !options.work.committed) deferred.set(ctx, options.work);
  signingIn.set(ctx, next.uid);
  try {
    // A new id every time (no fixation), carrying the user's id (their hash tag).
    await current.regenerate();
  } finally {
    deferred.delete(ctx);
    signingIn.delete(ctx);
  }
  return next;
}

export function endSession(ctx: Context): void {
  ctx.session = null;
}

/** Random cookie-signing secrets, kept in the store so every broker process shares them. */
export async function cookieSecrets(store: Store, configured: string[]): Promise<string[]> {
  if (configured.length > 0) return configured;
  const key = 'secrets:cookie';
  await store.putIfAbsent(key, randomBytes(32).toString('base64url'));
  const secret = await store.get(key);
  if (!secret) throw new Error('could not read the cookie secret from the store');
  return [secret];
}

/** A user's live sessions, from the index: their store ids and what they hold. */
export async function userSessions(store: Store, uid: string): Promise<{ id: string; session: SsoSession }[]> {
  return (await indexedSessions(store, uid)).live;
}

async function indexedSessions(store: Store, uid: string) {
  const ids = await store.smembers(userSessionsKey(uid));
  const values = ids.length ? await getAcrossSlots(store, ids.map(storeKey)) : [];
  const live: { id: string; session: SsoSession }[] = [];
  ids.forEach((id, i) => {
    const session = parseSession(id, values[i] ?? null);
    if (session?.uid === uid) live.push({ id, session });
  });
  return { ids, live };
}

/**
 * Ends every session of a user: deletes them, and takes the ids read out of the index (a session
 * started meanwhile stays indexed). Returns what they held (for the logouts).
 */
export async function endUserSessions(store: Store, uid: string): Promise<SsoSession[]> {
  const { ids, live } = await indexedSessions(store, uid);
  if (ids.length === 0) return [];
  await batchPerSlot(store, [
    ...live.map((s): StoreOp => ({ op: 'del', key: storeKey(s.id) })),
    { op: 'srem', key: userSessionsKey(uid), members: ids },
  ]);
  return live.map((s) => s.session);
}

function parseSession(id: string, text: string | null): SsoSession | undefined {
  if (!text) return undefined;
  try {
    const data = readValue(id, text, 0) as Partial<SsoSession> | undefined;
    if (!data) return undefined;
    return typeof data.uid === 'string' && typeof data.sid === 'string' ? (data as SsoSession) : undefined;
  } catch {
    return undefined;
  }
}
