import { createHash } from 'node:crypto';
import { BrokerError } from '../http/broker-error.js';
import { batchPerSlot, getAcrossSlots, type Store, type StoreOp } from '../store/index.js';
import type { UnitOfWork } from '../store/unit-of-work.js';
import { auditOp, type AuditEntry } from './audit.js';
import {
  claimOwner,
  indexUserOp,
  linkKey,
  loadUser,
  newClaim,
  parseUser,
  publicUser,
  sameIdentity,
  writeUser,
  type IdentityRef,
  type PendingUnlink,
  type StoredIdentity,
  type StoredUser,
  type UserRecord,
  USER_INDEX_KEY,
} from './user-records.js';
import type { ExternalIdentity, Profile, User } from './user.js';
import { nowMs, nowS } from '../lib/clock.js';
import { randomId } from '../lib/random-id.js';
export { linkKey } from './user-records.js';
export type { EmailAddress, ExternalIdentity, LinkedIdentity, Profile, User } from './user.js';

/** Per-provider policy for logins (provider entry `sync` and `link_by_email`). */
export interface LoginPolicy {
  sync: 'import' | 'force';
  linkByEmail: boolean;
}

export const DEFAULT_POLICY: LoginPolicy = { sync: 'force', linkByEmail: false };

/** The identity is linked to another user: nothing is moved (409). */
export class LinkConflict extends BrokerError {
  constructor(description: string) {
    super('identity_already_linked', description, 409);
  }
}

/** Other requests kept changing the same user faster than this one could write: try again. */
export class UserBusy extends BrokerError {
  constructor() {
    super('temporarily_unavailable', 'the account is being changed by another request; try again', 503);
    this.headers = { 'Retry-After': '1' };
  }
}

/** The unlink is not allowed: not this user's identity, or their last way to sign in. */
export class UnlinkRefused extends BrokerError {
  constructor(description: string) {
    super('invalid_request', description);
  }
}

/** The user was disabled by an administrator: no login of theirs succeeds until they are enabled. */
export class UserDisabled extends BrokerError {
  constructor() {
    super('access_denied', 'this account is disabled; contact the administrator of this service', 403);
  }
}

/** The signed-in user's record is gone (deleted while the session lived). */
export class AccountGone extends BrokerError {
  constructor() {
    super('invalid_request', 'your account no longer exists');
  }
}

const PROFILE_FIELDS = ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'] as const;

const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
/** Only verified addresses are indexed: an unverified email can never lead to someone's account. */
const emailKey = (email: string) => `email:${hash(email.trim().toLowerCase())}`;

export const newUserId = () => randomId(16);

/** How often a login looks again after a concurrent change, and a write is tried again. */
const RESOLVE_ATTEMPTS = 10;
const WRITE_ATTEMPTS = 16;

