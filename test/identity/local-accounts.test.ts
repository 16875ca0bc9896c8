import { describe, expect, it } from 'vitest';
import { AccountError, LocalAccounts } from '../../src/identity/local-accounts.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/identity/password-hash.js';
import { MemoryStore } from '../../src/store/index.js';

const FAST = { cost: 1024, block_size: 8, parallelization: 1 };
const config = (scrypt = FAST) => ({ id: 'local', scrypt, min_password_length: 12 });

describe('password hashes (scrypt)', () => {
  it('are salted, self-describing, verify only the right password, and normalize Unicode (NFKC)', async () => {
    const a = await hashPassword('pa\u0073\u0301word-long', FAST);
    const b = await hashPassword('pa\u0073\u0301word-long', FAST);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('pa\u0073\u0301word-long', a)).toBe(true);
    // The precomposed form of the same text (U+015B for s + U+0301) matches.
    expect(await verifyPassword('pa\u015bword-long', a)).toBe(true);
    expect(await verifyPassword('password-long', a)).toBe(false);
    expect(await verifyPassword('anything', 'not-a-hash')).toBe(false);
    expect(needsRehash(a, FAST)).toBe(false);
    expect(needsRehash(a, { ...FAST, cost: 2048 })).toBe(true);
  });
});

describe('local accounts', () => {
  it('keep a stable random subject, find by username or email case-insensitively, and refuse clashes', async () => {
    const accounts = new LocalAccounts(new MemoryStore(), config(), 'https://login.example.com');
    const account = await accounts.add({ username: 'Mallory', password: 'a long password', email: 'M@Example.org' });
    expect(account.username).toBe('mallory');
    expect(account.id).not.toContain('mallory');
    expect((await accounts.find('MALLORY'))?.id).toBe(account.id);
    expect((await accounts.find('m@example.org'))?.id).toBe(account.id);
    expect(accounts.identity(account)).toMatchObject({
      provider: 'local',
      issuer: 'https://login.example.com/local',
      subject: account.id,
      email_verified: false,
    });
    await expect(accounts.add({ username: 'mallory', password: 'a long password' })).rejects.toThrow(AccountError);
    await expect(accounts.add({ username: 'm@example.org', password: 'a long password' })).rejects.toThrow(
      /already used/,
    );
    await expect(
      accounts.add({ username: 'other', password: 'a long password', email: 'm@example.org' }),
    ).rejects.toThrow(/already used/);
    await expect(accounts.add({ username: 'short', password: 'too short' })).rejects.toThrow(/at least 12/);
    await expect(accounts.add({ username: 'bad name', password: 'a long password' })).rejects.toThrow(/username/);
    // Removed and re-added: a different subject, so never the old user.
    await accounts.remove('mallory');
    const again = await accounts.add({ username: 'mallory', password: 'a long password' });
    expect(again.id).not.toBe(account.id);
  });

  it('upgrades a hash made with older parameters at the next successful login', async () => {
    const store = new MemoryStore();
    await new LocalAccounts(store, config(), 'https://x.example').add({
      username: 'nina',
      password: 'a long password',
    });
    const stronger = new LocalAccounts(store, config({ ...FAST, cost: 2048 }), 'https://x.example');
    expect((await stronger.find('nina'))!.hash).toMatch(/^scrypt\$1024\$/);
    expect((await stronger.authenticate('nina', 'wrong password')).ok).toBe(false);
    expect((await stronger.find('nina'))!.hash).toMatch(/^scrypt\$1024\$/);
    expect((await stronger.authenticate('nina', 'a long password')).ok).toBe(true);
    expect((await stronger.find('nina'))!.hash).toMatch(/^scrypt\$2048\$/);
    expect(await stronger.authenticate('nobody', 'a long password')).toEqual({ ok: false, reason: 'unknown user' });
  });
});
