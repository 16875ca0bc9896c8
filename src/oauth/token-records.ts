import type { Store, StoreOp } from '../store/index.js';
import { randomToken, tokenHash } from './crypto.js';

/** What an authorization code stands for; stored under the code's hash for `code_ttl_s`. */
export interface CodeRecord {
  client_id: string;
  redirect_uri: string;
  user_id: string;
  scope: string;
  nonce?: string;
  code_challenge: string;
  auth_time: number;
  sid?: string;
  grant_id: string;
  /** The user's claims when the code was issued, so the token endpoint needs no user lookup. */
  claims: Record<string, unknown>;
  resource?: string;
  /** A refresh token may be issued for this code. */
  refresh: boolean;
}

export interface RefreshRecord {
  client_id: string;
  user_id: string;
  scope: string;
  grant_id: string;
  auth_time: number;
  sid?: string;
  resource?: string;
  /** Epoch seconds after which no token of this grant is valid, however often rotated. */
  expires_at: number;
  /** offline_access was granted: the token outlives the browser session (OIDC Core §11). */
  offline: boolean;
}

interface UsedRefresh {
  grant_id: string;
  /** Hash of the token that replaced it. */
  next: string;
  /** Epoch seconds of the rotation. */
  at: number;
  record: RefreshRecord;
}

const k = {
  code: (hash: string) => `code:${hash}`,
  codeUsed: (hash: string) => `code-used:${hash}`,
  rt: (hash: string) => `rt:${hash}`,
  rtUsed: (hash: string) => `rt-used:${hash}`,
  grantTokens: (grantId: string) => `grant:${grantId}:rts`,
  grantRevoked: (grantId: string) => `grant-revoked:${grantId}`,
  atRevoked: (jti: string) => `at-revoked:${jti}`,
  sessionGrants: (sid: string) => `sid:${sid}:grants`,
};

// How long a consumed code is remembered, so a replay can still revoke what it issued.
const USED_CODE_MEMORY_S = 86_400;

export type TakeResult<T> = { status: 'ok'; record: T } | { status: 'replayed'; grantId: string; used?: UsedRefresh } | { status: 'unknown' };

/**
 * Codes, refresh tokens and revocations in the store. Only hashes of codes and tokens are
 * written (security catalogue S-AUD-04). Every issue path is one batch: one round trip.
 */
export class TokenRecords {
  constructor(
    private readonly store: Store,
    private readonly ttl: { code: number; accessToken: number; refreshIdle: number },
  ) {}

  codeOp(code: string, record: CodeRecord): StoreOp {
    return { op: 'put', key: k.code(tokenHash(code)), value: JSON.stringify(record), ttl: this.ttl.code };
  }

  /** Single use by atomic take (RFC 6749 §4.1.2). A second use reports the grant to revoke. */
  async takeCode(code: string): Promise<TakeResult<CodeRecord>> {
    const hash = tokenHash(code);
    const text = await this.store.take(k.code(hash));
    if (text) return { status: 'ok', record: JSON.parse(text) as CodeRecord };
    const grantId = await this.store.get(k.codeUsed(hash));
    return grantId ? { status: 'replayed', grantId } : { status: 'unknown' };
  }

  /** The writes that mark a code used and store a new refresh token, for one batch. */
  codeUsedOp(code: string, grantId: string): StoreOp {
    return { op: 'put', key: k.codeUsed(tokenHash(code)), value: grantId, ttl: USED_CODE_MEMORY_S };
  }

  newRefreshToken(record: RefreshRecord): { token: string; hash: string; ops: StoreOp[] } {
    const token = randomToken();
    const hash = tokenHash(token);
    const now = Math.floor(Date.now() / 1000);
    const ttl = Math.max(1, Math.min(this.ttl.refreshIdle, record.expires_at - now));
    const ops: StoreOp[] = [
      { op: 'put', key: k.rt(hash), value: JSON.stringify(record), ttl },
      { op: 'sadd', key: k.grantTokens(record.grant_id), members: [hash], ttl: Math.max(1, record.expires_at - now) },
    ];
    if (record.sid && !record.offline) {
      ops.push({ op: 'sadd', key: k.sessionGrants(record.sid), members: [record.grant_id], ttl: Math.max(1, record.expires_at - now) });
    }
    return { token, hash, ops };
  }

  async takeRefreshToken(token: string): Promise<TakeResult<RefreshRecord>> {
    const hash = tokenHash(token);
    const text = await this.store.take(k.rt(hash));
    if (text) return { status: 'ok', record: JSON.parse(text) as RefreshRecord };
    const used = await this.store.get(k.rtUsed(hash));
    if (!used) return { status: 'unknown' };
    const parsed = JSON.parse(used) as UsedRefresh;
    return { status: 'replayed', grantId: parsed.grant_id, used: parsed };
  }

  async peekRefreshToken(token: string): Promise<RefreshRecord | undefined> {
    const text = await this.store.get(k.rt(tokenHash(token)));
    return text ? (JSON.parse(text) as RefreshRecord) : undefined;
  }

  async isLive(hash: string): Promise<boolean> {
    return (await this.store.get(k.rt(hash))) !== null;
  }

  /** Marks a rotated token used (for reuse detection) and drops it from its grant's live set. */
  rotatedOps(oldToken: string, nextHash: string, record: RefreshRecord): StoreOp[] {
    const hash = tokenHash(oldToken);
    const used: UsedRefresh = { grant_id: record.grant_id, next: nextHash, at: Math.floor(Date.now() / 1000), record };
    return [
      { op: 'put', key: k.rtUsed(hash), value: JSON.stringify(used), ttl: this.ttl.refreshIdle },
      { op: 'srem', key: k.grantTokens(record.grant_id), members: [hash] },
    ];
  }

  /**
   * Revokes a whole grant: every live refresh token dies at once, and access tokens carrying
   * the grant id are inactive at introspection and userinfo until they expire (RFC 7009 §2.1).
   */
  async revokeGrant(grantId: string): Promise<void> {
    const hashes = await this.store.smembers(k.grantTokens(grantId));
    await this.store.batch([
      ...hashes.map((hash): StoreOp => ({ op: 'del', key: k.rt(hash) })),
      { op: 'del', key: k.grantTokens(grantId) },
      { op: 'put', key: k.grantRevoked(grantId), value: '1', ttl: this.ttl.accessToken },
    ]);
  }

  async revokeAccessToken(jti: string, expiresAt: number): Promise<void> {
    const ttl = expiresAt - Math.floor(Date.now() / 1000);
    if (ttl > 0) await this.store.put(k.atRevoked(jti), '1', ttl);
  }

  /** One round trip: is this access token, or its grant, revoked? */
  async accessTokenRevoked(jti: string, grantId: string | undefined): Promise<boolean> {
    const keys = grantId ? [k.atRevoked(jti), k.grantRevoked(grantId)] : [k.atRevoked(jti)];
    return (await this.store.getMany(keys)).some((v) => v !== null);
  }

  /** Revokes the non-offline grants of a browser session (logout). */
  async revokeSession(sid: string): Promise<number> {
    const grants = await this.store.smembers(k.sessionGrants(sid));
    for (const grantId of grants) await this.revokeGrant(grantId);
    await this.store.del(k.sessionGrants(sid));
    return grants.length;
  }
}
