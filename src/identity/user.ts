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
}
