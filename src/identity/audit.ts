import type { Store, StoreOp } from '../store/index.js';

/** Who did what to an account's links, when, from where. Kept in the store and logged. */
export interface AuditEntry {
  at: number;
  action: 'create' | 'link' | 'unlink' | 'auto-link';
  provider: string;
  subject: string;
  ip?: string;
  reason?: string;
}

const AUDIT_TTL_S = 400 * 86_400;
const indexKey = (userId: string) => `audit:${userId}`;

/**
 * Entries are members of one set per user: appending is a blind write that fits in the
 * caller's batch, with no read-modify-write race between two broker processes.
 */
export function auditOp(userId: string, entry: AuditEntry): StoreOp {
  return { op: 'sadd', key: indexKey(userId), members: [JSON.stringify(entry)], ttl: AUDIT_TTL_S };
}

export async function recentAudit(store: Store, userId: string, limit = 20): Promise<AuditEntry[]> {
  const members = await store.smembers(indexKey(userId));
  return members
    .map((m) => JSON.parse(m) as AuditEntry)
    .sort((a, b) => b.at - a.at)
    .slice(0, limit);
}
