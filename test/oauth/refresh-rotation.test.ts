import { describe, expect, it } from 'vitest';
import { tokenHash } from '../../src/oauth/crypto.js';
import { grantOf, mintToken, newGrantId, recordKeys } from '../../src/oauth/record-keys.js';
import { RefreshRotation, type RefreshLookup } from '../../src/oauth/refresh-rotation.js';
import { refreshCodec, serializeRecord, type RefreshRecord } from '../../src/oauth/grant-records.js';
import { MemoryStore, type Store } from '../../src/store/index.js';

const GRACE = 30;

/** A store holding one live refresh token of a fresh grant. */
async function issued(store: Store): Promise<{ token: string; record: RefreshRecord }> {
  const grantId = newGrantId();
  const record: RefreshRecord = {
    clientId: 'web',
    userId: 'u1',
    scope: 'openid',
    grantId,
    authTime: 1,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
    offline: false,
  };
  const token = mintToken(grantId);
  await store.put(recordKeys.rt(grantId, tokenHash(token)), serializeRecord(refreshCodec, record), 3600);
  return { token, record };
}

function usable(found: RefreshLookup) {
  if (found.status !== 'usable') throw new Error(`expected a usable token, got ${found.status}`);
  return found;
}

async function rotated(rotation: RefreshRotation, token: string): Promise<string> {
  const outcome = await rotation.rotate(usable(await rotation.find(token, GRACE)), GRACE);
  if (outcome.status !== 'rotated') throw new Error(`expected a rotation, got ${outcome.status}`);
  return outcome.token;
}

describe('refresh rotation races, decided inside the conditional write (RFC 9700 §4.14.2)', () => {
  it('a retry that loses to the use of the unused successor is a replay', async () => {
    const store = new MemoryStore();
    const rotation = new RefreshRotation(store, 3600);
    const { token: t0 } = await issued(store);
    const s0 = await rotated(rotation, t0);
    const retry = usable(await rotation.find(t0, GRACE));
    const s1 = await rotated(rotation, s0); // the holder of s0 uses it first
    expect(await rotation.rotate(retry, GRACE)).toMatchObject({ status: 'replayed' });
    expect(await store.get(recordKeys.rt(grantOf(s1)!, tokenHash(s1)))).not.toBeNull(); // revoking is the caller's part
  });

  it('a use of the successor that loses to a retry finds it retired: a replay', async () => {
    const store = new MemoryStore();
    const rotation = new RefreshRotation(store, 3600);
    const { token: t0 } = await issued(store);
    const s0 = await rotated(rotation, t0);
    const use = usable(await rotation.find(s0, GRACE));
    const s1 = await rotated(rotation, t0); // the retry comes first and retires s0
    expect(await rotation.rotate(use, GRACE)).toMatchObject({ status: 'replayed' });
    expect(await rotation.find(s0, GRACE)).toMatchObject({ status: 'replayed' });
    expect(await rotation.find(s1, GRACE)).toMatchObject({ status: 'usable' });
  });

  it('two presentations that both saw the token live: the later one retries, one chain stays alive', async () => {
    const store = new MemoryStore();
    const rotation = new RefreshRotation(store, 3600);
    const { token: t0, record } = await issued(store);
    const [a, b] = [usable(await rotation.find(t0, GRACE)), usable(await rotation.find(t0, GRACE))];
    const first = await rotation.rotate(a, GRACE);
    const second = await rotation.rotate(b, GRACE);
    expect([first.status, second.status]).toEqual(['rotated', 'rotated']);
    const live = await store.smembers(recordKeys.grantTokens(record.grantId));
    expect(live).toEqual([tokenHash((second as { token: string }).token)]);
    // Strict: the same race leaves one winner and a replay.
    const { token: u0 } = await issued(store);
    const [c, d] = [usable(await rotation.find(u0, 0)), usable(await rotation.find(u0, 0))];
    expect((await rotation.rotate(c, 0)).status).toBe('rotated');
    expect((await rotation.rotate(d, 0)).status).toBe('replayed');
  });

  it('a rotation that keeps losing races gives up with 503 temporarily_unavailable, writing nothing', async () => {
    const backing = new MemoryStore();
    const { token, record } = await issued(backing);
    let attempts = 0;
    // Every conditional write finds the token changed by someone else.
    const contended = new Proxy(backing, {
      get(target, prop) {
        if (prop === 'batchIf') {
          return async () => ({
            applied: false,
            current: [serializeRecord(refreshCodec, { ...record, scope: `openid ${++attempts}` }), null, null],
          });
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const rotation = new RefreshRotation(contended, 3600);
    await expect(rotation.rotate(usable(await rotation.find(token, GRACE)), GRACE)).rejects.toMatchObject({
      status: 503,
      error: 'temporarily_unavailable',
    });
    expect(attempts).toBe(16);
    expect(await backing.get(recordKeys.rt(grantOf(token)!, tokenHash(token)))).not.toBeNull();
  });
});
