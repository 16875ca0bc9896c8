import type { Context } from 'koa';
import { csrfProblem, csrfToken } from '../http/csrf.js';
import { DEFAULT_POLICY, type LoginPolicy, type User } from '../identity/users.js';
import { currentSession, startSession, type SsoSession } from '../session/sessions.js';
import type { StoreOp } from '../store/index.js';
import type { FailLogin, FinishLogin } from '../upstream/types.js';
import { renderChooser } from '../ui/chooser.js';
import { renderConsent } from '../ui/consent.js';
import { authorizationRedirect } from './authorization-response.js';
import { AuthorizationError, type AuthorizationRequest } from './authorize-request.js';
import { userClaims } from './claims.js';
import type { OAuthContext } from './context.js';
import { constantTimeEqual, randomToken } from './crypto.js';
import { OAuthError } from './errors.js';
import { scopeSet } from './params.js';
import { newGrantId } from './token-records.js';

/** A pending authorization request, waiting for the user to log in upstream or to consent. */
interface Interaction {
  request: AuthorizationRequest;
  /** Hash of the browser-id cookie: only this browser may continue it. */
  binding: string;
  /** Set once the user is known and only consent is missing. */
  consentFor?: string;
}

const consentKey = (userId: string, clientId: string) => `consent:${userId}:${clientId}`;
const CONSENT_TTL_S = 365 * 86_400;

const INTERACTION_TTL_S = 600;
const key = (id: string) => `interaction:${id}`;

function pageError(status: number, error: string, description: string): OAuthError {
  return new OAuthError(error, description, status);
}

/** Does this request need a fresh upstream login (OIDC Core §3.1.2.3: prompt and max_age)? */
export function needsLogin(request: AuthorizationRequest, session: SsoSession | undefined): boolean {
  if (!session) return true;
  if (request.prompt.includes('login')) return true;
  if (request.max_age !== undefined && session.auth_time + request.max_age < Math.floor(Date.now() / 1000)) return true;
  return false;
}

/**
 * Sends the browser to log in: straight to the provider the app named (or the only one), or to
 * the chooser. The pending request is stored once, in the same round trip as the login
 * transaction when the provider is already known.
 */
export async function beginInteraction(ctx: Context, oauth: OAuthContext, request: AuthorizationRequest): Promise<void> {
  const id = randomToken(24);
  const interaction: Interaction = { request, binding: ctx.state.browserBinding };
  const put: StoreOp = { op: 'put', key: key(id), value: JSON.stringify(interaction), ttl: INTERACTION_TTL_S };
  const buttons = oauth.login.buttons();
  const providerId = request.provider ?? (buttons.length === 1 ? buttons[0]!.id : undefined);
  if (providerId) {
    const url = await oauth.login.begin(ctx, { providerId, context: { interaction: id }, loginHint: request.login_hint, ops: [put] });
    ctx.status = 303;
    ctx.redirect(url);
    return;
  }
  await oauth.store.batch([put]);
  ctx.status = 303;
  ctx.redirect(`${oauth.base}/interaction/${id}`);
}

async function loadInteraction(ctx: Context, oauth: OAuthContext, id: string, take: boolean): Promise<Interaction> {
  if (!/^[A-Za-z0-9_-]{32}$/.test(id)) throw pageError(400, 'invalid_request', 'this sign-in link is not valid');
  const text = take ? await oauth.store.take(key(id)) : await oauth.store.get(key(id));
  if (!text) throw pageError(400, 'invalid_request', 'this sign-in attempt has expired or was already used; start again from the application');
  const interaction = JSON.parse(text) as Interaction;
  if (!constantTimeEqual(interaction.binding, ctx.state.browserBinding)) {
    throw pageError(400, 'invalid_request', 'this sign-in attempt was started in another browser; start again from the application');
  }
  return interaction;
}

export async function showChooser(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  const client = oauth.clients.get(interaction.request.client_id);
  ctx.type = 'html';
  ctx.body = renderChooser({
    appName: client?.client_name ?? interaction.request.client_id,
    action: `${oauth.base}/interaction/${id}/login`,
    csrf: csrfToken(ctx, `interaction:${id}`),
    providers: oauth.login.buttons(),
    base: oauth.base,
  });
}

