import type { UpstreamIdentity, UpstreamTokenSet } from './types.js';

/**
 * Connectors: what logins call, one per configured provider, like Dex's connectors. Each is a
 * capability. Every provider has the callback login (send the browser somewhere, then finish with
 * what comes back to /callback/:id); a provider with `password_grant` also has the password login
 * (RFC 6749 §4.3). login.ts and routes.ts know only these shapes, never the kind of provider.
 */

/** What a login keeps server-side between its start and its callback (stored with the transaction). */
export interface LoginSecrets {
  /** OIDC nonce (OIDC Core §3.1.2.1). */
  nonce?: string;
  /** PKCE code_verifier (RFC 7636 §4.1). */
  verifier?: string;
}

export interface LoginStart {
  /** Where to send the browser. */
  url: string;
  secrets: LoginSecrets;
}

/** The callback login: the code flow at a provider, or the development form. */
export interface CallbackConnector {
  readonly id: string;
  /** Button label. */
  readonly label: string;
  readonly color?: string;
  /**
   * How the answer comes to /callback/:id: a redirect (a GET; a form_post answer is re-issued as
   * one, where the browser cookie is sent), or a form of our own posted same-origin.
   */
  readonly answer: 'redirect' | 'form';
  /** The page this connector shows at /upstream/:id/login (the development form), if it has one. */
  loginPage?(input: { base: string; action: string; state: string }): string;
  /**
   * Where to send the browser for a login with this state, and what to keep for finish. Throws an
   * UpstreamFailure when the provider cannot be reached (discovery failed).
   */
  authorizationUrl(input: { state: string; loginHint?: string }): Promise<LoginStart>;
  /**
   * Verifies the answer that came back with this state and says who logged in. Anything thrown
   * ends the login in fail() (errors.ts classify() says with which code).
   */
  finish(input: { params: URLSearchParams; state: string; secrets: LoginSecrets }): Promise<VerifiedLogin>;
}

/** Who logged in, and the provider's tokens (for the vault only; the development form has none). */
export interface VerifiedLogin {
  identity: UpstreamIdentity;
  tokens?: UpstreamTokenSet;
}

export type UpstreamPasswordCheck = { ok: true; identity: UpstreamIdentity } | { ok: false; reason: string };

/** The password login: credentials checked by the provider itself. */
export interface PasswordConnector {
  readonly id: string;
  /** A refusal is `ok: false`; throws UpstreamFailure('temporarily_unavailable') when the provider cannot answer. */
  authenticate(login: string, password: string): Promise<UpstreamPasswordCheck>;
}
