import Router from '@koa/router';
import type { Context } from 'koa';
import { readForm } from '../http/form-body.js';
import type { BrokerMetrics } from '../http/metrics.js';
import type { Store } from '../store/index.js';
import { devIdentity, devLoginPage } from './dev.js';
import { UpstreamFailure, UpstreamPageError } from './errors.js';
import { classify, exchange } from './exchange.js';
import type { UpstreamLog } from './log.js';
import type { Provider } from './provider.js';
import { sameBinding, takeTransaction, type Transaction } from './transaction.js';
import { handlerFor, type LoginHandlers, type UpstreamIdentity } from './types.js';

/** Parameters a form_post answer may carry into the re-issued GET (OAuth 2.0 Form Post Response Mode). */
const FORWARDED = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'user'];
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new UpstreamPageError(400, 'invalid_request', `${name} is repeated (RFC 6749 §3.1)`);
  return values[0] || undefined;
}

/** Provider-supplied text for logs and descriptions: printable ASCII, bounded. */
export function safeToken(text: string, max = 64): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

const FAIL_CODES = new Set(['access_denied', 'temporarily_unavailable', 'login_required']);

/**
 * GET|POST /callback/:provider and GET /upstream/:provider/login (dev providers). The callback
 * takes the transaction (one store round trip), verifies the answer, and hands the identity or
 * the failure to the handler of the login's kind.
 */
