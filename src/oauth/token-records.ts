import { delAcrossSlots, getAcrossSlots, type Store, type StoreOp } from '../store/index.js';
import { tokenHash } from './crypto.js';
import {
  codeCodec,
  parseRecord,
  refreshCodec,
  serializeRecord,
  type CodeRecord,
  type RefreshRecord,
} from './grant-records.js';
import { grantOf, mintToken as mint, newGrantId, recordKeys as k } from './record-keys.js';
import { RefreshRotation, type RefreshLookup, type RotationOutcome } from './refresh-rotation.js';
import { nowS } from '../lib/clock.js';
import { scopeSet } from './params.js';

export { newGrantId };

// How long a consumed code is remembered, so a replay can still revoke what it issued.
const USED_CODE_MEMORY_S = 86_400;

export type TakeResult<T> =
  | { status: 'ok'; record: T; refreshToken?: string }
  | { status: 'replayed'; grantId: string }
  | { status: 'revoked' }
  | { status: 'unknown' };

/**
 * Codes, refresh tokens and revocations in the store. Only hashes of codes and tokens are
 * written (docs/security.md S-AUD-04). Spending a code is one atomic batch that also leaves the
 * "used" marker; rotating a refresh token is one conditional write (RefreshRotation); issuing is
 * one batch.
 */
export class TokenRecords {
  readonly #rotation: RefreshRotation;

  constructor(
    private readonly store: Store,
    private readonly ttl: { code: number; accessToken: number; refreshIdle: number; refreshAbsolute: number },
  ) {
    this.#rotation = new RefreshRotation(store, ttl.refreshIdle);
  }

  /**
   * The writes that issue a code. A code that may bring a refresh token also brings that token's
   * record, waiting under the grant's tag (without its expiry, set when the code is spent), and
   * the grant's place in its session's index (a logout meanwhile revokes what the code would
   * issue); `takeCode` moves the record into place in the same atomic step that spends the code.
   */
  newCode(record: CodeRecord): { code: string; ops: StoreOp[] } {
    const code = mint(record.grantId);
    const value = serializeRecord(codeCodec, record);
    const ops: StoreOp[] = [{ op: 'put', key: k.code(record.grantId, tokenHash(code)), value, ttl: this.ttl.code }];
    if (!record.refresh) return { code, ops };
    const { grantId, clientId, userId, scope, authTime, sid, resource, clientGen } = record;
    const offline = scopeSet(scope).includes('offline_access');
    // expiresAt is left out here: the chain's lifetime starts when the code is spent.
    const waiting = {
      ...{ grantId, clientId, userId, scope, authTime, sid, resource, offline },
      ...(clientGen ? { clientGen } : {}),
    } as RefreshRecord;
    ops.push({ op: 'put', key: k.rtNext(grantId), value: serializeRecord(refreshCodec, waiting), ttl: this.ttl.code });
    if (sid && !offline) {
      const ttl = this.ttl.refreshAbsolute + this.ttl.code;
      ops.push(sessionGrantOp(sid, grantId, ttl));
    }
    return { code, ops };
  }

  /**
   * Single use by atomic take (RFC 6749 §4.1.2), in one round trip: the same step leaves the
   * "used" marker and, when the code may bring a refresh token and its grant is not revoked,
   * moves the waiting refresh record into place under a new token (returned as `refreshToken`).
   * A second use reports the grant to revoke; a code whose grant was revoked meanwhile (a logout)
   * is spent and reported revoked. A caller that refuses the code after all (PKCE, client,
   * redirect URI) drops that token with `dropRefreshToken`: it was never handed out.
   */
  async takeCode(code: string): Promise<TakeResult<CodeRecord>> {
    const grantId = grantOf(code);
    if (!grantId) return { status: 'unknown' };
    const hash = tokenHash(code);
    const refreshToken = mint(grantId);
    const refreshHash = tokenHash(refreshToken);
    const now = nowS();
    const absolute = this.ttl.refreshAbsolute;
    const spent = await this.store.spend({
      key: k.code(grantId, hash),
      // The marker's key names the grant already: its value is a mere '1' (older ones: the grant id).
      marker: { key: k.codeUsed(grantId, hash), value: '1', ttl: USED_CODE_MEMORY_S },
      blocker: k.grantRevoked(grantId),
      companion: {
        from: k.rtNext(grantId),
        to: k.rt(grantId, refreshHash),
        ttl: Math.min(this.ttl.refreshIdle, absolute),
        extra: refreshCodec.encode({ expiresAt: now + absolute } as RefreshRecord) as Record<string, number>,
        index: k.grantTokens(grantId),
        member: refreshHash,
        indexTtl: absolute,
      },
    });
    const taken = parseRecord(codeCodec, spent.value);
    if (taken) {
      if (spent.blocked) return { status: 'revoked' };
      return { status: 'ok', record: taken, ...(spent.moved ? { refreshToken } : {}) };
    }
    if (spent.value === null && spent.marker !== null) return { status: 'replayed', grantId };
    return { status: 'unknown' };
  }

