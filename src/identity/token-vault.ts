import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { TokenVaultConfig } from '../config/vault.js';
import type { Store, StoreOp } from '../store/index.js';

/** A provider's tokens as kept in the vault (structurally, upstream's UpstreamTokenSet). */
export interface VaultTokens {
  accessToken: string;
  tokenType: string;
  expiresAt?: number;
  scope: string;
  refreshToken?: string;
}

/** What is kept per (user, provider identity). */
export interface VaultEntry {
  provider: string;
  subject: string;
  tokens: VaultTokens;
  /** Epoch seconds of the login, link or refresh that wrote it. */
  storedAt: number;
}

/** An entry and the exact text it was read from (the condition of a compare-and-write). */
export interface StoredEntry {
  entry: VaultEntry;
  raw: string;
}

const FORMAT = 'v1';
const hash = (value: string) => createHash('sha256').update(value).digest('base64url').slice(0, 22);

/**
 * The upstream token vault: provider tokens per (user, provider identity), sealed with
 * AES-256-GCM under the first configured key, with the user, provider and
 * subject as associated data, so an entry copied under another user or provider does not open.
 * Keys carry the user's hash tag (`{<user id>}`, as the user record), so an entry is written in
 * the same slot, and the same atomic step, as the login's user writes. Nothing here is logged.
 */
export class TokenVault {
  readonly #store: Store;
  readonly #keys: Map<string, Buffer>;
  readonly #current: string;

  constructor(store: Store, config: TokenVaultConfig) {
    this.#store = store;
    this.#keys = new Map(config.keys.map((k) => [k.id, Buffer.from(k.secret, 'base64url')]));
    this.#current = config.keys[0]!.id;
  }

  /** Every entry of a user lives under `vault:{<user>}:`. */
  static key(userId: string, provider: string, subject: string): string {
    return `vault:{${userId}}:${hash(JSON.stringify([provider, subject]))}`;
  }

  /** The short lock of one refresh (single flight across instances). */
  static lockKey(userId: string, provider: string, subject: string): string {
    return `vault-lock:{${userId}}:${hash(JSON.stringify([provider, subject]))}`;
  }

  /** The write that keeps (or replaces) an entry. No TTL: it lives until unlinked, forgotten or refused. */
  putOp(userId: string, entry: VaultEntry): StoreOp & { op: 'put' } {
    return { op: 'put', key: TokenVault.key(userId, entry.provider, entry.subject), value: this.seal(userId, entry) };
  }

  /** The entries of these identities of a user that are kept and open; one store round trip (one slot). */
  async read(userId: string, identities: { provider: string; subject: string }[]): Promise<StoredEntry[]> {
    if (identities.length === 0) return [];
    const keys = identities.map((i) => TokenVault.key(userId, i.provider, i.subject));
    const values = await this.#store.getMany(keys);
    const found: StoredEntry[] = [];
    values.forEach((raw, index) => {
      const { provider, subject } = identities[index]!;
      const entry = raw === null ? undefined : this.open(userId, provider, subject, raw);
      if (raw !== null && entry) found.push({ entry, raw });
    });
    return found;
  }

  /** Forgets the entries of these identities; one round trip. */
  async forget(userId: string, identities: { provider: string; subject: string }[]): Promise<void> {
    if (identities.length === 0) return;
    await this.#store.del(...identities.map((i) => TokenVault.key(userId, i.provider, i.subject)));
  }

  seal(userId: string, entry: VaultEntry): string {
    const key = this.#keys.get(this.#current)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(associatedData(this.#current, userId, entry.provider, entry.subject));
    const body = Buffer.concat([cipher.update(JSON.stringify(entry), 'utf8'), cipher.final()]);
    const parts = [iv, body, cipher.getAuthTag()].map((b) => b.toString('base64url'));
    return [FORMAT, this.#current, ...parts].join('.');
  }

  /** The entry, or undefined when it does not open (unknown key, another user's or provider's, tampered). */
  open(userId: string, provider: string, subject: string, sealed: string): VaultEntry | undefined {
    const [format, kid, iv, body, tag, extra] = sealed.split('.');
    if (format !== FORMAT || kid === undefined || tag === undefined || extra !== undefined) return undefined;
    const key = this.#keys.get(kid);
    if (!key) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv!, 'base64url'), {
        authTagLength: 16,
      });
      decipher.setAAD(associatedData(kid, userId, provider, subject));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const text = Buffer.concat([decipher.update(Buffer.from(body!, 'base64url')), decipher.final()]);
      const entry = JSON.parse(text.toString('utf8')) as VaultEntry;
      return entry.provider === provider && entry.subject === subject ? entry : undefined;
    } catch {
      return undefined;
    }
  }
}

const associatedData = (kid: string, userId: string, provider: string, subject: string) =>
  Buffer.from(JSON.stringify(['login-broker token vault', FORMAT, kid, userId, provider, subject]), 'utf8');
