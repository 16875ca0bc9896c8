import { createHash, randomBytes } from 'node:crypto';
import type { Store, StoreOp } from '../store/index.js';
import { auditOp, type AuditEntry } from './audit.js';

export interface Profile {
  name?: string;
  given_name?: string;
  family_name?: string;
  preferred_username?: string;
  picture?: string;
  locale?: string;
  /** The primary email: the first verified one, else the first one. */
  email?: string;
  email_verified?: boolean;
}

/** What a login at any provider yields (structurally, upstream's UpstreamIdentity). */
export interface ExternalIdentity extends Omit<Profile, 'email_verified'> {
  provider: string;
  issuer: string;
  subject: string;
  email_verified: boolean;
}

export interface EmailAddress {
  value: string;
  verified: boolean;
  /** The provider that told us. */
  source: string;
}

export interface LinkedIdentity {
  provider: string;
  issuer: string;
  subject: string;
  username?: string;
  linked_at: number;
}

export interface User {
  /** Stable and opaque: the `sub` apps see. Never the upstream id or an email. */
  id: string;
  created_at: number;
  updated_at: number;
  profile: Profile;
  emails: EmailAddress[];
  identities: LinkedIdentity[];
}

/** Per-provider policy for logins (provider entry `sync` and `link_by_email`). */
export interface LoginPolicy {
  sync: 'import' | 'force';
  linkByEmail: boolean;
}

export const DEFAULT_POLICY: LoginPolicy = { sync: 'force', linkByEmail: false };

export class LinkConflict extends Error {
  readonly status = 409;
  readonly error = 'identity_already_linked';
  readonly expose = true;
  constructor(readonly error_description: string) {
    super(error_description);
  }
}

export class UnlinkRefused extends Error {
  readonly status = 400;
  readonly error = 'invalid_request';
  readonly expose = true;
  constructor(readonly error_description: string) {
    super(error_description);
  }
}

const PROFILE_FIELDS = ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'] as const;

const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
const userKey = (id: string) => `user:${id}`;
/** The link key hashes (provider, issuer, subject), so any subject string is a safe key. */
export const linkKey = (identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>) =>
  `link:${hash(JSON.stringify([identity.provider, identity.issuer, identity.subject]))}`;
/** Only verified addresses are indexed: an unverified email can never lead to someone's account. */
const emailKey = (email: string) => `email:${hash(email.trim().toLowerCase())}`;

export const newUserId = () => randomBytes(16).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

export function applyIdentity(user: User, identity: ExternalIdentity, sync: LoginPolicy['sync']): User {
  const profile: Profile = { ...user.profile };
  for (const field of PROFILE_FIELDS) {
    const value = identity[field];
    if (value === undefined) continue;
    if (sync === 'force' || profile[field] === undefined) profile[field] = value;
  }
  let emails = user.emails;
  if (identity.email) {
    const value = identity.email;
    const others = emails.filter((e) => !(e.source === identity.provider && e.value.toLowerCase() === value.toLowerCase()));
    emails = [...others, { value, verified: identity.email_verified === true, source: identity.provider }];
  }
  const primary = emails.find((e) => e.verified) ?? emails[0];
  if (primary) {
    profile.email = primary.value;
    profile.email_verified = primary.verified;
  }
  const identities = user.identities.map((linked) =>
    linked.provider === identity.provider && linked.subject === identity.subject
      ? { ...linked, username: identity.preferred_username ?? linked.username }
      : linked,
  );
  return { ...user, profile, emails, identities, updated_at: now() };
}

function linkedIdentity(identity: ExternalIdentity): LinkedIdentity {
  return { provider: identity.provider, issuer: identity.issuer, subject: identity.subject, username: identity.preferred_username, linked_at: now() };
}

export interface ResolveResult {
  user: User;
  created: boolean;
  linkedByEmail: boolean;
  /** The writes to make: the caller batches them with the session and the code (one round trip). */
  ops: StoreOp[];
}

/**
 * Users and the identities linked to them. (provider, issuer, subject) → user is unique: a link
 * key is claimed with putIfAbsent, so two concurrent first logins make one user, and an identity
 * is never silently moved from one user to another.
 */
export class Users {
  constructor(private readonly store: Store) {}

  async get(id: string): Promise<User | undefined> {
    const text = await this.store.get(userKey(id));
    if (!text) return undefined;
    const user = JSON.parse(text) as User;
    user.emails ??= [];
    return user;
  }

  async findByIdentity(identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>): Promise<User | undefined> {
    const id = await this.store.get(linkKey(identity));
    return id ? this.get(id) : undefined;
  }

