import { createHash, randomBytes } from 'node:crypto';
import type { LocalAccountsConfig } from '../config/password.js';
import { delAcrossSlots, getAcrossSlots, type Store } from '../store/index.js';
import { dummyHash, hashPassword, MAX_PASSWORD_LENGTH, needsRehash, verifyPassword } from './password-hash.js';
import type { PasswordCheck, PasswordSource } from './password-source.js';
import type { ExternalIdentity } from './users.js';
import { nowS } from '../lib/clock.js';

/**
 * Local accounts: a username (and optionally an email to log in with) and a scrypt hash, kept in
 * the store. An account is an identity like any other: provider = the source id, issuer =
 * `<broker issuer>/local`, subject = a random id fixed at creation. The subject is never the
 * username, so removing an account and adding one with the same name makes a different user.
 */
export interface LocalAccount {
  id: string;
  username: string;
  email?: string;
  email_verified: boolean;
  name?: string;
  hash: string;
  created_at: number;
  updated_at: number;
}

export class AccountError extends Error {
  override readonly name = 'AccountError';
}

/** Letters, digits and . _ @ + -, 1-254 characters: a handle or an email address. */
const LOGIN = /^[\p{L}\p{N}._@+-]{1,254}$/u;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{1,63}$/u;

/** Logins compare case-insensitively, after Unicode normalization. */
export function normalizeLogin(login: string): string {
  return login.normalize('NFKC').trim().toLowerCase();
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

export class LocalAccounts implements PasswordSource {
  readonly kind = 'local' as const;
  readonly id: string;
  readonly issuer: string;
  #dummy: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly config: LocalAccountsConfig,
    brokerIssuer: string,
  ) {
    this.id = config.id;
    this.issuer = `${brokerIssuer}/local`;
  }

  #nameKey(login: string) {
    return `local:${this.id}:user:${digest(normalizeLogin(login))}`;
  }

  #emailKey(login: string) {
    return `local:${this.id}:email:${digest(normalizeLogin(login))}`;
  }

  /** The account a login (username or email) names. Same store reads whether it exists or not. */
  async find(login: string): Promise<LocalAccount | undefined> {
    if (!LOGIN.test(normalizeLogin(login))) return undefined;
    const [byName, alias] = await getAcrossSlots(this.store, [this.#nameKey(login), this.#emailKey(login)]);
    if (byName) return JSON.parse(byName) as LocalAccount;
    if (!alias) return undefined;
    const text = await this.store.get(this.#nameKey(alias));
    return text ? (JSON.parse(text) as LocalAccount) : undefined;
  }

  checkPassword(password: string): void {
    if (password.length < this.config.min_password_length) {
      throw new AccountError(`the password must have at least ${this.config.min_password_length} characters`);
    }
    if (password.length > MAX_PASSWORD_LENGTH)
      throw new AccountError(`the password must have at most ${MAX_PASSWORD_LENGTH} characters`);
  }

  async add(input: {
    username: string;
    password: string;
    email?: string;
    emailVerified?: boolean;
    name?: string;
  }): Promise<LocalAccount> {
    const username = normalizeLogin(input.username);
    if (!LOGIN.test(username)) throw new AccountError('the username must be 1-254 letters, digits or . _ @ + -');
    const email = input.email === undefined ? undefined : normalizeLogin(input.email);
    if (email !== undefined && !EMAIL.test(email)) throw new AccountError('the email address is not valid');
    this.checkPassword(input.password);
    // A login must name one account: a username may not be another account's email, nor the reverse.
    const taken = await getAcrossSlots(this.store, [
      this.#emailKey(username),
      ...(email && email !== username ? [this.#nameKey(email)] : []),
    ]);
    if (taken.some((v) => v !== null))
      throw new AccountError('that username or email is already used by another account');
    const t = nowS();
    const account: LocalAccount = {
      id: randomBytes(16).toString('base64url'),
      username,
      ...(email ? { email } : {}),
      email_verified: email !== undefined && input.emailVerified === true,
      ...(input.name ? { name: input.name } : {}),
      hash: await hashPassword(input.password, this.config.scrypt),
      created_at: t,
      updated_at: t,
    };
    if (!(await this.store.putIfAbsent(this.#nameKey(username), JSON.stringify(account)))) {
      throw new AccountError(`the user "${username}" already exists`);
    }
    if (email && !(await this.store.putIfAbsent(this.#emailKey(email), username))) {
      await this.store.del(this.#nameKey(username));
      throw new AccountError('that email address is already used by another account');
    }
    return account;
  }

  async setPassword(login: string, password: string): Promise<LocalAccount> {
    this.checkPassword(password);
    const account = await this.find(login);
    if (!account) throw new AccountError('no such user');
    const updated = { ...account, hash: await hashPassword(password, this.config.scrypt), updated_at: nowS() };
    await this.store.put(this.#nameKey(account.username), JSON.stringify(updated));
    return updated;
  }

  async remove(login: string): Promise<LocalAccount> {
    const account = await this.find(login);
    if (!account) throw new AccountError('no such user');
    await delAcrossSlots(this.store, [
      this.#nameKey(account.username),
      ...(account.email ? [this.#emailKey(account.email)] : []),
    ]);
    return account;
  }

  identity(account: LocalAccount): ExternalIdentity {
    return {
      provider: this.id,
      issuer: this.issuer,
      subject: account.id,
      ...(account.email ? { email: account.email } : {}),
      email_verified: account.email_verified,
      ...(account.name ? { name: account.name } : {}),
      preferred_username: account.username,
    };
  }

  /** Computes the dummy hash ahead of the first request (the grant calls it at start). */
  warm(): Promise<string> {
    if (!this.#dummy) {
      this.#dummy = dummyHash(this.config.scrypt);
      this.#dummy.catch(() => (this.#dummy = undefined));
    }
    return this.#dummy;
  }

  /**
   * An unknown login is checked against a dummy hash with the configured parameters, so it costs
   * the same KDF work as a wrong password. A hash made with older parameters is upgraded on a
   * successful login.
   */
  async authenticate(login: string, password: string): Promise<PasswordCheck> {
    const dummy = this.warm();
    const account = password.length <= MAX_PASSWORD_LENGTH ? await this.find(login) : undefined;
    const ok = await verifyPassword(password.slice(0, MAX_PASSWORD_LENGTH), account?.hash ?? (await dummy));
    if (!account) return { ok: false, reason: 'unknown user' };
    if (!ok) return { ok: false, account: account.id, reason: 'wrong password' };
    if (needsRehash(account.hash, this.config.scrypt)) {
      const updated = { ...account, hash: await hashPassword(password, this.config.scrypt), updated_at: nowS() };
      await this.store.put(this.#nameKey(account.username), JSON.stringify(updated));
    }
    return { ok: true, identity: this.identity(account) };
  }
}
