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
  /** Epoch seconds of the rotation. */
  at: number;
  /** Hash of the token that replaced it; absent while the rotation is still in flight. */
  next?: string;
  record?: RefreshRecord;
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

/**
 * Codes and refresh tokens are `<grant id>.<256 random bits>`: the grant id lets a replay be
 * traced to its grant inside the same atomic step that spends the token, so a replay racing the
 * first use still revokes what that use issues.
 */
const TOKEN_SHAPE = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{43}$/;

export const newGrantId = () => randomToken(16);
const mint = (grantId: string) => `${grantId}.${randomToken()}`;
const grantOf = (token: string) => TOKEN_SHAPE.exec(token)?.[1];

export type TakeResult<T> =
  | { status: 'ok'; record: T }
  | { status: 'replayed'; grantId: string; used?: UsedRefresh }
  | { status: 'revoked' }
  | { status: 'unknown' };

/**
 * Codes, refresh tokens and revocations in the store. Only hashes of codes and tokens are
 * written (docs/security.md S-AUD-04). Spending a code or a refresh token is one atomic batch
 * that also leaves the "used" marker; issuing is one batch.
 */
export class TokenRecords {
  constructor(
    private readonly store: Store,
    private readonly ttl: { code: number; accessToken: number; refreshIdle: number; refreshAbsolute: number },
  ) {}

  newCode(record: CodeRecord): { code: string; op: StoreOp } {
    const code = mint(record.grant_id);
    return { code, op: { op: 'put', key: k.code(tokenHash(code)), value: JSON.stringify(record), ttl: this.ttl.code } };
  }

  /** Single use by atomic take (RFC 6749 §4.1.2). A second use reports the grant to revoke. */
  async takeCode(code: string): Promise<TakeResult<CodeRecord>> {
    const grantId = grantOf(code);
    if (!grantId) return { status: 'unknown' };
    const hash = tokenHash(code);
    const [record, used] = await this.store.batch([
      { op: 'take', key: k.code(hash) },
      { op: 'get', key: k.codeUsed(hash) },
      { op: 'putIfAbsent', key: k.codeUsed(hash), value: grantId, ttl: USED_CODE_MEMORY_S },
    ]);
    if (typeof record === 'string') return { status: 'ok', record: JSON.parse(record) as CodeRecord };
    if (typeof used === 'string') return { status: 'replayed', grantId: used };
    await this.store.del(k.codeUsed(hash));
    return { status: 'unknown' };
  }

  newRefreshToken(record: RefreshRecord): { token: string; hash: string; ops: StoreOp[] } {
    const token = mint(record.grant_id);
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

  /** Spends a refresh token: take it, leave the used marker, and check its grant, in one batch. */
  async takeRefreshToken(token: string): Promise<TakeResult<RefreshRecord>> {
    const grantId = grantOf(token);
    if (!grantId) return { status: 'unknown' };
    const hash = tokenHash(token);
    const marker: UsedRefresh = { grant_id: grantId, at: Math.floor(Date.now() / 1000) };
    const [record, used, revoked] = await this.store.batch([
      { op: 'take', key: k.rt(hash) },
      { op: 'get', key: k.rtUsed(hash) },
      { op: 'get', key: k.grantRevoked(grantId) },
      { op: 'putIfAbsent', key: k.rtUsed(hash), value: JSON.stringify(marker), ttl: this.ttl.refreshIdle },
    ]);
    if (typeof record === 'string') {
      return revoked ? { status: 'revoked' } : { status: 'ok', record: JSON.parse(record) as RefreshRecord };
    }
    if (typeof used === 'string') {
      const parsed = JSON.parse(used) as UsedRefresh;
      return { status: 'replayed', grantId: parsed.grant_id, used: parsed };
    }
    await this.store.del(k.rtUsed(hash));
    return { status: 'unknown' };
  }

  async peekRefreshToken(token: string): Promise<RefreshRecord | undefined> {
    const grantId = grantOf(token);
    if (!grantId) return undefined;
    const [text, revoked] = await this.store.getMany([k.rt(tokenHash(token)), k.grantRevoked(grantId)]);
    return text && !revoked ? (JSON.parse(text) as RefreshRecord) : undefined;
  }

  async isLive(hash: string): Promise<boolean> {
    return (await this.store.get(k.rt(hash))) !== null;
  }

  /** Completes the used marker of a rotated token (for the grace window) and drops it from its grant. */
  rotatedOps(oldToken: string, nextHash: string, record: RefreshRecord, at: number): StoreOp[] {
    const hash = tokenHash(oldToken);
    const used: UsedRefresh = { grant_id: record.grant_id, next: nextHash, at, record };
    return [
      { op: 'put', key: k.rtUsed(hash), value: JSON.stringify(used), ttl: this.ttl.refreshIdle },
      { op: 'srem', key: k.grantTokens(record.grant_id), members: [hash] },
    ];
  }

  /**
   * Revokes a whole grant: every live refresh token dies at once, tokens it is still issuing
   * are refused on first use, and its access tokens are inactive at introspection and userinfo
   * until they expire (RFC 7009 §2.1).
   */
  async revokeGrant(grantId: string): Promise<void> {
    const hashes = await this.store.smembers(k.grantTokens(grantId));
    await this.store.batch([
      ...hashes.map((hash): StoreOp => ({ op: 'del', key: k.rt(hash) })),
      { op: 'del', key: k.grantTokens(grantId) },
      { op: 'put', key: k.grantRevoked(grantId), value: '1', ttl: Math.max(this.ttl.accessToken, this.ttl.refreshAbsolute) },
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
