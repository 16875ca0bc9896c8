import { createHash, randomBytes } from 'node:crypto';
import type { Store, StoreOp } from '../store/index.js';
import type { AuditEntry } from './audit.js';
import type { ExternalIdentity, LinkedIdentity, User } from './user.js';

/**
 * How users and their links are kept.
 *
 * The link row `link:<hash of (provider, issuer, subject)>` is the truth about who owns an
 * identity. It holds `<user id> <claim>`, where the claim is random per link: it is created only
 * with SET NX and removed only by a compare-and-delete of that exact value, so a late release can
 * never remove a later link of the same identity to the same user.
 *
 * The user record `user:{<id>}` (its audit set `audit:{<id>}` shares the hash tag, so one user's
 * keys sit in one Redis Cluster slot) lists the identities with the claim each was linked under.
 * Every write of it is a compare-and-set over the exact text read (with `rev` bumped), so no
 * writer overwrites a change it did not see. Each atomic step touches one key; the order of the
 * steps keeps both sides in agreement (see Users).
 */

export type IdentityRef = Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>;

/** A listed identity, with the link row value it was linked under (absent in records before claims). */
export interface StoredIdentity extends LinkedIdentity {
  claim?: string;
}

/** An unlink that was decided: the identity is no longer listed; its link row may still be there. */
export interface PendingUnlink extends IdentityRef {
  /** The link row value to remove, or null when there is none to remove. */
  claim: string | null;
  /** Written when the unlink is finished, by whoever finishes it: the same entry every time. */
  audit: AuditEntry;
}

export interface StoredUser extends User {
  identities: StoredIdentity[];
  /** Bumped by every write, so a compare-and-set never matches a record that changed and changed back. */
  rev: number;
  unlinking?: PendingUnlink[];
}

/** A user record and the exact text it was read from (null when nothing is stored under the current key). */
export interface UserRecord {
  user: StoredUser;
  raw: string | null;
}

const hash = (value: string) => createHash('sha256').update(value).digest('base64url');

export const userKey = (id: string) => `user:{${id}}`;
/**
 * Every user's id, for listing: one set under one key (its own Redis Cluster slot), added to in
 * its own batch of the login's unit of work (never in a multi-key step with other slots).
 */
export const USER_INDEX_KEY = 'users:index';
export const indexUserOp = (id: string): StoreOp => ({ op: 'sadd', key: USER_INDEX_KEY, members: [id] });
/** Where records were kept before per-user hash tags; read when the current key is empty. */
const legacyUserKey = (id: string) => `user:${id}`;

/** The link key hashes (provider, issuer, subject), so any subject string is a safe key. */
export const linkKey = (identity: IdentityRef) =>
  `link:${hash(JSON.stringify([identity.provider, identity.issuer, identity.subject]))}`;

/** A fresh link row value for a user. User ids are base64url, so the space separates. */
export const newClaim = (userId: string) => `${userId} ${randomBytes(12).toString('base64url')}`;

/** The user a link row value points to (rows written before claims hold only the id). */
export const claimOwner = (claim: string | null): string | null => (claim === null ? null : claim.split(' ')[0]!);

export const sameIdentity = (a: IdentityRef, b: IdentityRef) =>
  a.provider === b.provider && a.issuer === b.issuer && a.subject === b.subject;

export function parseUser(text: string): StoredUser {
  const user = JSON.parse(text) as StoredUser;
  user.emails ??= [];
  user.identities ??= [];
  user.rev ??= 0;
  return user;
}

/** One round trip, and a second only for a user not yet moved from the legacy key. */
export async function loadUser(store: Store, id: string): Promise<UserRecord | undefined> {
  const raw = await store.get(userKey(id));
  if (raw !== null) return { user: parseUser(raw), raw };
  const legacy = await store.get(legacyUserKey(id));
  // Written back under the current key by the first compare-and-set (expected: absent).
  return legacy === null ? undefined : { user: parseUser(legacy), raw: null };
}

/** The compare-and-set that replaces `record` (undefined: creates the user) with `user`. */
export function writeUser(record: UserRecord | undefined, user: StoredUser): { op: StoreOp; written: UserRecord } {
  const next: StoredUser = { ...user, rev: (record?.user.rev ?? 0) + 1 };
  if (!next.unlinking?.length) delete next.unlinking;
  const raw = JSON.stringify(next);
  const op: StoreOp = { op: 'compareAndSet', key: userKey(user.id), expected: record?.raw ?? null, value: raw };
  return { op, written: { user: next, raw } };
}

/** What the rest of the broker sees: no revision, no pending unlinks, no claims. */
export function publicUser(user: StoredUser): User {
  return {
    id: user.id,
    created_at: user.created_at,
    updated_at: user.updated_at,
    profile: user.profile,
    emails: user.emails,
    identities: user.identities.map(({ claim: _claim, ...identity }) => identity),
    ...(user.disabled_at !== undefined ? { disabled_at: user.disabled_at } : {}),
    ...(user.tokens_valid_after !== undefined ? { tokens_valid_after: user.tokens_valid_after } : {}),
  };
}
