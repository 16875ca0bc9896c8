import { beforeEach, describe, expect, it } from 'vitest';
import { UnitOfWork } from '../../src/store/unit-of-work.js';
import { recentAudit } from '../../src/identity/audit.js';
import { LinkConflict, UnlinkRefused, Users, type ExternalIdentity } from '../../src/identity/users.js';
import { MemoryStore } from '../../src/store/memory.js';

const identity = (provider: string, subject: string, extra: Partial<ExternalIdentity> = {}): ExternalIdentity => ({
  provider,
  issuer: `https://${provider}.example`,
  subject,
  email_verified: false,
  ...extra,
});

describe('identity linking policy (docs/security.md "Linking")', () => {
  let store: MemoryStore;
  let users: Users;
  beforeEach(() => {
    store = new MemoryStore();
    users = new Users(store);
  });
  const login = async (id: ExternalIdentity, linkByEmail = false, sync: 'import' | 'force' = 'force') => {
    const work = new UnitOfWork(store);
    const result = await users.resolve(id, work, { linkByEmail, sync }, '203.0.113.9');
    await work.commit();
    return result;
  };

  it('creates a user at the first login and finds it again at the next', async () => {
    const first = await login(identity('github', '42', { name: 'Ada' }));
    expect(first.created).toBe(true);
    const again = await login(identity('github', '42', { name: 'Ada L.' }));
    expect(again.created).toBe(false);
    expect(again.user.id).toBe(first.user.id);
    expect(again.user.profile.name).toBe('Ada L.');
  });

  it('makes exactly one user when two first logins race', async () => {
    const results = await Promise.all([login(identity('google', 'g1')), login(identity('google', 'g1'))]);
    expect(results[0]!.user.id).toBe(results[1]!.user.id);
  });

  it('keys on (provider, issuer, subject): the same subject at another provider is another user', async () => {
    const a = await login(identity('github', '7'));
    const b = await login(identity('gitlab', '7'));
    expect(a.user.id).not.toBe(b.user.id);
  });

  it('does not auto-link the same verified email at two providers by default', async () => {
    const a = await login(identity('google', 'g', { email: 'ann@example.org', email_verified: true }));
    const b = await login(identity('github', 'h', { email: 'ann@example.org', email_verified: true }));
    expect(b.user.id).not.toBe(a.user.id);
    expect(b.created).toBe(true);
  });

  it('auto-links with link_by_email when both sides verified the email, and audits it', async () => {
    const a = await login(identity('google', 'g', { email: 'Ann@Example.org', email_verified: true }));
    const b = await login(identity('github', 'h', { email: 'ann@example.org', email_verified: true }), true);
    expect(b.linkedByEmail).toBe(true);
    expect(b.user.id).toBe(a.user.id);
    expect(b.user.identities.map((i) => i.provider).sort()).toEqual(['github', 'google']);
    const audit = await recentAudit(store, a.user.id);
    expect(audit.find((e) => e.action === 'auto-link')).toMatchObject({ provider: 'github', ip: '203.0.113.9' });
  });

  it(
    "never lets a victim's unverified email be claimed, nor an unverified upstream email claim a " + 'verified one',
    async () => {
      const victim = await login(identity('entra', 'v', { email: 'vic@example.org', email_verified: false }));
      const attacker = await login(identity('github', 'x', { email: 'vic@example.org', email_verified: true }), true);
      expect(attacker.user.id).not.toBe(victim.user.id);
      const verifiedVictim = await login(identity('google', 'v2', { email: 'val@example.org', email_verified: true }));
      // nOAuth: a provider whose email claim is mutable reports it unverified, so it never links.
      const nOAuth = await login(identity('entra', 'evil', { email: 'val@example.org', email_verified: false }), true);
      expect(nOAuth.user.id).not.toBe(verifiedVictim.user.id);
    },
  );

  it('refuses to link an identity already linked to another user (no silent move)', async () => {
    const a = await login(identity('github', 'a'));
    const b = await login(identity('google', 'b'));
    await expect(users.link(b.user.id, identity('github', 'a'))).rejects.toBeInstanceOf(LinkConflict);
    expect((await users.findByIdentity(identity('github', 'a')))!.id).toBe(a.user.id);
  });

  it('links explicitly, audits, and unlinks; the last identity cannot be removed', async () => {
    const a = await login(identity('github', 'a', { email: 'a@example.org', email_verified: true }));
    const linked = await users.link(
      a.user.id,
      identity('google', 'ga', { email: 'a2@example.org', email_verified: true }),
      '198.51.100.1',
    );
    expect(linked.identities).toHaveLength(2);
    expect((await users.findByIdentity(identity('google', 'ga')))!.id).toBe(a.user.id);
    const after = await users.unlink(a.user.id, 'google', 'ga', '198.51.100.1');
    expect(after.identities.map((i) => i.provider)).toEqual(['github']);
    expect(after.emails.map((e) => e.value)).toEqual(['a@example.org']);
    // The identity is free again: its next login makes a new user.
    expect(await users.findByIdentity(identity('google', 'ga'))).toBeUndefined();
    await expect(users.unlink(a.user.id, 'github', 'a')).rejects.toBeInstanceOf(UnlinkRefused);
    const audit = await recentAudit(store, a.user.id);
    expect(audit.map((e) => e.action).sort()).toEqual(['create', 'link', 'unlink']);
  });

  it('refreshes the profile per provider policy: force overwrites, import only fills gaps', async () => {
    const first = await login(identity('github', 'p', { name: 'Old', locale: 'en' }));
    const imported = await login(
      identity('github', 'p', { name: 'New', picture: 'https://img.example/p.png' }),
      false,
      'import',
    );
    expect(imported.user.profile).toMatchObject({ name: 'Old', picture: 'https://img.example/p.png' });
    const forced = await login(identity('github', 'p', { name: 'New' }), false, 'force');
    expect(forced.user.profile.name).toBe('New');
    expect(forced.user.id).toBe(first.user.id);
  });

  it('keeps emails with their verified flag and source; the primary is a verified one', async () => {
    const a = await login(identity('github', 'e', { email: 'first@example.org', email_verified: false }));
    expect(a.user.profile).toMatchObject({ email: 'first@example.org', email_verified: false });
    const linked = await users.link(
      a.user.id,
      identity('google', 'e2', { email: 'second@example.org', email_verified: true }),
    );
    expect(linked.emails).toEqual([
      { value: 'first@example.org', verified: false, source: 'github' },
      { value: 'second@example.org', verified: true, source: 'google' },
    ]);
    expect(linked.profile).toMatchObject({ email: 'second@example.org', email_verified: true });
  });
});
