import type { Context } from 'koa';
import type { UnitOfWork } from '../store/unit-of-work.js';

/**
 * What every upstream login yields, whatever the provider: OIDC claim names plus where the
 * identity came from. (provider, subject) is the key identity/ links to a broker user.
 * Upstream tokens never appear here.
 */
export interface UpstreamIdentity {
  /** The provider entry's `id` in the config (appears in URLs). */
  provider: string;
  /** Exact `iss` of the provider (Entra: tenant-specific); OAuth-only providers: a pinned pseudo-issuer. */
  issuer: string;
  /** The provider's immutable user id, as a string; composite where the provider needs it. */
  subject: string;
  email?: string;
  /** True only on the provider's positive signal; false when absent or unknown. */
  email_verified: boolean;
  name?: string;
  given_name?: string;
  family_name?: string;
  /** A mutable handle: display only, never a key. */
  preferred_username?: string;
  picture?: string;
  locale?: string;
  /** ID-token claims and profile JSON as received: kept server-side, never sent to apps. */
  raw: Record<string, unknown>;
}

/**
 * A provider's own tokens from a login or a refresh (RFC 6749 §5.1). Only for the token vault:
 * never in UpstreamIdentity, never logged, never stored in clear.
 */
export interface UpstreamTokenSet {
  accessToken: string;
  /** The provider's token_type, normally `Bearer`. */
  tokenType: string;
  /** Epoch seconds; absent when the provider did not say (`expires_in`). */
  expiresAt?: number;
  /** The granted scopes (the requested ones when the provider did not say: RFC 6749 §5.1). */
  scope: string;
  refreshToken?: string;
}

/** The result of refreshing an upstream access token (RFC 6749 §6). */
export type UpstreamRefresh =
  | { ok: true; tokens: UpstreamTokenSet }
  /** refused: the provider said invalid_grant (revoked, expired); unavailable: down, slow or erring. */
  | { ok: false; reason: 'refused' | 'unavailable' };

/** What the token vault needs from upstream/: refreshing and revoking at the provider. */
export interface UpstreamTokenService {
  /** Whether this provider's tokens are kept (`store_tokens: true`). */
  stores(providerId: string): boolean;
  refresh(providerId: string, refreshToken: string): Promise<UpstreamRefresh>;
  /** Revokes at the provider where it has a revocation endpoint (RFC 7009); never throws. */
  revoke(providerId: string, tokens: UpstreamTokenSet): Promise<void>;
}

/** The kinds of provider token a native app may present (RFC 8693 §3). */
export type NativeTokenKind = 'id_token' | 'access_token';

/** A provider's sign-in result from its native SDK, checked: who it is, or why not. */
export type NativeCheck =
  | { ok: true; identity: UpstreamIdentity }
  /** refused: not acceptable (400 invalid_request); unavailable: the provider could not be asked. */
  | { ok: false; reason: string; unavailable?: boolean };

/** Native sign-in (inbound token exchange): verifies a token a provider issued to one of our apps. */
export interface UpstreamNativeSignIn {
  verify(providerId: string, token: string, kind: NativeTokenKind): Promise<NativeCheck>;
}

/** Where a finished login's tokens go: the vault, in the request's unit of work. Built by app.ts. */
export interface UpstreamTokenKeeper {
  keep(work: UnitOfWork, input: { userId: string; identity: UpstreamIdentity; tokens: UpstreamTokenSet }): void;
}

/** A provider as the chooser page shows it. */
export interface ProviderButton {
  id: string;
  label: string;
  color?: string;
}

/**
 * Why a login was started, carried through the upstream round trip and handed back when it
 * finishes. Each kind has exactly one handler, registered when the app is built.
 */
export type LoginContext =
  /**
   * An app's sign-in: the pending authorization request (oauth/), stored under its id, or, when
   * the provider was known at /authorize, `held` in this transaction itself (opaque here: one key
   * instead of two, taken once with the transaction).
   */
  | { kind: 'authorize'; interaction: string; held?: Record<string, unknown> }
  /** Linking another provider into the signed-in user and session it was started for (account/). */
  | { kind: 'link'; userId: string; sid: string }
  /** Signing in to the account pages (account/). */
  | { kind: 'account' }
  /** Signing in on the device flow's verification page, for the user code entered (oauth/). */
  | { kind: 'device'; userCode: string };

export type LoginKind = LoginContext['kind'];

export interface BeginLogin {
  providerId: string;
  context: LoginContext;
  loginHint?: string;
  /** The request's unit of work: the login transaction is added to it; the caller commits it. */
  work: UnitOfWork;
}

/** What the rest of the broker needs from upstream/: a list of buttons, and a way to start. */
export interface UpstreamLogin {
  buttons(): ProviderButton[];
  has(providerId: string): boolean;
  /** Starts a login bound to this browser: adds its transaction to `work`, returns where to send it. */
  begin(ctx: Context, input: BeginLogin): Promise<string>;
}

export type LoginFailureCode = 'access_denied' | 'temporarily_unavailable' | 'server_error' | 'login_required';

/**
 * The owner of one kind of login. `finish` gets the verified identity and answers the browser.
 * `fail` gets a login that had a valid transaction but failed upstream (the user cancelled, the
 * provider erred or timed out, the answer did not verify): an OAuth error redirect to the app
 * when that is safe, or an error page. Failures without a valid transaction (missing, foreign,
 * replayed or expired state) never reach a handler: upstream/ answers those with a 400 page.
 */
export interface LoginHandler<C extends LoginContext = LoginContext> {
  finish(ctx: Context, result: FinishedLogin<C>): Promise<void>;
  fail(
    ctx: Context,
    result: { context: C; provider: string; error: LoginFailureCode; description: string },
  ): Promise<void>;
}

/** A verified login as its handler gets it. */
export interface FinishedLogin<C extends LoginContext = LoginContext> {
  context: C;
  identity: UpstreamIdentity;
  provider: string;
  /**
   * Keeps the provider's tokens for this user in the vault, in the request's unit of work (the
   * handler commits it): does nothing unless the provider has `store_tokens: true`. A handler
   * calls it once it knows the user the identity belongs to.
   */
  keepTokens(userId: string): void;
}

/** One handler per kind of login. */
export type LoginHandlers = { [K in LoginKind]: LoginHandler<Extract<LoginContext, { kind: K }>> };

/** The handler for a context, typed by its kind. */
export function handlerFor<C extends LoginContext>(handlers: LoginHandlers, context: C): LoginHandler<C> {
  return handlers[context.kind] as unknown as LoginHandler<C>;
}

/** Validates a context read back from the store (it may predate this version of the broker). */
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function isLoginContext(value: unknown): value is LoginContext {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  switch (c.kind) {
    case 'authorize':
      return typeof c.interaction === 'string' && (c.held === undefined || isRecord(c.held));
    case 'link':
      return typeof c.userId === 'string' && typeof c.sid === 'string';
    case 'account':
      return true;
    case 'device':
      return typeof c.userCode === 'string';
    default:
      return false;
  }
}
