import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnitOfWork } from '../../src/store/unit-of-work.js';
import { recentAudit } from '../../src/identity/audit.js';
import {
  LinkConflict,
  UnlinkRefused,
  Users,
  type ExternalIdentity,
  type LoginPolicy,
} from '../../src/identity/users.js';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { inconsistencies } from './consistency.js';
import { jittery } from './jittery-store.js';

const EMAIL = 'ada@example.org';
const identity = (provider: string, subject: string, extra: Partial<ExternalIdentity> = {}): ExternalIdentity => ({
  provider,
  issuer: `https://${provider}.example`,
  subject,
  email: EMAIL,
  email_verified: true,
  ...extra,
});
const expected = (err: unknown) => {
  if (!(err instanceof LinkConflict || err instanceof UnlinkRefused)) throw err;
};

const available = redisServerAvailable();
let server: RedisServer | undefined;
let prefixes = 0;

/** The stores the tests run on: the embedded one, and a real Redis when redis-server is installed. */
type Backend = [name: string, open: () => Promise<Store>];
const redis: Backend = ['redis', () => openRedisStore(server!.url, { prefix: `race${process.pid}-${++prefixes}:` })];
const backends: Backend[] = [['memory', async () => new MemoryStore()], ...(available ? [redis] : [])];

