import Router from '@koa/router';
import type { Context } from 'koa';
import { readForm } from '../http/form-body.js';
import type { BrokerMetrics } from '../http/metrics.js';
import type { Store } from '../store/index.js';
import type { CallbackConnector, VerifiedLogin } from './connector.js';
import { classify, UpstreamFailure, UpstreamPageError } from './errors.js';
import type { UpstreamLog } from './log.js';
import { secretsOf, takeTransaction, type Transaction } from './transaction.js';
import { handlerFor, type LoginHandlers, type UpstreamTokenKeeper } from './types.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import { browserBinding } from '../http/browser-id.js';
import { browserRoute } from '../http/errors.js';
import { rateLimitVerdict } from '../http/rate-limit.js';

/** Parameters a form_post answer may carry into the re-issued GET (OAuth 2.0 Form Post Response Mode). */
const FORWARDED = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'user'];
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1)
    throw new UpstreamPageError(400, 'invalid_request', `${name} is repeated (RFC 6749 section 3.1)`);
  return values[0] || undefined;
}

const MIXED_UP = 'the answer arrived on another provider’s callback (RFC 9700 section 4.4)';

/**
 * GET|POST /callback/:provider, and GET /upstream/:provider/login for a connector that shows its
 * own login page (the development form). The callback takes the transaction (one store round
 * trip), has the connector finish the login with what came back, and hands the identity or the
 * failure to the handler of the login's kind.
 */
