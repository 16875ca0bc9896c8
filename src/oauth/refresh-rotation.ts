import type { Store, StoreCondition, StoreWriteOp } from '../store/index.js';
import { tokenHash } from './crypto.js';

import { grantOf, mintToken, recordKeys as k } from './record-keys.js';
import { parseRecord, refreshCodec, serializeRecord, type RefreshRecord } from './grant-records.js';
import { BrokerError } from '../http/broker-error.js';
import { nowS } from '../lib/clock.js';

/** What is left of a refresh token once it was rotated: `rt-used:<hash>`. */
export interface UsedRefresh {
  grantId: string;
  /** Epoch seconds of its first rotation: the retry window counts from here, across retries. */
  at: number;
  /** Hash of its one live successor; absent when it was retired unused. */
  next?: string;
  record?: RefreshRecord;
  /** It was a successor that nobody used, replaced when its predecessor was retried. */
  retired?: true;
}

/** What the store held about one refresh token, read in one atomic step. */
interface Snapshot {
  hash: string;
  grantId: string;
  live: string | null;
  used: string | null;
  revoked: string | null;
  /** The successor named by `used`, when it was read in the same step. */
  successor?: { hash: string; value: string | null };
}

type Judgement =
  | { status: 'unknown' }
  | { status: 'revoked' }
  | { status: 'replayed'; grantId: string }
  | { status: 'live'; record: RefreshRecord; value: string }
  | { status: 'retry'; record: RefreshRecord; used: UsedRefresh };

export type RefreshLookup =
  | { status: 'unknown' }
  | { status: 'revoked' }
  | { status: 'replayed'; grantId: string }
  /** The token may be rotated: it is live, or a retry within the window (see `judge`). */
  | { status: 'usable'; record: RefreshRecord; snapshot: Snapshot };

export type RotationOutcome =
  | { status: 'rotated'; token: string }
  | { status: 'unknown' }
  | { status: 'revoked' }
  | { status: 'replayed'; grantId: string };

// Each lost race means another request rotated this chain; more than this many is abuse.
const MAX_ATTEMPTS = 16;

/**
 * Refresh token rotation with reuse detection (RFC 9700 §4.14.2), as one conditional store
 * write: the old token is spent and its successor written in the same atomic step, so no
 * failure in between can leave a spent token without a successor.
 *
 * Presenting a rotated token again within `graceS` seconds of its rotation, while its
 * successor is still unused, is a retry of a request whose answer was lost (a timeout, a 503,
 * a dropped connection): it gets a new successor, and the unused one is retired, so one
 * successor chain at most stays alive. Anything else presented after rotation is a replay that
 * revokes the grant: the old token once its successor was used, a token older than the window,
 * or a retired successor (an invalidated token, RFC 9700 §4.14.2).
 *
 * Every key of a rotation belongs to one grant (its tokens, their markers, its index and its
 * revocation), and all are hash-tagged by grant id: one Redis Cluster slot, so the reads are one
 * MGET and the rotation one script.
 */
export class RefreshRotation {
  constructor(
    private readonly store: Store,
    private readonly idleTtl: number,
  ) {}

  /** One read; a second one, with the successor, only for a rotated token within the window. */
  async find(token: string, graceS: number): Promise<RefreshLookup> {
    const grantId = grantOf(token);
    if (!grantId) return { status: 'unknown' };
    const hash = tokenHash(token);
    const keys = [k.rt(grantId, hash), k.rtUsed(grantId, hash), k.grantRevoked(grantId)];
    let snapshot = snapshotOf(hash, grantId, await this.store.getMany(keys));
    const marker = parseUsed(snapshot.used);
    if (!snapshot.live && !snapshot.revoked && marker?.next && withinWindow(marker, nowS(), graceS)) {
      // Whether its successor was used decides retry or replay, before any other check.
      const values = await this.store.getMany([...keys, k.rt(grantId, marker.next)]);
      snapshot = snapshotOf(hash, grantId, values, marker.next);
    }
    const judged = judge(snapshot, nowS(), graceS);
    if (judged.status !== 'live' && judged.status !== 'retry') return judged;
    return { status: 'usable', record: judged.record, snapshot };
  }

