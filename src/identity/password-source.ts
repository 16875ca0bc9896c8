import type { ExternalIdentity } from './users.js';

/**
 * A capability a provider may have (like Dex's password connectors): checking a username and
 * password. Local accounts have it; an `oidc` provider has it with `password_grant: true`.
 */
export interface PasswordSource {
  /** The provider id `provider=` names, and the provider of the identities it yields. */
  readonly id: string;
  readonly kind: 'local' | 'upstream';
  /**
   * Checks the credentials. A failure does not say whether the user exists (the caller answers
   * every failure alike); `account` is a loggable id when the user is known, never the password.
   * Throws PasswordSourceUnavailable when the source cannot answer right now.
   */
  authenticate(login: string, password: string): Promise<PasswordCheck>;
}

export type PasswordCheck = { ok: true; identity: ExternalIdentity } | { ok: false; account?: string; reason: string };

/** The source could not answer (an upstream down or timing out): not the user's fault, not counted. */
export class PasswordSourceUnavailable extends Error {
  override readonly name = 'PasswordSourceUnavailable';
}
