import { createHash, randomBytes } from 'node:crypto';
import type { Store, StoreOp } from '../store/index.js';

/** What a login at any provider yields (structurally, upstream's UpstreamIdentity). */
export interface ExternalIdentity {
  provider: string;
  issuer: string;
  subject: string;
  email?: string;
  email_verified: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  preferred_username?: string;
  picture?: string;
  locale?: string;
}

export interface Profile {
  name?: string;
  given_name?: string;
  family_name?: string;
  preferred_username?: string;
  picture?: string;
  locale?: string;
  email?: string;
  email_verified?: boolean;
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
  identities: LinkedIdentity[];
}

const PROFILE_FIELDS = ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'] as const;

const userKey = (id: string) => `user:${id}`;
/** The link key hashes (provider, issuer, subject), so any subject string is a safe key. */
export const linkKey = (identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>) =>
  `link:${createHash('sha256').update(JSON.stringify([identity.provider, identity.issuer, identity.subject])).digest('base64url')}`;

export const newUserId = () => randomBytes(16).toString('base64url');

export function profileFrom(identity: ExternalIdentity): Profile {
  const profile: Profile = {};
  for (const field of PROFILE_FIELDS) if (identity[field] !== undefined) profile[field] = identity[field];
  if (identity.email !== undefined) {
    profile.email = identity.email;
    profile.email_verified = identity.email_verified === true;
  }
  return profile;
}

/**
 * Users and the identities linked to them. (provider, issuer, subject) → user is unique: the
 * link key is claimed with putIfAbsent, so two concurrent first logins make one user.
 */
export class Users {
  constructor(private readonly store: Store) {}

  async get(id: string): Promise<User | undefined> {
    const text = await this.store.get(userKey(id));
    return text ? (JSON.parse(text) as User) : undefined;
  }

  async findByIdentity(identity: Pick<ExternalIdentity, 'provider' | 'issuer' | 'subject'>): Promise<User | undefined> {
    const id = await this.store.get(linkKey(identity));
    return id ? this.get(id) : undefined;
  }

  /**
   * The user behind an upstream login: the linked one, with its profile refreshed, or a new
   * user (no automatic linking by email). Returns the write to make, so the caller can batch it
   * with the session and the code in one round trip.
   */
  async resolve(identity: ExternalIdentity, attempt = 0): Promise<{ user: User; created: boolean; write: StoreOp }> {
    const t = Math.floor(Date.now() / 1000);
    const linkedId = await this.store.get(linkKey(identity));
    const existing = linkedId ? await this.get(linkedId) : undefined;
    if (existing) {
      const user: User = { ...existing, updated_at: t, profile: { ...existing.profile, ...profileFrom(identity) } };
      user.identities = user.identities.map((linked) =>
        linked.provider === identity.provider && linked.subject === identity.subject
          ? { ...linked, username: identity.preferred_username ?? linked.username }
          : linked,
      );
      return { user, created: false, write: this.#write(user) };
    }
    let id = linkedId;
    if (!id) {
      id = newUserId();
      if (!(await this.store.putIfAbsent(linkKey(identity), id))) {
        // Another request linked this identity a moment ago: use its user.
        if (attempt > 2) throw new Error('could not claim the identity link');
        return this.resolve(identity, attempt + 1);
      }
    }
    // A link whose user write never landed (the request failed after claiming it) is completed here.
    const user: User = {
      id,
      created_at: t,
      updated_at: t,
      profile: profileFrom(identity),
      identities: [{ provider: identity.provider, issuer: identity.issuer, subject: identity.subject, username: identity.preferred_username, linked_at: t }],
    };
    return { user, created: true, write: this.#write(user) };
  }

  #write(user: User): StoreOp {
    return { op: 'put', key: userKey(user.id), value: JSON.stringify(user) };
  }
}
