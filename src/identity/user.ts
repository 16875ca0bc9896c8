/** The vocabulary of users: what a login yields and what a broker user is. */
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
  /** Epoch seconds the user was disabled; absent while they may sign in. */
  disabled_at?: number;
  /**
   * Tokens of logins at or before this (epoch seconds of their `auth_time`) are dead: set when
   * the user is disabled, and kept when they are enabled again, so enabling restores logins only.
   */
  tokens_valid_after?: number;
}

/**
 * Whether a token of this user, from a login at `authTime`, is still good: not while the user is
 * disabled, nor when the login was at or before their `tokens_valid_after`.
 */
export function userTokensAllowed(user: User, authTime: number | undefined): boolean {
  if (user.disabled_at !== undefined) return false;
  return user.tokens_valid_after === undefined || (authTime !== undefined && authTime > user.tokens_valid_after);
}
