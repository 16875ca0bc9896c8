import { describe, expect, it } from 'vitest';
import { batchPerSlot, MemoryStore } from '../../src/store/index.js';
import { TokenRecords } from '../../src/oauth/token-records.js';
import { newGrantId, recordKeys } from '../../src/oauth/record-keys.js';
import type { RefreshRecord } from '../../src/oauth/grant-records.js';

const TTL = { code: 60, accessToken: 300, refreshIdle: 3600, refreshAbsolute: 86_400 };

function refreshRecord(grantId: string, sid: string): RefreshRecord {
  const now = Math.floor(Date.now() / 1000);
  return {
    grantId,
    clientId: 'web',
    userId: 'u1',
    scope: 'openid',
    authTime: now,
    sid,
    expiresAt: now + 3600,
    offline: false,
  };
}

describe("a session's grant index (logout revokes what it lists)", () => {
  it('is a string of grant ids; a logout revokes them and those of an older set index, then forgets both', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    const records = new TokenRecords(store, TTL);
    const sid = 's'.repeat(43);
    const [fresh, again, legacy] = [newGrantId(), newGrantId(), newGrantId()];
    for (const grantId of [fresh, again])
      await batchPerSlot(store, records.newRefreshToken(refreshRecord(grantId, sid)).ops);
    // An earlier version kept the index as a set.
    await store.sadd(recordKeys.sessionGrants(sid), [legacy, fresh]);
    expect(await store.get(recordKeys.sessionGrantIds(sid))).toBe(`${fresh} ${again} `);

    expect(await records.revokeSession(sid)).toBe(3);
    for (const grantId of [fresh, again, legacy]) {
      expect(await store.get(recordKeys.grantRevoked(grantId))).toBe('1');
    }
    expect(await store.get(recordKeys.sessionGrantIds(sid))).toBeNull();
    expect(await store.smembers(recordKeys.sessionGrants(sid))).toEqual([]);
    expect(await records.revokeSession(sid)).toBe(0);
  });

  it('leaves offline grants out: they outlive the session (OIDC Core §11)', async () => {
    const store = new MemoryStore({ prefix: 't:' });
    const records = new TokenRecords(store, TTL);
    const sid = 'o'.repeat(43);
    const grantId = newGrantId();
    await batchPerSlot(store, records.newRefreshToken({ ...refreshRecord(grantId, sid), offline: true }).ops);
    expect(await records.revokeSession(sid)).toBe(0);
    expect(await store.get(recordKeys.grantRevoked(grantId))).toBeNull();
  });
});