  /**
   * Rotates what `find` found, if the store still holds what it saw; when a concurrent request
   * changed it, judges again on what the store answered, without another read.
   */
  async rotate(found: Extract<RefreshLookup, { status: 'usable' }>, graceS: number): Promise<RotationOutcome> {
    let snapshot = found.snapshot;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = nowS();
      const judged = judge(snapshot, now, graceS);
      if (judged.status !== 'live' && judged.status !== 'retry') return judged;
      const token = mintToken(snapshot.grantId);
      const nextHash = tokenHash(token);
      const plan =
        judged.status === 'live'
          ? this.#spend(snapshot, judged, nextHash, now)
          : this.#retry(snapshot, judged, nextHash, now);
      const { applied, current } = await this.store.batchIf(plan.conditions, plan.ops);
      if (applied) return { status: 'rotated', token };
      snapshot = snapshotOf(snapshot.hash, snapshot.grantId, current, plan.successor);
    }
    const busy = 'too many concurrent uses of this refresh token; try again shortly';
    throw new BrokerError('temporarily_unavailable', busy, 503);
  }

  /** A live token: spend it, write its successor, leave the used marker. */
  #spend(s: Snapshot, judged: Extract<Judgement, { status: 'live' }>, nextHash: string, now: number): Plan {
    const used: UsedRefresh = { grantId: s.grantId, at: now, next: nextHash, record: judged.record };
    return {
      conditions: [
        { key: k.rt(s.grantId, s.hash), value: judged.value },
        { key: k.rtUsed(s.grantId, s.hash), value: null },
        { key: k.grantRevoked(s.grantId), value: null },
      ],
      ops: [
        { op: 'del', key: k.rt(s.grantId, s.hash) },
        { op: 'srem', key: k.grantTokens(s.grantId), members: [s.hash] },
        ...this.#successor(judged.record, judged.value, nextHash, now),
        { op: 'put', key: k.rtUsed(s.grantId, s.hash), value: serializeUsed(used), ttl: this.idleTtl },
      ],
    };
  }

  /** A retry: retire the unused successor, write a new one, point the marker at it. */
  #retry(s: Snapshot, judged: Extract<Judgement, { status: 'retry' }>, nextHash: string, now: number): Plan {
    const unused = judged.used.next!;
    const known = s.successor?.hash === unused ? s.successor.value : undefined;
    const retired: UsedRefresh = { grantId: s.grantId, at: now, retired: true };
    const used: UsedRefresh = { ...judged.used, next: nextHash };
    return {
      conditions: [
        { key: k.rt(s.grantId, s.hash), value: null },
        { key: k.rtUsed(s.grantId, s.hash), value: s.used },
        { key: k.grantRevoked(s.grantId), value: null },
        known ? { key: k.rt(s.grantId, unused), value: known } : { key: k.rt(s.grantId, unused), exists: true },
      ],
      successor: unused,
      ops: [
        { op: 'del', key: k.rt(s.grantId, unused) },
        { op: 'srem', key: k.grantTokens(s.grantId), members: [unused] },
        { op: 'put', key: k.rtUsed(s.grantId, unused), value: serializeUsed(retired), ttl: this.idleTtl },
        ...this.#successor(judged.record, known ?? serializeRecord(refreshCodec, judged.record), nextHash, now),
        { op: 'put', key: k.rtUsed(s.grantId, s.hash), value: serializeUsed(used), ttl: this.idleTtl },
      ],
    };
  }

  /**
   * The successor carries the same record. The grant is already in its session's index since
   * it was issued, so a rotation does not touch that index.
   */
  #successor(record: RefreshRecord, value: string, hash: string, now: number): StoreWriteOp[] {
    const left = Math.max(1, record.expiresAt - now);
    return [
      { op: 'put', key: k.rt(record.grantId, hash), value, ttl: Math.min(this.idleTtl, left) },
      { op: 'sadd', key: k.grantTokens(record.grantId), members: [hash], ttl: left },
    ];
  }
}

interface Plan {
  /** Always the token, its marker and its grant's revocation; for a retry, the successor too. */
  conditions: StoreCondition[];
  ops: StoreWriteOp[];
  /** The hash of the successor a retry conditions on. */
  successor?: string;
}

/** A snapshot from the values of the token, its marker, its grant's revocation, and a successor. */
function snapshotOf(hash: string, grantId: string, values: (string | null)[], successor?: string): Snapshot {
  const [live, used, revoked, next] = values;
  return {
    hash,
    grantId,
    live: live ?? null,
    used: used ?? null,
    revoked: revoked ?? null,
    successor: successor ? { hash: successor, value: next ?? null } : undefined,
  };
}

/** What a snapshot means; the one place that tells a retry from a replay. */
function judge(s: Snapshot, now: number, graceS: number): Judgement {
  if (s.revoked) return { status: 'revoked' };
  if (s.live) {
    const record = parseRecord(refreshCodec, s.live);
    return record ? { status: 'live', record, value: s.live } : { status: 'unknown' };
  }
  const used = parseUsed(s.used);
  if (!used) return { status: 'unknown' };
  const replayed = { status: 'replayed', grantId: used.grantId } as const;
  if (!used.next || !used.record || !withinWindow(used, now, graceS)) return replayed;
  // Its successor is gone while the grant is not revoked: someone used it (or it expired with
  // its grant, which is dead anyway).
  if (s.successor?.hash === used.next && s.successor.value === null) return replayed;
  return { status: 'retry', record: used.record, used };
}

function withinWindow(used: UsedRefresh, now: number, graceS: number): boolean {
  return graceS > 0 && now - used.at <= graceS;
}

/** The marker in the store: short keys, the record through its codec. */
function serializeUsed(used: UsedRefresh): string {
  const { grantId, at, next, record, retired } = used;
  return JSON.stringify({ g: grantId, at, next, rec: record && refreshCodec.encode(record), retired });
}

/** Reads a marker; those of earlier versions (`grant_id`, `record`) too. */
function parseUsed(value: string | null): UsedRefresh | undefined {
  if (value === null) return undefined;
  let stored: Record<string, unknown>;
  try {
    stored = JSON.parse(value) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const grantId = stored.g ?? stored.grant_id;
  if (typeof grantId !== 'string' || typeof stored.at !== 'number') return undefined;
  const record = refreshCodec.decode(stored.rec ?? stored.record);
  return {
    grantId,
    at: stored.at,
    ...(typeof stored.next === 'string' ? { next: stored.next } : {}),
    ...(record ? { record } : {}),
    ...(stored.retired === true ? { retired: true as const } : {}),
  };
}