  /** Removes a refresh token `takeCode` moved into place for a code that was refused after all. */
  async dropRefreshToken(token: string): Promise<void> {
    const grantId = grantOf(token);
    if (!grantId) return;
    const hash = tokenHash(token);
    await this.store.batch([
      { op: 'del', key: k.rt(grantId, hash) },
      { op: 'srem', key: k.grantTokens(grantId), members: [hash] },
    ]);
  }

  newRefreshToken(record: RefreshRecord): { token: string; ops: StoreOp[] } {
    const token = mint(record.grantId);
    const hash = tokenHash(token);
    const left = Math.max(1, record.expiresAt - nowS());
    const ops: StoreOp[] = [
      {
        op: 'put',
        key: k.rt(record.grantId, hash),
        value: serializeRecord(refreshCodec, record),
        ttl: Math.min(this.ttl.refreshIdle, left),
      },
      { op: 'sadd', key: k.grantTokens(record.grantId), members: [hash], ttl: left },
    ];
    if (record.sid && !record.offline) {
      ops.push(sessionGrantOp(record.sid, record.grantId, left));
    }
    return { token, ops };
  }

  /**
   * Reads a refresh token without spending it, so every check that can refuse runs before the
   * rotation (RFC 6749 §6). `graceS`: the retry window of a rotated token (see RefreshRotation).
   */
  findRefreshToken(token: string, graceS: number): Promise<RefreshLookup> {
    return this.#rotation.find(token, graceS);
  }

  /** Spends what `findRefreshToken` found and writes its successor, in one atomic step. */
  rotateRefreshToken(found: Extract<RefreshLookup, { status: 'usable' }>, graceS: number): Promise<RotationOutcome> {
    return this.#rotation.rotate(found, graceS);
  }

  async peekRefreshToken(token: string): Promise<RefreshRecord | undefined> {
    const grantId = grantOf(token);
    if (!grantId) return undefined;
    const [text, revoked] = await this.store.getMany([k.rt(grantId, tokenHash(token)), k.grantRevoked(grantId)]);
    return revoked ? undefined : parseRecord(refreshCodec, text);
  }

  /**
   * Revokes a whole grant: every live refresh token dies at once, tokens it is still issuing
   * are refused on first use, and its access tokens are inactive at introspection and userinfo
   * until they expire (RFC 7009 §2.1).
   */
  async revokeGrant(grantId: string): Promise<void> {
    const hashes = await this.store.smembers(k.grantTokens(grantId));
    await this.store.batch([
      ...hashes.map((hash): StoreOp => ({ op: 'del', key: k.rt(grantId, hash) })),
      { op: 'del', key: k.grantTokens(grantId) },
      {
        op: 'put',
        key: k.grantRevoked(grantId),
        value: '1',
        ttl: Math.max(this.ttl.accessToken, this.ttl.refreshAbsolute),
      },
    ]);
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    const ttl = expiresAt - nowS();
    if (ttl > 0) await this.store.put(k.atRevoked(jti), '1', ttl);
  }

  /** One round trip: is this access token, or its grant, revoked? */
  async accessTokenRevoked(jti: string, grantId: string | undefined): Promise<boolean> {
    return (await this.accessTokenRevokedAnd(jti, grantId, [])).revoked;
  }

  /** The same, reading `more` keys (e.g. the token's user) in the same round trip. */
  async accessTokenRevokedAnd(
    jti: string,
    grantId: string | undefined,
    more: string[],
  ): Promise<{ revoked: boolean; more: (string | null)[] }> {
    const keys = grantId ? [k.atRevoked(jti), k.grantRevoked(grantId)] : [k.atRevoked(jti)];
    const values = await getAcrossSlots(this.store, [...keys, ...more]);
    return { revoked: values.slice(0, keys.length).some((v) => v !== null), more: values.slice(keys.length) };
  }

  /**
   * Revokes the non-offline grants of a browser session (logout): those of its index, and of the
   * set an earlier version kept instead (read together).
   */
  async revokeSession(sid: string): Promise<number> {
    const [listed, legacy] = await Promise.all([
      this.store.get(k.sessionGrantIds(sid)),
      this.store.smembers(k.sessionGrants(sid)),
    ]);
    const grants = new Set([...(listed ?? '').split(' ').filter(Boolean), ...legacy]);
    for (const grantId of grants) await this.revokeGrant(grantId);
    await delAcrossSlots(this.store, [k.sessionGrantIds(sid), k.sessionGrants(sid)]);
    return grants.size;
  }
}

/**
 * A grant's place in its session's index: its id appended to a string (on Redis 7.0 a set of one
 * member costs a whole hashtable, some 250 bytes; the string a few dozen), read only at logout.
 */
function sessionGrantOp(sid: string, grantId: string, ttl: number): StoreOp {
  return { op: 'append', key: k.sessionGrantIds(sid), value: `${grantId} `, ttl };
}
