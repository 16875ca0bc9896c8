import { describe, expect, it } from 'vitest';
import { parseRecord, refreshCodec, serializeRecord } from '../../src/oauth/grant-records.js';
import { STORE_KINDS } from '../support/broker-fixture.js';
import { sleep, useRefreshHarness, type Tokens } from '../support/refresh-harness.js';

async function expectError(res: Response, status: number, error: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(((await res.json()) as { error: string }).error).toBe(error);
}

const tokensOf = async (res: Response): Promise<Tokens> => {
  expect(res.status).toBe(200);
  const tokens = (await res.json()) as Tokens;
  expect(tokens.refresh_token).toEqual(expect.any(String));
  return tokens;
};

for (const kind of STORE_KINDS) {
  describe(`a refused refresh spends nothing (issue 15.1), ${kind} store`, () => {
    const h = useRefreshHarness(kind);

    it('a broader scope is invalid_scope, and the same token then still refreshes (RFC 6749 §6)', async () => {
      const t0 = await h().login();
      await expectError(await h().refresh(t0.refresh_token, { scope: 'openid profile email' }), 400, 'invalid_scope');
      expect(await h().active(t0.refresh_token)).toBe(true);
      const t1 = await tokensOf(await h().refresh(t0.refresh_token));
      expect(t1.refresh_token).not.toBe(t0.refresh_token);
      await tokensOf(await h().refresh(t1.refresh_token, { scope: 'openid' }));
    });

    it('an expired grant is invalid_grant and leaves the token and no used marker behind', async () => {
      const t0 = await h().login();
      const store = h().app.store;
      const record = parseRecord(refreshCodec, await store.get(h().key(t0.refresh_token)))!;
      record.expiresAt = Math.floor(Date.now() / 1000) - 1;
      await store.put(h().key(t0.refresh_token), serializeRecord(refreshCodec, record), 60);
      await expectError(await h().refresh(t0.refresh_token), 400, 'invalid_grant');
      expect(await store.get(h().key(t0.refresh_token))).not.toBeNull();
      expect(await store.get(h().key(t0.refresh_token, 'rt-used'))).toBeNull();
    });

    it('a refresh costs 3 store round trips: read the token, read the user, rotate', async () => {
      const t0 = await h().login();
      const before = h().app.store.roundTrips;
      await tokensOf(await h().refresh(t0.refresh_token));
      expect(h().app.store.roundTrips - before).toBe(3);
    });
  });

  describe(`a retried refresh gets a working pair; a replay revokes the family (issue 19.2), ${kind} store`, () => {
    const h = useRefreshHarness(kind);

    it('the answer was lost: the retry gets a new pair, and the undelivered successor is retired', async () => {
      const t0 = await h().login();
      const lost = await tokensOf(await h().refresh(t0.refresh_token)); // never reaches the client
      const t1 = await tokensOf(await h().refresh(t0.refresh_token));
      expect(t1.refresh_token).not.toBe(lost.refresh_token);
      expect(await h().active(lost.refresh_token)).toBe(false);
      expect(await h().active(t1.refresh_token)).toBe(true);
      const t2 = await tokensOf(await h().refresh(t1.refresh_token));
      expect(await h().active(t2.refresh_token)).toBe(true);
    });

    it('the client aborted the request during the rotation: the retry gets a working pair', async () => {
      const t0 = await h().login();
      const abort = new AbortController();
      const rotated = h().hook.arm(() => abort.abort());
      await expect(h().refresh(t0.refresh_token, {}, { signal: abort.signal })).rejects.toThrow();
      await rotated;
      const t1 = await tokensOf(await h().refresh(t0.refresh_token));
      await tokensOf(await h().refresh(t1.refresh_token));
    });

    it('RFC 9700 §4.14.2: the old token after its successor was used is a replay: the family is revoked', async () => {
      const t0 = await h().login();
      const t1 = await tokensOf(await h().refresh(t0.refresh_token));
      const t2 = await tokensOf(await h().refresh(t1.refresh_token));
      await expectError(await h().refresh(t0.refresh_token), 400, 'invalid_grant');
      expect(await h().active(t2.refresh_token)).toBe(false);
      await expectError(await h().refresh(t2.refresh_token), 400, 'invalid_grant');
      const bearer = { authorization: `Bearer ${t2.access_token}` };
      const userinfo = await fetch(`${h().app.url}/userinfo`, { headers: bearer });
      expect(userinfo.status).toBe(401);
    });

    it('RFC 9700 §4.14.2: a retired successor, presented after all, is invalidated: family revoked', async () => {
      const t0 = await h().login();
      const retired = await tokensOf(await h().refresh(t0.refresh_token));
      const t1 = await tokensOf(await h().refresh(t0.refresh_token));
      await expectError(await h().refresh(retired.refresh_token), 400, 'invalid_grant');
      expect(await h().active(t1.refresh_token)).toBe(false);
      await expectError(await h().refresh(t0.refresh_token), 400, 'invalid_grant');
    });
  });

  describe(`strict rotation (refresh_token_reuse_grace_s: 0), ${kind} store`, () => {
    const h = useRefreshHarness(kind, { tokens: { refresh_token_reuse_grace_s: 0 } });

    it('S-RT-02: ten parallel refreshes of one token: one success, others invalid_grant, family revoked', async () => {
      const t0 = await h().login();
      const answers = await Promise.all(Array.from({ length: 10 }, () => h().refresh(t0.refresh_token)));
      const winners = answers.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      for (const loser of answers.filter((r) => r.status !== 200)) await expectError(loser, 400, 'invalid_grant');
      const next = await tokensOf(winners[0]!);
      await expectError(await h().refresh(next.refresh_token), 400, 'invalid_grant');
    });

    it('a refused refresh still spends nothing', async () => {
      const t0 = await h().login();
      await expectError(await h().refresh(t0.refresh_token, { scope: 'openid email' }), 400, 'invalid_scope');
      await tokensOf(await h().refresh(t0.refresh_token));
    });
  });
}

describe('the retry window is bounded', () => {
  const h = useRefreshHarness('memory', { tokens: { refresh_token_reuse_grace_s: 1 } });

  it('after the window the old token is a replay even while its successor is unused', async () => {
    const t0 = await h().login();
    const t1 = await tokensOf(await h().refresh(t0.refresh_token));
    await sleep(2100);
    await expectError(await h().refresh(t0.refresh_token), 400, 'invalid_grant');
    expect(await h().active(t1.refresh_token)).toBe(false);
  });
});