export function upstreamRouter(
  deps: { issuer: string; store: Store; log: UpstreamLog; providers: ReadonlyMap<string, Provider>; metrics: BrokerMetrics },
  handlers: LoginHandlers,
): Router {
  const { issuer, store, log, providers, metrics } = deps;
  const base = new URL(issuer).pathname.replace(/\/$/, '');

  /** Takes the transaction for this state: missing, unknown, replayed, expired or foreign → 400 page. */
  async function take(ctx: Context, state: string | undefined): Promise<Transaction> {
    if (!state) throw new UpstreamPageError(400, 'invalid_request', 'the callback has no state (RFC 6749 §10.12)');
    if (state.length > 512) throw new UpstreamPageError(400, 'invalid_request', 'the state is not one of ours');
    const txn = await takeTransaction(store, state);
    if (!txn) throw new UpstreamPageError(400, 'invalid_request', 'this login is unknown, expired or already finished; start again');
    const binding: unknown = ctx.state.browserBinding;
    if (typeof binding !== 'string' || !sameBinding(binding, txn.b)) {
      // Login CSRF (docs/security.md C-CSRF-02): someone else's transaction arriving in this browser.
      log.warn({ provider: txn.p }, 'login transaction presented by another browser');
      throw new UpstreamPageError(400, 'invalid_request', 'this login was started in another browser; start again');
    }
    return txn;
  }

  async function failed(ctx: Context, provider: string, txn: Transaction, failure: UpstreamFailure): Promise<void> {
    log.warn({ provider, error: failure.code, reason: failure.description, ...(failure.detail ? { detail: failure.detail } : {}) }, 'upstream login failed');
    metrics.login(provider, failure.kind);
    if (failure.kind !== 'denied') metrics.upstreamError(provider, failure.kind);
    await handlerFor(handlers, txn.c).fail(ctx, { context: txn.c, provider, error: failure.code, description: failure.description });
  }

  async function complete(ctx: Context, provider: Provider, txn: Transaction, identity: UpstreamIdentity): Promise<void> {
    log.info({ provider: provider.id, issuer: identity.issuer, email_verified: identity.email_verified }, 'upstream login verified');
    try {
      await handlerFor(handlers, txn.c).finish(ctx, { context: txn.c, identity, provider: provider.id });
    } catch (err) {
      metrics.login(provider.id, 'error');
      throw err;
    }
    metrics.login(provider.id, 'success');
  }

  const router = new Router();
  /** These routes answer a browser: errors render as HTML pages (the http layer reads ctx.state.page). */
  const page = async (ctx: Context, next: () => Promise<unknown>) => {
    ctx.state.page = true;
    await next();
  };

  router.get('/upstream/:provider/login', page, async (ctx) => {
    const provider = providers.get(ctx.params.provider ?? '');
    if (!provider || provider.kind !== 'dev') throw new UpstreamPageError(404, 'not_found', 'no such development provider');
    const state = single(new URLSearchParams(ctx.querystring), 'state');
    if (!state || state.length > 512) throw new UpstreamPageError(400, 'invalid_request', 'the login has no state; start again from the app');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = 'html';
    ctx.body = devLoginPage({ base, action: `${base}/callback/${provider.id}`, state, label: provider.label });
  });

  router.post('/callback/:provider', page, async (ctx) => {
    const provider = providers.get(ctx.params.provider ?? '');
    if (!provider) throw new UpstreamPageError(404, 'invalid_request', 'unknown provider');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (provider.kind === 'dev') {
      // Our own form posts same-origin; the browser-bound state is its CSRF token, and a browser
      // that says the post is cross-site is refused outright (docs/security.md K-07).
      const site = ctx.get('sec-fetch-site');
      if (site && site !== 'same-origin' && site !== 'none') throw new UpstreamPageError(403, 'access_denied', 'a cross-site form post is not accepted here');
    }
    const form = await readForm(ctx, { required: true });
    if (provider.kind === 'dev') {
      // Same-origin POST from our own form: the Lax browser cookie is sent, finish here.
      const txn = await take(ctx, single(form, 'state'));
      if (txn.p !== provider.id) return failed(ctx, txn.p, txn, new UpstreamFailure('access_denied', 'the answer arrived on another provider’s callback (RFC 9700 §4.4)', undefined, 'mixup'));
      let identity: UpstreamIdentity;
      try {
        identity = devIdentity(provider, form);
      } catch (err) {
        return failed(ctx, provider.id, txn, classify(err));
      }
      return complete(ctx, provider, txn, identity);
    }
    // response_mode=form_post (Apple) is a cross-site POST: a SameSite=Lax cookie is not sent, so
    // the browser binding cannot be checked here. Re-issue it as a same-site top-level GET (where
    // Lax cookies are sent) and do everything there. Nothing is taken or exchanged on the POST.
    const query = new URLSearchParams();
    for (const key of FORWARDED) for (const value of form.getAll(key)) if (value.length <= 4096) query.append(key, value);
    ctx.set('Location', `${issuer}/callback/${encodeURIComponent(provider.id)}?${query.toString()}`);
    ctx.status = 303;
    ctx.type = 'text/plain';
    ctx.body = 'See Other';
  });

  router.get('/callback/:provider', page, async (ctx) => {
    const pathProvider = ctx.params.provider ?? '';
    const provider = providers.get(pathProvider);
    if (!provider) throw new UpstreamPageError(404, 'invalid_request', 'unknown provider');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    const params = new URLSearchParams(ctx.querystring);
    const state = single(params, 'state');
    const txn = await take(ctx, state);
    // Mix-up defence: the answer must come back on the callback of the provider the login went to
    // (RFC 9700 §4.4.2.2; docs/security.md C-MIX-04).
    if (txn.p !== provider.id) {
      return failed(ctx, txn.p, txn, new UpstreamFailure('access_denied', 'the answer arrived on another provider’s callback (RFC 9700 §4.4)', undefined, 'mixup'));
    }
    if (provider.kind === 'dev') return failed(ctx, provider.id, txn, new UpstreamFailure('access_denied', 'the development login answers with a form POST', undefined, 'mixup'));

    let identity: UpstreamIdentity;
    try {
      const error = single(params, 'error');
      const errorCode = single(params, 'error_code');
      if ((error || errorCode) && !params.has('code')) {
        // RFC 6749 §4.1.2.1; Facebook may send error_code/error_message instead.
        const code = error && FAIL_CODES.has(error) ? (error as 'access_denied') : error === 'server_error' ? 'temporarily_unavailable' : error ? 'access_denied' : 'server_error';
        // The provider's free text is not passed on (anyone can put text in this URL); it is logged, trimmed.
        const text = single(params, 'error_description') ?? single(params, 'error_message');
        const detail = text ? { provider_description: safeToken(text, 200) } : undefined;
        const kind = error === 'access_denied' || error === 'login_required' ? 'denied' : 'provider_error';
        throw new UpstreamFailure(code, `${provider.label} answered ${safeToken(error ?? `error_code ${errorCode}`)}`, detail, kind);
      }
      identity = await exchange(provider, txn, state!, params);
    } catch (err) {
      return failed(ctx, provider.id, txn, classify(err));
    }
    return complete(ctx, provider, txn, identity);
  });
  return router;
}