/** The chooser's POST: checks its CSRF token, then starts the chosen provider's login. */
export async function chooseProvider(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  const form: URLSearchParams = ctx.state.form;
  const problem = csrfProblem(ctx, `interaction:${id}`, form.get('csrf'), new URL(oauth.config.issuer).origin);
  if (problem) throw pageError(403, 'invalid_request', `${problem} (CSRF check failed)`);
  const providerId = form.get('provider') ?? '';
  if (!oauth.login.has(providerId)) throw pageError(400, 'invalid_request', 'unknown sign-in provider');
  const url = await oauth.login.begin(ctx, {
    providerId,
    context: { interaction: id },
    loginHint: interaction.request.login_hint,
  });
  ctx.status = 303;
  ctx.redirect(url);
}

/**
 * The user is signed in: answer the app, unless a third-party client still needs the user's
 * consent for some of the scopes (remembered per user, client and scope).
 */
export async function authorizeSignedIn(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
  user: User,
  session: SsoSession,
  ops: StoreOp[] = [],
): Promise<void> {
  const client = oauth.clients.get(request.client_id);
  if (client && !client.first_party) {
    const granted = JSON.parse((await oauth.store.get(consentKey(user.id, client.client_id))) ?? '[]') as string[];
    const missing = scopeSet(request.scope).filter((s) => !granted.includes(s));
    if (missing.length > 0 || request.prompt.includes('consent')) {
      if (request.prompt.includes('none')) {
        if (ops.length) await oauth.store.batch(ops);
        throw new AuthorizationError('consent_required', 'the user has not consented to this application yet (prompt=none)', {
          redirect_uri: request.redirect_uri,
          response_mode: request.response_mode,
          state: request.state,
        });
      }
      const id = randomToken(24);
      const interaction: Interaction = { request, binding: ctx.state.browserBinding, consentFor: user.id };
      await oauth.store.batch([...ops, { op: 'put', key: key(id), value: JSON.stringify(interaction), ttl: INTERACTION_TTL_S }]);
      ctx.status = 303;
      ctx.redirect(`${oauth.base}/interaction/${id}/consent`);
      return;
    }
  }
  await completeAuthorization(ctx, oauth, request, user, session, ops);
}

export async function showConsent(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const interaction = await loadInteraction(ctx, oauth, id, false);
  if (!interaction.consentFor) throw pageError(400, 'invalid_request', 'this sign-in attempt is not waiting for consent');
  const client = oauth.clients.get(interaction.request.client_id);
  ctx.type = 'html';
  ctx.body = renderConsent({
    appName: client?.client_name ?? interaction.request.client_id,
    scopes: scopeSet(interaction.request.scope),
    action: `${oauth.base}/interaction/${id}/consent`,
    csrf: csrfToken(ctx, `consent:${id}`),
    base: oauth.base,
  });
}

/** The consent form's POST: allow (remembered) or deny (access_denied to the app). */
export async function decideConsent(ctx: Context, oauth: OAuthContext): Promise<void> {
  const id = String(ctx.params.id ?? '');
  const form: URLSearchParams = ctx.state.form;
  const problem = csrfProblem(ctx, `consent:${id}`, form.get('csrf'), new URL(oauth.config.issuer).origin);
  if (problem) throw pageError(403, 'invalid_request', `${problem} (CSRF check failed)`);
  const interaction = await loadInteraction(ctx, oauth, id, true);
  const { request } = interaction;
  const session = currentSession(ctx, oauth.config.session);
  if (!interaction.consentFor || !session || session.uid !== interaction.consentFor) {
    throw pageError(400, 'invalid_request', 'your session changed while this page was open; start again from the application');
  }
  const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
  if (form.get('decision') !== 'allow') {
    ctx.status = 303;
    ctx.redirect(authorizationRedirect(target, oauth.config.issuer, { error: 'access_denied', error_description: 'the user denied access' }));
    return;
  }
  const user = await oauth.users.get(session.uid);
  if (!user) throw pageError(400, 'invalid_request', 'your account no longer exists');
  const previous = JSON.parse((await oauth.store.get(consentKey(user.id, request.client_id))) ?? '[]') as string[];
  const granted = [...new Set([...previous, ...scopeSet(request.scope)])];
  const remember: StoreOp = { op: 'put', key: consentKey(user.id, request.client_id), value: JSON.stringify(granted), ttl: CONSENT_TTL_S };
  await completeAuthorization(ctx, oauth, request, user, session, [remember]);
}

