import { beforeEach, describe, expect, it } from 'vitest';
import { UnitOfWork } from '../../src/store/unit-of-work.js';
import { recentAudit } from '../../src/identity/audit.js';
import { linkKey, UserBusy, Users, type ExternalIdentity, type LoginPolicy } from '../../src/identity/users.js';
import { MemoryStore, StoreUnavailable, type Store } from '../../src/store/index.js';
import { inconsistencies } from './consistency.js';

const identity = (provider: string, subject: string, extra: Partial<ExternalIdentity> = {}): ExternalIdentity => ({
  provider,
  issuer: `https://${provider}.example`,
  subject,
  email_verified: false,
  ...extra,
});
const NO_EMAIL_LINKS: LoginPolicy = { sync: 'force', linkByEmail: false };

/** The store as `wrap` changes it; everything else passes through. */
function intercept(store: Store, wrap: Partial<Store>): Store {
  return new Proxy(store, {
    get: (target, name) => {
      const own = (wrap as Record<string | symbol, unknown>)[name];
      if (own !== undefined) return own;
      const value = Reflect.get(target, name) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('user records and link rows: repair after a request died, older layouts, cost', () => {
  let store: MemoryStore;
  let users: Users;
  beforeEach(() => {
    store = new MemoryStore();
    users = new Users(store);
  });
  const login = async (id: ExternalIdentity, policy = NO_EMAIL_LINKS, on: Users = users) => {
    const work = new UnitOfWork(store);
    const result = await on.resolve(id, work, policy, '203.0.113.5');
    await work.commit();
    return result;
  };

  it.each([
    ['a link row of the older layout (the user id alone)', (userId: string) => userId],
    ['a link row with a claim', (userId: string) => `${userId} claim-of-a-dead-request`],
  ])('lists an identity whose row points to a user not listing it, at its next login: %s', async (_, row) => {
    const home = await login(identity('github', 'home'));
    const orphan = identity('google', 'orphan', { name: 'Orphaned' });
    await store.put(linkKey(orphan), row(home.user.id));
    const again = await login(orphan);
    expect(again.user.id).toBe(home.user.id);
    expect(again.created).toBe(false);
    expect((await users.get(home.user.id))!.identities.map((i) => i.provider).sort()).toEqual(['github', 'google']);
    expect(await inconsistencies(store, users, [home.user.id], [identity('github', 'home'), orphan])).toEqual([]);
  });

  it('finishes an unlink whose request died half-way, at the next read, and audits it once', async () => {
    const home = identity('github', 'h');
    const extra = identity('google', 'x', { email: 'x@example.org', email_verified: true });
    const { user } = await login(home);
    await users.link(user.id, extra);
    // The request dies right after deciding the unlink: its link row is still there.
    let failures = 0;
    const dying = new Users(
      intercept(store, {
        compareAndSet: async (key, expected, value) => {
          if (value === null && failures++ === 0) throw new StoreUnavailable('connection lost');
          return store.compareAndSet(key, expected, value);
        },
      }),
    );
    await expect(dying.unlink(user.id, 'google', 'x', '192.0.2.1')).rejects.toBeInstanceOf(StoreUnavailable);
    expect(await store.get(linkKey(extra))).not.toBeNull();
    const after = await users.get(user.id);
    expect(after!.identities.map((i) => i.provider)).toEqual(['github']);
    expect(after!.emails).toEqual([]);
    expect(await store.get(linkKey(extra))).toBeNull();
    await users.get(user.id);
    expect((await recentAudit(store, user.id)).filter((e) => e.action === 'unlink')).toEqual([
      expect.objectContaining({ provider: 'google', ip: '192.0.2.1' }),
    ]);
    // The identity is free: its next login makes a new user.
    expect((await login(extra)).created).toBe(true);
    expect(await inconsistencies(store, users, [user.id], [home, extra])).toEqual([]);
  });

  it('reads users of the layout before per-user hash tags, and moves them at their next write', async () => {
    const home = identity('github', 'old-timer', { name: 'Old Timer' });
    const id = 'legacy-user-1';
    const legacy = {
      id,
      created_at: 1_700_000_000,
      updated_at: 1_700_000_000,
      profile: { name: 'Old Timer' },
      emails: [],
      identities: [{ provider: 'github', issuer: home.issuer, subject: home.subject, linked_at: 1_700_000_000 }],
    };
    await store.put(`user:${id}`, JSON.stringify(legacy));
    await store.put(linkKey(home), id);
    const created = { at: 1_700_000_000, action: 'create', provider: 'github', subject: home.subject };
    await store.sadd(`audit:${id}`, [JSON.stringify(created)]);
    const again = await login({ ...home, name: 'Old Timer Jr.' });
    expect(again).toMatchObject({ created: false, user: { id, created_at: 1_700_000_000 } });
    expect(again.user.profile.name).toBe('Old Timer Jr.');
    expect(await store.get(`user:{${id}}`)).toContain('Old Timer Jr.');
    const extra = identity('gitlab', 'new-method');
    await users.link(id, extra);
    // The identity listed without a claim still has its link row removed on unlink.
    await users.unlink(id, 'github', home.subject);
    expect(await store.get(linkKey(home))).toBeNull();
    expect((await recentAudit(store, id)).map((e) => e.action).sort()).toEqual(['create', 'link', 'unlink']);
    expect(await inconsistencies(store, users, [id], [home, extra])).toEqual([]);
  });

  it('keeps the round trips of a login: 2 for a known identity, 2 for a new one, 4 to link by email', async () => {
    const trips = async (run: () => Promise<unknown>) => {
      const before = store.roundTrips;
      await run();
      return store.roundTrips - before;
    };
    const ann = identity('google', 'ann', { email: 'ann@example.org', email_verified: true });
    const work = () => new UnitOfWork(store);
    expect(
      await trips(async () => {
        const w = work();
        await users.resolve(ann, w);
        await w.commit();
      }),
    ).toBe(3);
    expect(await trips(() => users.resolve(ann, work()))).toBe(2);
    const byEmail: LoginPolicy = { sync: 'import', linkByEmail: true };
    expect(await trips(() => users.resolve(ann, work(), byEmail))).toBe(2);
    let linked: Awaited<ReturnType<Users['resolve']>> | undefined;
    const github = identity('github', 'ann-gh', { email: 'ann@example.org', email_verified: true });
    expect(await trips(async () => (linked = await users.resolve(github, work(), byEmail)))).toBe(4);
    expect(linked).toMatchObject({ linkedByEmail: true });
    expect((await users.get(linked!.user.id))!.identities).toHaveLength(2);
  });

  it('gives up with a 503 to try again, instead of looping, while other writes keep winning', async () => {
    const { user } = await login(identity('github', 'busy'));
    let writes = 0;
    const contended = new Users(
      intercept(store, {
        batch: async (ops) => {
          // Another request rewrites the record just before each of this one's writes.
          for (const op of ops) {
            if (op.op !== 'compareAndSet' || !op.expected) continue;
            await store.put(op.key, `${op.expected.slice(0, -1)},"x":${++writes}}`);
          }
          return store.batch(ops);
        },
      }),
    );
    const extra = identity('gitlab', 'busy-2');
    const failure = await contended.link(user.id, extra).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(UserBusy);
    expect(failure).toMatchObject({ status: 503, error: 'temporarily_unavailable', headers: { 'Retry-After': '1' } });
    expect(writes).toBeGreaterThan(1);
    expect(writes).toBeLessThan(40);
    // The link row was claimed before the writes lost: the identity's next login lists it.
    expect((await login(extra)).user.id).toBe(user.id);
    expect(await inconsistencies(store, users, [user.id], [identity('github', 'busy'), extra])).toEqual([]);
  });
});
