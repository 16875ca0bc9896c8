import type { Store, StoreOp } from '../../store/index.js';
import { tokenHash } from '../crypto.js';

/** The hash tag of a device grant: its record lives alone in its slot. */
const d = (deviceId: string) => `{d:${deviceId}}`;

export const deviceKeys = {
  /** The device grant's record (only the device code's hash inside). */
  record: (deviceId: string) => `device:${d(deviceId)}`,
  /** User code (hashed) → device id, while the code can be entered. */
  userCode: (userCode: string) => `device-user:${tokenHash(userCode)}`,
};

/** Who approved, and what the tokens will say. */
export interface DeviceApproval {
  userId: string;
  authTime: number;
  sid: string;
  claims: Record<string, unknown>;
}

/** One device authorization (RFC 8628 §3.2) from its start to its single redemption. */
export interface DeviceRecord {
  clientId: string;
  /** SHA-256 of the device code (never the code itself). */
  codeHash: string;
  scope: string;
  /** A refresh token may come with the tokens. */
  refresh: boolean;
  /** Epoch seconds after which the codes are expired (expired_token). */
  expiresAt: number;
  /** The minimum polling interval in seconds, grown by slow_down (RFC 8628 §3.5). */
  interval: number;
  /** Epoch milliseconds of the last poll. */
  lastPoll?: number;
  status: 'pending' | 'approved' | 'denied' | 'redeemed';
  approval?: DeviceApproval;
}

/** After expiry the record is kept this long, so a late poll still hears expired_token. */
export const EXPIRED_MEMORY_S = 600;

export function parseDeviceRecord(text: string | null | undefined): DeviceRecord | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as DeviceRecord;
    const ok =
      typeof r.clientId === 'string' &&
      typeof r.codeHash === 'string' &&
      typeof r.scope === 'string' &&
      typeof r.expiresAt === 'number' &&
      typeof r.interval === 'number' &&
      ['pending', 'approved', 'denied', 'redeemed'].includes(r.status);
    return ok ? r : undefined;
  } catch {
    return undefined;
  }
}

/** The write of a record, kept until `EXPIRED_MEMORY_S` after its expiry. */
export function deviceRecordOp(deviceId: string, record: DeviceRecord, now: number): Extract<StoreOp, { op: 'put' }> {
  const ttl = Math.max(1, record.expiresAt + EXPIRED_MEMORY_S - now);
  return { op: 'put', key: deviceKeys.record(deviceId), value: JSON.stringify(record), ttl };
}

/** The record and its stored text (the condition of a later compare-and-write). */
export async function loadDeviceRecord(
  store: Store,
  deviceId: string,
): Promise<{ text: string; record: DeviceRecord } | undefined> {
  const text = await store.get(deviceKeys.record(deviceId));
  const record = parseDeviceRecord(text);
  return text && record ? { text, record } : undefined;
}

/**
 * Replaces the record only if it still holds `expected` (one atomic step): of two approvals,
 * or two redemptions, exactly one wins.
 */
export async function replaceDeviceRecord(
  store: Store,
  deviceId: string,
  expected: string,
  next: DeviceRecord,
  now: number,
): Promise<boolean> {
  const key = deviceKeys.record(deviceId);
  const result = await store.batchIf([{ key, value: expected }], [deviceRecordOp(deviceId, next, now)]);
  return result.applied;
}