beforeAll(async () => {
  if (available) server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const title = 'linking and unlinking while the same identity logs in elsewhere (%s, issue 19.1)';
describe.each(backends)(title, (_name, open) => {
  let store: Store;
  /** What the broker's requests see: the same store, each round trip after a random pause. */
  let shared: Store;
  let users: Users;
  beforeEach(async () => {
    store = await open();
    shared = jittery(store);
    users = new Users(shared);
  });
  afterEach(async () => {
    await store.close();
  });

  /** One browser's login as the callback does it: resolve, then the caller's batch. */
  const login = async (id: ExternalIdentity, policy: LoginPolicy) => {
    const work = new UnitOfWork(shared);
    const result = await users.resolve(id, work, policy, '203.0.113.7');
    await work.commit();
    return result.user.id;
  };

  it('keeps user records and link rows in agreement, whatever the interleaving', async () => {
    const home = identity('github', 'home');
    const ada = await login(home, { sync: 'force', linkByEmail: false });
    const seen = new Set([ada]);
    const raced: ExternalIdentity[] = [];
    for (let round = 0; round < 24; round++) {
      // Odd rounds also let a login of the freed identity join Ada again by her verified email.
      const policy: LoginPolicy = { sync: 'force', linkByEmail: round % 2 === 1 };
      const contested = identity('google', `g${round}`, { name: `Round ${round}` });
      raced.push(contested);
      await users.link(ada, contested);
      const toggler = (async () => {
        for (let i = 0; i < 3; i++) {
          await users.unlink(ada, 'google', contested.subject, '198.51.100.1').catch(expected);
          await users.link(ada, contested, '198.51.100.1').catch(expected);
        }
      })();
      const browsers = Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 3; i++) seen.add(await login(contested, policy));
      });
      await Promise.all([toggler, ...browsers]);
      expect(await inconsistencies(store, users, seen, [home, ...raced]), `after round ${round}`).toEqual([]);
    }
    const user = await users.get(ada);
    expect(user!.identities.some((i) => i.provider === 'github' && i.subject === 'home')).toBe(true);
  });

  it('a login that read the user before a link does not drop the link when its batch lands', async () => {
    const home = identity('github', 'stale-1', { email_verified: false });
    const extra = identity('google', 'stale-1g', { email_verified: false });
    const id = await login(home, { sync: 'force', linkByEmail: false });
    const slow = new UnitOfWork(shared);
    await users.resolve({ ...home, name: 'Renamed' }, slow, { sync: 'force', linkByEmail: false });
    await users.link(id, extra);
    await slow.commit();
    expect((await users.get(id))!.identities.map((i) => i.provider).sort()).toEqual(['github', 'google']);
    expect((await users.findByIdentity(extra))!.id).toBe(id);
    expect(await inconsistencies(store, users, [id], [home, extra])).toEqual([]);
  });

  it('a login that read the user before an unlink brings nothing back, nor costs the next owner its row', async () => {
    const home = identity('github', 'stale-2', { email_verified: false });
    const extra = identity('google', 'stale-2g', { email: 'old@example.org', email_verified: true });
    const id = await login(home, { sync: 'force', linkByEmail: false });
    await users.link(id, extra);
    const slow = new UnitOfWork(shared);
    await users.resolve(extra, slow, { sync: 'force', linkByEmail: false });
    await users.unlink(id, 'google', extra.subject);
    await slow.commit();
    const after = await users.get(id);
    expect(after!.identities.map((i) => i.provider)).toEqual(['github']);
    expect(after!.emails.map((e) => e.source)).toEqual(['github']);
    // The freed identity signs in as a new user; the old one cannot unlink it from them.
    const next = await login(extra, { sync: 'force', linkByEmail: false });
    expect(next).not.toBe(id);
    await expect(users.unlink(id, 'google', extra.subject)).rejects.toBeInstanceOf(UnlinkRefused);
    expect((await users.findByIdentity(extra))!.id).toBe(next);
    expect(await inconsistencies(store, users, [id, next], [home, extra])).toEqual([]);
  });

  it('never unlinks the last method, even when two unlinks race', async () => {
    for (let round = 0; round < 6; round++) {
      const a = identity('github', `a${round}`, { email_verified: false });
      const b = identity('gitlab', `b${round}`, { email_verified: false });
      const id = await login(a, { sync: 'force', linkByEmail: false });
      await users.link(id, b);
      const outcomes = await Promise.allSettled([
        users.unlink(id, 'github', a.subject),
        users.unlink(id, 'gitlab', b.subject),
      ]);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(UnlinkRefused);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      const user = await users.get(id);
      expect(user!.identities).toHaveLength(1);
      expect(await inconsistencies(store, users, [id], [a, b])).toEqual([]);
    }
  });

  it('applies a repeated link or unlink once: one link row, one audit entry each', async () => {
    const home = identity('github', 'once', { email_verified: false });
    const extra = identity('google', 'once-g', { email_verified: false });
    const id = await login(home, { sync: 'force', linkByEmail: false });
    // Retries come from different addresses here, so two applied attempts could not merge in the audit set.
    const tries = Array.from({ length: 4 }, (_, i) => i);
    const links = await Promise.allSettled(tries.map((i) => users.link(id, extra, `198.51.100.${i}`)));
    expect(links.every((o) => o.status === 'fulfilled')).toBe(true);
    expect((await users.get(id))!.identities).toHaveLength(2);
    const unlinks = await Promise.allSettled(tries.map((i) => users.unlink(id, 'google', 'once-g', `192.0.2.${i}`)));
    for (const o of unlinks) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(UnlinkRefused);
    expect(unlinks.some((o) => o.status === 'fulfilled')).toBe(true);
    const audit = await recentAudit(store, id);
    expect(audit.filter((e) => e.action === 'link')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'unlink')).toHaveLength(1);
    expect((await users.get(id))!.identities.map((i) => i.provider)).toEqual(['github']);
    expect(await inconsistencies(store, users, [id], [home, extra])).toEqual([]);
  });

  it('makes one user of concurrent first logins, with one create entry', async () => {
    const first = identity('gitlab', 'new', { email_verified: false });
    const ids = await Promise.all(Array.from({ length: 6 }, () => login(first, { sync: 'force', linkByEmail: false })));
    expect(new Set(ids).size).toBe(1);
    expect((await recentAudit(store, ids[0]!)).filter((e) => e.action === 'create')).toHaveLength(1);
    expect(await inconsistencies(store, users, ids, [first])).toEqual([]);
  });
});
