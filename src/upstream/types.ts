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
  /** An app's sign-in: the pending authorization request (oauth/). */
  | { kind: 'authorize'; interaction: string }
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
  finish(ctx: Context, result: { context: C; identity: UpstreamIdentity; provider: string }): Promise<void>;
  fail(
    ctx: Context,
    result: { context: C; provider: string; error: LoginFailureCode; description: string },
  ): Promise<void>;
}

/** One handler per kind of login. */
export type LoginHandlers = { [K in LoginKind]: LoginHandler<Extract<LoginContext, { kind: K }>> };

/** The handler for a context, typed by its kind. */
export function handlerFor<C extends LoginContext>(handlers: LoginHandlers, context: C): LoginHandler<C> {
  return handlers[context.kind] as unknown as LoginHandler<C>;
}

/** Validates a context read back from the store (it may predate this version of the broker). */
export function isLoginContext(value: unknown): value is LoginContext {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  switch (c.kind) {
    case 'authorize':
      return typeof c.interaction === 'string';
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