  #writes(user: User, audit: AuditEntry[] = []): StoreOp[] {
    const ops: StoreOp[] = [{ op: 'put', key: userKey(user.id), value: JSON.stringify(user) }];
    for (const email of user.emails) {
      if (email.verified) ops.push({ op: 'putIfAbsent', key: emailKey(email.value), value: user.id });
    }
    for (const entry of audit) ops.push(auditOp(user.id, entry));
    return ops;
  }

  /**
   * The user behind an upstream login: the linked one (profile refreshed per `sync`), or, only
   * with `link_by_email`, the user whose verified email this provider also verified, or a new
   * user. Nothing links by an unverified email (nOAuth; Grafana CVE-2023-3128).
   */
  async resolve(identity: ExternalIdentity, policy: LoginPolicy = DEFAULT_POLICY, ip?: string, attempt = 0): Promise<ResolveResult> {
    const linkedId = await this.store.get(linkKey(identity));
    const existing = linkedId ? await this.get(linkedId) : undefined;
    if (existing) {
      const user = applyIdentity(existing, identity, policy.sync);
      return { user, created: false, linkedByEmail: false, ops: this.#writes(user) };
    }
    if (!linkedId && policy.linkByEmail && identity.email && identity.email_verified === true) {
      const owner = await this.#verifiedOwner(identity.email);
      if (owner && (await this.store.putIfAbsent(linkKey(identity), owner.id))) {
        const user = applyIdentity({ ...owner, identities: [...owner.identities, linkedIdentity(identity)] }, identity, policy.sync);
        const audit: AuditEntry = { at: now(), action: 'auto-link', provider: identity.provider, subject: identity.subject, ip, reason: 'verified email matched' };
        return { user, created: false, linkedByEmail: true, ops: this.#writes(user, [audit]) };
      }
    }
    let id = linkedId;
    if (!id) {
      id = newUserId();
      if (!(await this.store.putIfAbsent(linkKey(identity), id))) {
        // Another request linked this identity a moment ago: use its user.
        if (attempt > 2) throw new Error('could not claim the identity link');
        return this.resolve(identity, policy, ip, attempt + 1);
      }
    }
    // A link whose user write never landed (the request failed after claiming it) is completed here.
    const t = now();
    const blank: User = { id, created_at: t, updated_at: t, profile: {}, emails: [], identities: [linkedIdentity(identity)] };
    const user = applyIdentity(blank, identity, 'force');
    const audit: AuditEntry = { at: t, action: 'create', provider: identity.provider, subject: identity.subject, ip };
    return { user, created: true, linkedByEmail: false, ops: this.#writes(user, [audit]) };
  }

  /** The user owning a verified email, only if that user's own copy of it is verified too. */
  async #verifiedOwner(email: string): Promise<User | undefined> {
    const id = await this.store.get(emailKey(email));
    const user = id ? await this.get(id) : undefined;
    const own = user?.emails.find((e) => e.value.toLowerCase() === email.trim().toLowerCase());
    return own?.verified ? user : undefined;
  }

  /** Links an identity to a signed-in user; refuses one linked to someone else (no silent move). */
  async link(userId: string, identity: ExternalIdentity, ip?: string): Promise<User> {
    const user = await this.get(userId);
    if (!user) throw new UnlinkRefused('your account no longer exists');
    const claimed = await this.store.putIfAbsent(linkKey(identity), userId);
    if (!claimed) {
      const owner = await this.store.get(linkKey(identity));
      if (owner !== userId) throw new LinkConflict('this account is already linked to another user of this service; sign in with it and unlink it there first');
      return user;
    }
    const updated = applyIdentity({ ...user, identities: [...user.identities, linkedIdentity(identity)] }, identity, 'import');
    await this.store.batch(this.#writes(updated, [{ at: now(), action: 'link', provider: identity.provider, subject: identity.subject, ip }]));
    return updated;
  }

  /** Unlinks an identity; the last one cannot go, or the user could never sign in again. */
  async unlink(userId: string, provider: string, subject: string, ip?: string): Promise<User> {
    const user = await this.get(userId);
    if (!user) throw new UnlinkRefused('your account no longer exists');
    const target = user.identities.find((i) => i.provider === provider && i.subject === subject);
    if (!target) throw new UnlinkRefused('this account is not linked to you');
    if (user.identities.length <= 1) throw new UnlinkRefused('this is your only sign-in method; link another one before removing it');
    const emails = user.emails.filter((e) => e.source !== provider || user.identities.some((i) => i !== target && i.provider === provider));
    const primary = emails.find((e) => e.verified) ?? emails[0];
    const profile = { ...user.profile, email: primary?.value, email_verified: primary?.verified };
    const updated: User = { ...user, emails, profile, identities: user.identities.filter((i) => i !== target), updated_at: now() };
    const ops: StoreOp[] = [
      { op: 'del', key: linkKey(target) },
      ...this.#writes(updated, [{ at: now(), action: 'unlink', provider, subject, ip }]),
    ];
    await this.store.batch(ops);
    return updated;
  }
}