export function applyIdentity<T extends User>(user: T, identity: ExternalIdentity, sync: LoginPolicy['sync']): T {
  const profile: Profile = { ...user.profile };
  for (const field of PROFILE_FIELDS) {
    const value = identity[field];
    if (value === undefined) continue;
    if (sync === 'force' || profile[field] === undefined) profile[field] = value;
  }
  let emails = user.emails;
  if (identity.email) {
    const value = identity.email;
    const others = emails.filter(
      (e) => !(e.source === identity.provider && e.value.toLowerCase() === value.toLowerCase()),
    );
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
  return { ...user, profile, emails, identities, updated_at: nowS() };
}

function linkedIdentity(identity: ExternalIdentity, claim: string): StoredIdentity {
  const { provider, issuer, subject } = identity;
  return { provider, issuer, subject, username: identity.preferred_username, linked_at: nowS(), claim };
}

function newUser(id: string, identity: ExternalIdentity, claim: string): StoredUser {
  const t = nowS();
  const identities = [linkedIdentity(identity, claim)];
  const blank: StoredUser = { id, created_at: t, updated_at: t, profile: {}, emails: [], identities, rev: 0 };
  return applyIdentity(blank, identity, 'force');
}

const samePending = (a: PendingUnlink, b: PendingUnlink) =>
  sameIdentity(a, b) && a.claim === b.claim && a.audit.at === b.audit.at;
const pendingFor = (user: StoredUser, identity: IdentityRef) =>
  (user.unlinking ?? []).filter((p) => sameIdentity(p, identity));
const lists = (user: StoredUser, identity: IdentityRef) => user.identities.some((i) => sameIdentity(i, identity));

/** Drops finished unlinks, and the emails of their providers unless another identity there stays. */
function withoutPending(user: StoredUser, done: PendingUnlink[]): StoredUser {
  const unlinking = (user.unlinking ?? []).filter((p) => !done.some((d) => samePending(d, p)));
  const kept = new Set(user.identities.map((i) => i.provider));
  const emails = user.emails.filter((e) => kept.has(e.source) || !done.some((p) => p.provider === e.source));
  const primary = emails.find((e) => e.verified) ?? emails[0];
  const profile = { ...user.profile, email: primary?.value, email_verified: primary?.verified };
  return { ...user, unlinking, emails, profile };
}

type Who = { provider: string; subject: string };

function auditEntry(action: AuditEntry['action'], who: Who, ip?: string, at = nowS()): AuditEntry {
  return { at, action, provider: who.provider, subject: who.subject, ip };
}

function emailOps(user: User): StoreOp[] {
  return user.emails
    .filter((e) => e.verified)
    .map((e) => ({ op: 'putIfAbsent', key: emailKey(e.value), value: user.id }));
}

export interface ResolveResult {
  user: User;
  created: boolean;
  linkedByEmail: boolean;
}

/** A login's user, and the writes that go with it into the request's unit of work. */
type Resolved = ResolveResult & { ops: StoreOp[] };

/** The user's writes go with the request's other writes (session, code: one round trip). */
function addWrites({ ops, ...result }: Resolved, work: UnitOfWork): ResolveResult {
  work.add(...ops);
  return result;
}

type Change = { user: StoredUser; ops?: StoreOp[] } | undefined;

/**
 * Users and the identities linked to them. (provider, issuer, subject) → user is unique: a link
 * row is claimed with SET NX, so two concurrent first logins make one user, and an identity is
 * never silently moved from one user to another.
 *
 * The link row and the user record are separate keys (separate Cluster slots), changed one
 * atomic step at a time, in an order that keeps them in agreement (issue 19.1):
 * - linking claims the row first, then lists the identity with a compare-and-set of a record
 *   read before the claim, or read again, with the row read after it (a claim released meanwhile
 *   is then seen, and not listed). So a listed identity's row always points back to its user.
 * - unlinking first moves the identity from the list to `unlinking` with a compare-and-set that
 *   also checks another method stays, then removes the row by its exact claim, then drops the
 *   pending entry and writes its audit entry. Anyone who meets a pending unlink finishes it the
 *   same way, so an unlink whose request died is completed, and once only.
 * - a login writes its profile refresh as a compare-and-set in its own batch: when the record
 *   changed meanwhile, the refresh is dropped instead of overwriting that change. A login whose
 *   row points to a user not listing it (a link whose request died) lists it (repair).
 */
export class Users {
  constructor(private readonly store: Store) {}

  /**
   * The user; an unlink under way is finished first, so what is listed has its link row.
   * `read`: the user's record as already read in this request (with the session,
   * `readWithSession`), so no round trip is made for it; null or undefined: read it here.
   */
  async get(id: string, read?: string | null): Promise<User | undefined> {
    let record = typeof read === 'string' ? { user: parseUser(read), raw: read } : await loadUser(this.store, id);
    const pending = record?.user.unlinking ?? [];
    if (record && pending.length) record = await this.#finishUnlinks(record, pending);
    return record && publicUser(record.user);
  }

  async findByIdentity(identity: IdentityRef): Promise<User | undefined> {
    const owner = claimOwner(await this.store.get(linkKey(identity)));
    return owner ? this.get(owner) : undefined;
  }

  /**
   * The user behind an upstream login: the linked one (profile refreshed per `sync`), or, only
   * with `link_by_email`, the user whose verified email this provider also verified, or a new
   * user. Nothing links by an unverified email (nOAuth; Grafana CVE-2023-3128).
   */
  async resolve(
    identity: ExternalIdentity,
    work: UnitOfWork,
    policy: LoginPolicy = DEFAULT_POLICY,
    ip?: string,
  ): Promise<ResolveResult> {
    const email = policy.linkByEmail && identity.email && identity.email_verified === true ? identity.email : undefined;
    for (let attempt = 0; attempt < RESOLVE_ATTEMPTS; attempt++) {
      // One round trip for the link row, and with link_by_email for the email's owner too.
      const [claim = null, emailOwner = null] = email
        ? await getAcrossSlots(this.store, [linkKey(identity), emailKey(email)])
        : [await this.store.get(linkKey(identity))];
      if (claim !== null) {
        const found = await this.#signIn(claim, identity, policy);
        if (found) return addWrites(found, work);
        continue;
      }
      const owner = email && emailOwner ? await this.#verifiedOwner(emailOwner, email) : undefined;
      const result = owner ? await this.#autoLink(owner, identity, policy, ip) : await this.#create(identity, ip);
      // Undefined: another request claimed the identity a moment ago; look again.
      if (result) return addWrites(result, work);
    }
    throw new UserBusy();
  }

  /** A login of a linked identity; undefined when something was repaired and the caller looks again. */
  async #signIn(claim: string, identity: ExternalIdentity, policy: LoginPolicy): Promise<Resolved | undefined> {
    const id = claimOwner(claim)!;
    const record = await loadUser(this.store, id);
    if (!record) {
      // Claimed by a first login whose batch has not landed (or never will): write the user too.
      // Both writes create it only if absent; the claiming request writes the audit entry.
      const user = newUser(id, identity, claim);
      const ops = [writeUser(undefined, user).op, ...emailOps(user), indexUserOp(id)];
      return { user: publicUser(user), created: false, linkedByEmail: false, ops };
    }
    if (record.user.disabled_at !== undefined) throw new UserDisabled();
    const pending = pendingFor(record.user, identity);
    if (pending.length) {
      await this.#finishUnlinks(record, pending);
      return undefined;
    }
    // Claimed for this user by a link whose request has not listed it yet (or died): list it.
    const current = lists(record.user, identity) ? record : await this.#attach(id, identity, claim, { sync: 'import' });
    if (!current || !lists(current.user, identity)) return undefined;
    const user = applyIdentity(current.user, identity, policy.sync);
    // Indexed at every login too, so users from before the index are listed after their next one.
    const ops = [writeUser(current, user).op, ...emailOps(user), indexUserOp(id)];
    return { user: publicUser(user), created: false, linkedByEmail: false, ops };
  }

  async #create(identity: ExternalIdentity, ip?: string): Promise<Resolved | undefined> {
    const id = newUserId();
    const claim = newClaim(id);
    if (!(await this.store.putIfAbsent(linkKey(identity), claim))) return undefined;
    const user = newUser(id, identity, claim);
    const audit = auditEntry('create', identity, ip, user.created_at);
    return {
      user: publicUser(user),
      created: true,
      linkedByEmail: false,
      ops: [writeUser(undefined, user).op, ...emailOps(user), auditOp(id, audit), indexUserOp(id)],
    };
  }

  async #autoLink(
    owner: UserRecord,
    identity: ExternalIdentity,
    policy: LoginPolicy,
    ip?: string,
  ): Promise<Resolved | undefined> {
    if (owner.user.disabled_at !== undefined) throw new UserDisabled();
    const claim = newClaim(owner.user.id);
    if (!(await this.store.putIfAbsent(linkKey(identity), claim))) return undefined;
    const audit: AuditEntry = { ...auditEntry('auto-link', identity, ip), reason: 'verified email matched' };
    const linked = await this.#attach(owner.user.id, identity, claim, { record: owner, audit, sync: policy.sync });
    return { user: publicUser((linked ?? owner).user), created: false, linkedByEmail: true, ops: [] };
  }

  /** The user owning a verified email, only if that user's own copy of it is verified too. */
  async #verifiedOwner(id: string, email: string): Promise<UserRecord | undefined> {
    const record = await loadUser(this.store, id);
    const own = record?.user.emails.find((e) => e.value.toLowerCase() === email.trim().toLowerCase());
    return own?.verified ? record : undefined;
  }

  /** Links an identity to a signed-in user; refuses one linked to someone else (no silent move). */
  async link(userId: string, identity: ExternalIdentity, ip?: string): Promise<User> {
    for (let attempt = 0; attempt < RESOLVE_ATTEMPTS; attempt++) {
      const record = await loadUser(this.store, userId);
      if (!record) throw new AccountGone();
      const pending = pendingFor(record.user, identity);
      if (pending.length) {
        await this.#finishUnlinks(record, pending);
        continue;
      }
      if (lists(record.user, identity)) return publicUser(record.user);
      const claim = newClaim(userId);
      if (await this.store.putIfAbsent(linkKey(identity), claim)) {
        const audit = auditEntry('link', identity, ip);
        const linked = await this.#attach(userId, identity, claim, { record, audit, sync: 'import' });
        return publicUser((linked ?? record).user);
      }
      const current = await this.store.get(linkKey(identity));
      if (current === null) continue;
      if (claimOwner(current) !== userId) {
        throw new LinkConflict(
          'this account is already linked to another user of this service; sign in with it and unlink it there first',
        );
      }
      // Linked to this user a moment ago by another request (a retry): listed once, audited once, by that one.
      const linked = await this.#attach(userId, identity, current, { sync: 'import' });
      return publicUser((linked ?? record).user);
    }
    throw new UserBusy();
  }

  /** Unlinks an identity; the last one cannot go, or the user could never sign in again. */
  async unlink(userId: string, provider: string, subject: string, ip?: string): Promise<User> {
    const matches = (i: { provider: string; subject: string }) => i.provider === provider && i.subject === subject;
    const decided = await this.#update(userId, undefined, async (user) => {
      const target = user.identities.find(matches);
      // Already decided by a concurrent request (a retry): finished below, audited once.
      if (!target && user.unlinking?.some(matches)) return undefined;
      if (!target) throw new UnlinkRefused('this account is not linked to you');
      if (user.identities.length <= 1) {
        throw new UnlinkRefused('this is your only sign-in method; link another one before removing it');
      }
      const pending: PendingUnlink = {
        provider,
        issuer: target.issuer,
        subject,
        claim: target.claim ?? (await this.#legacyClaim(userId, target)),
        audit: auditEntry('unlink', { provider, subject }, ip),
      };
      const identities = user.identities.filter((i) => i !== target);
      return { user: { ...user, identities, unlinking: [...(user.unlinking ?? []), pending] } };
    });
    if (!decided) throw new AccountGone();
    const finished = await this.#finishUnlinks(decided, (decided.user.unlinking ?? []).filter(matches));
    return publicUser((finished ?? decided).user);
  }

  /** The link row of an identity listed before claims were kept: removed only if it is this user's. */
  async #legacyClaim(userId: string, identity: IdentityRef): Promise<string | null> {
    const current = await this.store.get(linkKey(identity));
    return claimOwner(current) === userId ? current : null;
  }

  /**
   * Finishes decided unlinks: removes each link row by its exact claim (a later link of the same
   * identity has another), then drops the entries with their audit entries. Idempotent.
   */
  async #finishUnlinks(record: UserRecord, pending: PendingUnlink[]): Promise<UserRecord | undefined> {
    for (const p of pending) if (p.claim !== null) await this.store.compareAndSet(linkKey(p), p.claim, null);
    return this.#update(record.user.id, record, (user) => {
      const done = pending.filter((p) => user.unlinking?.some((q) => samePending(p, q)));
      if (!done.length) return undefined;
      return { user: withoutPending(user, done), ops: done.map((p) => auditOp(user.id, p.audit)) };
    });
  }

  /**
   * Lists an identity whose link row this user holds under `claim`. A record read before the claim
   * is current enough; one read here is checked against the row, read after it, so a claim
   * released meanwhile is not listed. Unlinks of earlier claims are done once this claim exists.
   */
  #attach(
    id: string,
    identity: ExternalIdentity,
    claim: string,
    options: { record?: UserRecord; audit?: AuditEntry; sync: LoginPolicy['sync'] },
  ): Promise<UserRecord | undefined> {
    return this.#update(id, options.record, async (user, fresh) => {
      if (lists(user, identity)) return undefined;
      const pending = pendingFor(user, identity);
      if (pending.some((p) => p.claim === claim)) return undefined;
      if (fresh && (await this.store.get(linkKey(identity))) !== claim) return undefined;
      const rest = withoutPending(user, pending);
      const listed = { ...rest, identities: [...rest.identities, linkedIdentity(identity, claim)] };
      const added = applyIdentity(listed, identity, options.sync);
      const audits = [...pending.map((p) => p.audit), ...(options.audit ? [options.audit] : [])];
      return { user: added, ops: [...audits.map((a) => auditOp(id, a)), ...emailOps(added)] };
    });
  }

  /** The user whose verified email this is (the email index), if any. */
  async findByEmail(email: string): Promise<User | undefined> {
    const owner = await this.store.get(emailKey(email));
    return owner ? this.get(owner) : undefined;
  }

  /** Every listed user id, sorted (the index set; users from before it appear after their next login). */
  async ids(): Promise<string[]> {
    return (await this.store.smembers(USER_INDEX_KEY)).sort();
  }

  /**
   * Disables a user (logins refused, every token they hold dead: `tokens_valid_after` is now) or
   * enables them again (logins only: `tokens_valid_after` stays). Undefined when there is no such user.
   */
  async setDisabled(id: string, disabled: boolean, by = 'admin'): Promise<User | undefined> {
    const before = await loadUser(this.store, id);
    const deadUpTo = before?.user.tokens_valid_after;
    // Enabled within the second of disabling: wait for the next one, so that new logins are
    // after `tokens_valid_after` (a token's auth_time has whole seconds).
    if (!disabled && deadUpTo !== undefined && nowS() <= deadUpTo) {
      await new Promise((r) => setTimeout(r, Math.min(1005, (deadUpTo + 1) * 1000 - nowMs() + 5)));
    }
    const written = await this.#update(id, undefined, (user) => {
      if ((user.disabled_at !== undefined) === disabled) return undefined;
      const audit = auditOp(id, auditEntry(disabled ? 'disable' : 'enable', { provider: 'admin', subject: by }));
      if (!disabled) {
        const { disabled_at: _was, ...enabled } = user;
        return { user: enabled, ops: [audit] };
      }
      const at = nowS();
      return { user: { ...user, disabled_at: at, tokens_valid_after: at }, ops: [audit] };
    });
    return written && publicUser(written.user);
  }

  /**
   * Writes a change with compare-and-set, reading again and retrying when another request wrote
   * first. `decide` gets the record (`fresh` when read here rather than given) and returns the
   * new user and the ops to batch with it, or undefined to write nothing. An audit op in that
   * batch lands even when the record write loses; a retry sends the same entry, so it counts once.
   */
  async #update(
    id: string,
    given: UserRecord | undefined,
    decide: (user: StoredUser, fresh: boolean) => Change | Promise<Change>,
  ): Promise<UserRecord | undefined> {
    let record = given;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      const fresh = record === undefined;
      record ??= await loadUser(this.store, id);
      if (!record) return undefined;
      const change = await decide(record.user, fresh);
      if (!change) return record;
      const { op, written } = writeUser(record, { ...change.user, updated_at: nowS() });
      // The record and its audit share the user's slot; an email index row lands on its own.
      const [wrote] = await batchPerSlot(this.store, [op, ...(change.ops ?? [])]);
      if (wrote) return written;
      record = undefined;
    }
    throw new UserBusy();
  }
}
