import type { Store, StoreOp } from '../store/index.js';

/** Who did what to an account's links, when, from where. Kept in the store and logged. */
export interface AuditEntry {
  at: number;
  action: 'create' | 'link' | 'unlink' | 'auto-link' | 'disable' | 'enable';
  provider: string;
  subject: string;
  ip?: string;
  reason?: string;
}

const AUDIT_TTL_S = 400 * 86_400;
/** The user's hash tag: the set sits in the user record's Redis Cluster slot, so they share batches. */
const indexKey = (userId: string) => `audit:{${userId}}`;
/** Where entries were kept before per-user hash tags; read until they expire. */
const legacyIndexKey = (userId: string) => `audit:${userId}`;

/**
 * Entries are members of one set per user: appending is a blind write that fits in the
 * caller's batch, with no read-modify-write race between two broker processes.
 */
export function auditOp(userId: string, entry: AuditEntry): StoreOp {
  return { op: 'sadd', key: indexKey(userId), members: [JSON.stringify(entry)], ttl: AUDIT_TTL_S };
}

export async function recentAudit(store: Store, userId: string, limit = 20): Promise<AuditEntry[]> {
  const [members, legacy] = await Promise.all([
    store.smembers(indexKey(userId)),
    store.smembers(legacyIndexKey(userId)),
  ]);
  return [...members, ...legacy]
    .map((m) => JSON.parse(m) as AuditEntry)
    .sort((a, b) => b.at - a.at)
    .slice(0, limit);
}