export function upstreamRouter(
  deps: {
    issuer: string;
    store: Store;
    log: UpstreamLog;
    connectors: ReadonlyMap<string, CallbackConnector>;
    metrics: BrokerMetrics;
    /** Where the tokens of providers with store_tokens go (the vault); absent when none stores them. */
    keeper?: UpstreamTokenKeeper;
  },
  handlers: LoginHandlers,
): Router {
  const { issuer, store, log, connectors, metrics, keeper } = deps;
  const base = new URL(issuer).pathname.replace(/\/$/, '');

  /** Takes the transaction for this state: missing, unknown, replayed, expired or foreign → 400 page. */
  async function take(ctx: Context, state: string | undefined): Promise<Transaction> {
    if (!state)
      throw new UpstreamPageError(400, 'invalid_request', 'the callback has no state (RFC 6749 section 10.12)');
    if (state.length > 512) throw new UpstreamPageError(400, 'invalid_request', 'the state is not one of ours');
    const txn = await takeTransaction(store, state);
    // The browser limit's count rode with the take: a refused request ends here, before the
    // provider is called or anything is written (its transaction is spent: it starts again).
    await rateLimitVerdict(ctx);
    const gone = 'this login is unknown, expired or already finished; start again';
    if (!txn) throw new UpstreamPageError(400, 'invalid_request', gone);
    if (!constantTimeEqual(browserBinding(ctx), txn.b)) {
      // Login CSRF (docs/security.md C-CSRF-02): someone else's transaction arriving in this browser.
      log.warn({ provider: txn.p }, 'login transaction presented by another browser');
      throw new UpstreamPageError(400, 'invalid_request', 'this login was started in another browser; start again');
    }
    return txn;
  }

  async function failed(ctx: Context, provider: string, txn: Transaction, failure: UpstreamFailure): Promise<void> {
    const detail = failure.detail ? { detail: failure.detail } : {};
    log.warn({ provider, error: failure.code, reason: failure.description, ...detail }, 'upstream login failed');
    const result = { context: txn.c, provider, error: failure.code, description: failure.description };
    metrics.login(provider, failure.kind);
    if (failure.kind !== 'denied') metrics.upstreamError(provider, failure.kind);
    await handlerFor(handlers, txn.c).fail(ctx, result);
  }

  async function complete(ctx: Context, provider: string, txn: Transaction, login: VerifiedLogin): Promise<void> {
    const { identity, tokens } = login;
    const verified = { provider, issuer: identity.issuer, email_verified: identity.email_verified };
    log.info(verified, 'upstream login verified');
    // The provider's tokens go nowhere but the vault writer, into this request's unit of work.
    const keepTokens = (userId: string) => {
      if (tokens && keeper) keeper.keep(ctx.state.work, { userId, identity, tokens });
    };
    try {
      await handlerFor(handlers, txn.c).finish(ctx, { context: txn.c, identity, provider, keepTokens });
    } catch (err) {
      metrics.login(provider, 'error');
      throw err;
    }
    metrics.login(provider, 'success');
  }

  /**
   * The answer for this state, finished by the connector it came back to: ends in finish() or
   * fail(). `arrived` is how it came, which must be the way this connector answers.
   */
  async function finishLogin(
    ctx: Context,
    connector: CallbackConnector,
    params: URLSearchParams,
    arrived: CallbackConnector['answer'],
  ): Promise<void> {
    const state = single(params, 'state');
    const txn = await take(ctx, state);
    // Mix-up defence: the answer must come back on the callback of the provider the login went to
    // (RFC 9700 §4.4.2.2; docs/security.md C-MIX-04).
    const mixedUp = new UpstreamFailure('access_denied', MIXED_UP, undefined, 'mixup');
    if (txn.p !== connector.id) return failed(ctx, txn.p, txn, mixedUp);
    if (arrived !== connector.answer) {
      const expected = connector.answer === 'form' ? 'a form POST' : 'a redirect';
      const wrongWay = new UpstreamFailure(
        'access_denied',
        `${connector.label} answers with ${expected}`,
        undefined,
        'mixup',
      );
      return failed(ctx, connector.id, txn, wrongWay);
    }
    let login: VerifiedLogin;
    try {
      login = await connector.finish({ params, state: state!, secrets: secretsOf(txn) });
    } catch (err) {
      return failed(ctx, connector.id, txn, classify(err));
    }
    return complete(ctx, connector.id, txn, login);
  }

  function connectorAt(ctx: Context): CallbackConnector {
    const connector = connectors.get(ctx.params.provider ?? '');
    if (!connector) throw new UpstreamPageError(404, 'invalid_request', 'unknown provider');
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    return connector;
  }

  const router = new Router();
  // These routes answer a browser: errors are pages, also where this router is mounted alone.
  const page = browserRoute;

  router.get('/upstream/:provider/login', page, async (ctx) => {
    const connector = connectors.get(ctx.params.provider ?? '');
    if (!connector?.loginPage) throw new UpstreamPageError(404, 'not_found', 'no such development provider');
    const state = single(new URLSearchParams(ctx.querystring), 'state');
    if (!state || state.length > 512) {
      throw new UpstreamPageError(400, 'invalid_request', 'the login has no state; start again from the app');
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.type = 'html';
    ctx.body = connector.loginPage({ base, action: `${base}/callback/${connector.id}`, state });
  });

  router.post('/callback/:provider', page, async (ctx) => {
    const connector = connectorAt(ctx);
    if (connector.answer === 'form') {
      // Our own form posts same-origin; the browser-bound state is its CSRF token, and a browser
      // that says the post is cross-site is refused outright (docs/security.md K-07).
      const site = ctx.get('sec-fetch-site');
      if (site && site !== 'same-origin' && site !== 'none') {
        throw new UpstreamPageError(403, 'access_denied', 'a cross-site form post is not accepted here');
      }
    }
    const form = await readForm(ctx, { required: true });
    // Same-origin POST from our own form: the Lax browser cookie is sent, finish here.
    if (connector.answer === 'form') return finishLogin(ctx, connector, form, 'form');
    // response_mode=form_post (Apple) is a cross-site POST: a SameSite=Lax cookie is not sent, so
    // the browser binding cannot be checked here. Re-issue it as a same-site top-level GET (where
    // Lax cookies are sent) and do everything there. Nothing is taken or exchanged on the POST.
    const query = new URLSearchParams();
    for (const key of FORWARDED) {
      for (const value of form.getAll(key)) if (value.length <= 4096) query.append(key, value);
    }
    ctx.set('Location', `${issuer}/callback/${encodeURIComponent(connector.id)}?${query.toString()}`);
    ctx.status = 303;
    ctx.type = 'text/plain';
    ctx.body = 'See Other';
  });

  router.get('/callback/:provider', page, async (ctx) => {
    const connector = connectorAt(ctx);
    return finishLogin(ctx, connector, new URLSearchParams(ctx.querystring), 'redirect');
  });
  return router;
}
