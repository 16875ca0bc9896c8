import type { Context } from 'koa';
import type { StoreOp } from '../store/index.js';

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
 * The context a login started with, carried opaquely through the upstream round trip and handed
 * back when it finishes: `{ interaction }` for an app's sign-in, `{ link }` for account linking.
 */
export type LoginContext = Record<string, string>;

export interface BeginLogin {
  providerId: string;
  context: LoginContext;
  loginHint?: string;
  /** Store writes to make in the same round trip as the login transaction. */
  ops?: StoreOp[];
}

/** What the rest of the broker needs from upstream/: a list of buttons, and a way to start. */
export interface UpstreamLogin {
  buttons(): ProviderButton[];
  has(providerId: string): boolean;
  /** Starts a login: stores the transaction, binds it to this browser, returns where to send it. */
  begin(ctx: Context, input: BeginLogin): Promise<string>;
}

/** Called by the callback once the identity is verified; it answers the browser. */
export type FinishLogin = (ctx: Context, result: { context: LoginContext; identity: UpstreamIdentity; provider: string }) => Promise<void>;

/**
 * Called when a login that had a valid transaction fails upstream (the user cancelled, the
 * provider erred or timed out, the answer did not verify). The owner of the context decides:
 * an OAuth error redirect to the app when that is safe, or an error page. Failures without a
 * valid transaction (missing, foreign, replayed or expired state) never get here: upstream/
 * answers those itself with a 400 error page.
 */
export type FailLogin = (
  ctx: Context,
  result: {
    context: LoginContext;
    provider: string;
    error: 'access_denied' | 'temporarily_unavailable' | 'server_error' | 'login_required';
    description: string;
  },
) => Promise<void>;
