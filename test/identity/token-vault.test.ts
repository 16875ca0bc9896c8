import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { TokenVault, type VaultEntry } from '../../src/identity/token-vault.js';
import { MemoryStore } from '../../src/store/index.js';
import { slotOf } from '../../src/store/slots.js';

const key = (id: string, byte: number) => ({ id, secret: Buffer.alloc(32, byte).toString('base64url') });
const K1 = key('k1', 1);
const K2 = key('k2', 2);
const entry: VaultEntry = {
  provider: 'github',
  subject: '42',
  tokens: { accessToken: 'gho_secret', tokenType: 'Bearer', scope: 'read:user', refreshToken: 'ghr_secret' },
  storedAt: 1,
};

/** docs/security.md S-VAULT-01. */
describe('the token vault (AES-256-GCM, user, provider and subject as associated data)', () => {
  it('seals without the tokens in clear and opens for the same user, provider and subject only', () => {
    const vault = new TokenVault(new MemoryStore(), { keys: [K1] });
    const sealed = vault.seal('u1', entry);
    expect(sealed).toMatch(/^v1\.k1\./);
    expect(sealed).not.toContain('gho_secret');
    expect(Buffer.from(sealed.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('secret');
    expect(vault.open('u1', 'github', '42', sealed)).toEqual(entry);
    // Copied under another user, provider or subject, it does not open.
    expect(vault.open('u2', 'github', '42', sealed)).toBeUndefined();
    expect(vault.open('u1', 'google', '42', sealed)).toBeUndefined();
    expect(vault.open('u1', 'github', '43', sealed)).toBeUndefined();
  });

  it('refuses a tampered, truncated-tag or unknown-key entry', () => {
    const vault = new TokenVault(new MemoryStore(), { keys: [K1] });
    const parts = vault.seal('u1', entry).split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0]! ^= 1;
    const tampered = [...parts.slice(0, 3), body.toString('base64url'), parts[4]].join('.');
    expect(vault.open('u1', 'github', '42', tampered)).toBeUndefined();
    const shortTag = [...parts.slice(0, 4), Buffer.from(parts[4]!, 'base64url').subarray(0, 4).toString('base64url')];
    expect(vault.open('u1', 'github', '42', shortTag.join('.'))).toBeUndefined();
    const otherKey = new TokenVault(new MemoryStore(), { keys: [K2] });
    expect(otherKey.open('u1', 'github', '42', parts.join('.'))).toBeUndefined();
  });

  it('rotates keys: the first encrypts, every listed key decrypts', () => {
    const old = new TokenVault(new MemoryStore(), { keys: [K1] });
    const rotated = new TokenVault(new MemoryStore(), { keys: [K2, K1] });
    const sealedOld = old.seal('u1', entry);
    expect(rotated.open('u1', 'github', '42', sealedOld)).toEqual(entry);
    const sealedNew = rotated.seal('u1', entry);
    expect(sealedNew).toMatch(/^v1\.k2\./);
    expect(old.open('u1', 'github', '42', sealedNew)).toBeUndefined();
  });

  it('keys an entry and its lock in the user record slot (user:{id})', async () => {
    expect(slotOf(TokenVault.key('u1', 'github', '42'))).toBe(slotOf('user:{u1}'));
    expect(slotOf(TokenVault.lockKey('u1', 'github', '42'))).toBe(slotOf('user:{u1}'));
    const store = new MemoryStore();
    const vault = new TokenVault(store, { keys: [K1] });
    await store.batch([vault.putOp('u1', entry)]);
    const found = await vault.read('u1', [
      { provider: 'github', subject: '42' },
      { provider: 'google', subject: 'x' },
    ]);
    expect(found.map((f) => f.entry)).toEqual([entry]);
    await vault.forget('u1', [{ provider: 'github', subject: '42' }]);
    expect(await vault.read('u1', [{ provider: 'github', subject: '42' }])).toEqual([]);
  });
});

describe('token vault configuration', () => {
  const base = { issuer: 'https://login.example.com' };
  const provider = { id: 'gh', use: 'github', client_id: 'x', client_secret: 'y', store_tokens: true };

  it('refuses store_tokens without a vault key', () => {
    const result = configSchema.safeParse({ ...base, providers: [provider] });
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('needs token_vault.keys');
    expect(configSchema.safeParse({ ...base, providers: [provider], token_vault: { keys: [K1] } }).success).toBe(true);
  });

  it('refuses a short key, a repeated key id, and upstream_tokens naming a provider that keeps none', () => {
    const short = { keys: [{ id: 'k', secret: Buffer.alloc(16).toString('base64url') }] };
    expect(configSchema.safeParse({ ...base, token_vault: short }).success).toBe(false);
    expect(configSchema.safeParse({ ...base, token_vault: { keys: [K1, { ...K2, id: 'k1' }] } }).success).toBe(false);
    const client = {
      client_id: 'app',
      client_secret: 'app-secret-0123456789',
      grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      upstream_tokens: ['gh'],
    };
    const stores = { ...base, providers: [provider], token_vault: { keys: [K1] } };
    expect(configSchema.safeParse({ ...stores, clients: [client] }).success).toBe(true);
    const notStoring = { ...stores, providers: [{ ...provider, store_tokens: false }] };
    expect(configSchema.safeParse({ ...notStoring, clients: [client] }).success).toBe(false);
    const noGrant = { ...client, grant_types: ['client_credentials'] };
    expect(configSchema.safeParse({ ...stores, clients: [noGrant] }).success).toBe(false);
  });
});