/**
 * Answers the app: a single-use code (code flow) or the tokens in the fragment (implicit).
 * `ops` (the user record write) go in the same round trip as the code.
 */
export async function completeAuthorization(
  ctx: Context,
  oauth: OAuthContext,
  request: AuthorizationRequest,
  user: User,
  session: SsoSession,
  ops: StoreOp[] = [],
): Promise<void> {
  const target = { redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state };
  const scopes = scopeSet(request.scope);
  const claims = userClaims(user, scopes);
  let values: Record<string, string | undefined>;
  if (request.response_type === 'code') {
    const grantId = newGrantId();
    const record = {
      client_id: request.client_id,
      redirect_uri: request.redirect_uri,
      user_id: user.id,
      scope: request.scope,
      nonce: request.nonce,
      code_challenge: request.code_challenge!,
      auth_time: session.auth_time,
      sid: session.sid,
      grant_id: grantId,
      claims,
      resource: request.resource,
      refresh: request.refresh,
    };
    const { code, op } = oauth.records.newCode(record);
    await oauth.store.batch([...ops, op]);
    values = { code };
  } else {
    if (ops.length) await oauth.store.batch(ops);
    values = await implicitTokens(oauth, request, user.id, session, claims);
  }
  ctx.status = 303;
  ctx.redirect(authorizationRedirect(target, oauth.config.issuer, values));
}

/** Implicit (legacy, opt-in): no refresh token, tokens only in the fragment, at_hash included. */
async function implicitTokens(
  oauth: OAuthContext,
  request: AuthorizationRequest,
  userId: string,
  session: SsoSession,
  claims: Record<string, unknown>,
): Promise<Record<string, string | undefined>> {
  const values: Record<string, string | undefined> = {};
  let accessToken: string | undefined;
  if (request.response_type === 'id_token token') {
    const at = await oauth.tokens.accessToken({
      clientId: request.client_id,
      subject: userId,
      scope: request.scope,
      audience: request.resource ?? request.client_id,
      authTime: session.auth_time,
    });
    accessToken = at.token;
    Object.assign(values, { access_token: at.token, token_type: 'Bearer', expires_in: String(at.expiresIn), scope: request.scope });
  }
  values.id_token = await oauth.tokens.idToken({
    clientId: request.client_id,
    subject: userId,
    authTime: session.auth_time,
    nonce: request.nonce,
    sid: session.sid,
    claims,
    accessToken,
  });
  return values;
}

/** The provider entry's login policy (`sync`, `link_by_email`). */
export function loginPolicy(oauth: OAuthContext, providerId: string): LoginPolicy {
  const entry = oauth.config.providers.find((p) => p.id === providerId);
  return entry ? { sync: entry.sync, linkByEmail: entry.link_by_email } : DEFAULT_POLICY;
}

/** Upstream's FinishLogin for app sign-ins: user, session, then the answer to the app. */
export function finishInteraction(oauth: OAuthContext): FinishLogin {
  return async (ctx, { context, identity, provider }) => {
    const id = context.interaction;
    if (!id) throw pageError(400, 'invalid_request', 'this login does not belong to a sign-in request');
    const interaction = await loadInteraction(ctx, oauth, id, true);
    const { user, created, linkedByEmail, ops } = await oauth.users.resolve(identity, loginPolicy(oauth, provider), ctx.ip);
    if (created) ctx.state.log?.info({ user: user.id, provider }, 'created a user at first login');
    if (linkedByEmail) ctx.state.log?.info({ audit: 'auto-link', user: user.id, provider, ip: ctx.ip }, 'linked a new identity by verified email');
    const session = await startSession(ctx, { uid: user.id, auth_time: Math.floor(Date.now() / 1000), provider });
    await authorizeSignedIn(ctx, oauth, interaction.request, user, session, ops);
  };
}

/** Upstream's FailLogin: an OAuth error back to the app, whose redirect URI was validated. */
export function failInteraction(oauth: OAuthContext): FailLogin {
  return async (ctx, { context, error, description }) => {
    const id = context.interaction;
    if (!id) throw pageError(400, error, description);
    const interaction = await loadInteraction(ctx, oauth, id, true);
    const { request } = interaction;
    ctx.status = 303;
    ctx.redirect(
      authorizationRedirect({ redirect_uri: request.redirect_uri, response_mode: request.response_mode, state: request.state }, oauth.config.issuer, {
        error,
        error_description: description,
      }),
    );
  };
}

export { currentSession };
