import Router from '@koa/router';
import type { Context } from 'koa';
import * as client from 'openid-client';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/index.js';
import { devIdentity, devLoginPage } from './dev.js';
import { UpstreamFailure, UpstreamPageError } from './errors.js';
import { classify, exchange } from './exchange.js';
import { resolveProvider, type Fetch, type Provider } from './provider.js';
import { sameBinding, saveTransaction, takeTransaction, type Transaction } from './transaction.js';
import type { BeginLogin, FailLogin, FinishLogin, ProviderButton, UpstreamIdentity, UpstreamLogin } from './types.js';

export type { Provider } from './provider.js';
export { DefinitionError, loadDefinition, parseDefinition } from './definition.js';
export { TRANSACTION_TTL_S } from './transaction.js';

/** The log calls upstream/ makes (pino's shape). Never given tokens, codes or secrets. */
export interface UpstreamLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface UpstreamOptions {
  config: Pick<Config, 'issuer' | 'providers'>;
  store: Store;
  log: UpstreamLog;
  finish: FinishLogin;
  fail: FailLogin;
  /** The fetch used for every request to providers (tests inject one); global fetch otherwise. */
  fetch?: Fetch;
  /** Where provider files live; the shipped providers/ directory otherwise. */
  providersDir?: URL;
  /** The configuration file's name, for start-up errors. */
  configFile?: string;
}

export interface Upstream {
  login: UpstreamLogin;
  /** GET|POST /callback/:provider, GET /upstream/:provider/login (dev providers). */
  router: Router;
  providers: ReadonlyMap<string, Provider>;
}

/** Parameters a form_post answer may carry into the re-issued GET (OAuth 2.0 Form Post Response Mode). */
const FORWARDED = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'user'];
const FORM_LIMIT = 64 * 1024;

async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.request.is('application/x-www-form-urlencoded')) {
    throw new UpstreamPageError(400, 'invalid_request', 'the callback body must be application/x-www-form-urlencoded');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > FORM_LIMIT) throw new UpstreamPageError(413, 'invalid_request', 'the callback body is too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

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
 * The broker as an OAuth 2 / OIDC client of its upstream providers: starts logins (one store
 * round trip) and finishes them on `/callback/:provider` (one store round trip to take the
 * transaction), then hands the verified identity to `finish` or the failure to `fail`.
 */
export function createUpstream(options: UpstreamOptions): Upstream {
  const { config, store, log, finish, fail } = options;
  const issuer = config.issuer;
  const base = new URL(issuer).pathname.replace(/\/$/, '');
  const providers = new Map<string, Provider>();
  config.providers.forEach((entry, index) => {
    providers.set(entry.id, resolveProvider(entry, index, { brokerIssuer: issuer, ...(options.configFile ? { configFile: options.configFile } : {}), ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.providersDir ? { providersDir: options.providersDir } : {}) }));
  });

  const login: UpstreamLogin = {
    buttons(): ProviderButton[] {
      return [...providers.values()].map((p) => ({ id: p.id, label: p.label, ...(p.color ? { color: p.color } : {}) }));
    },
    has: (id) => providers.has(id),
    async begin(ctx: Context, input: BeginLogin): Promise<string> {
      const provider = providers.get(input.providerId);
      if (!provider) throw new UpstreamPageError(400, 'invalid_request', 'unknown provider');
      const binding: unknown = ctx.state.browserBinding;
      if (typeof binding !== 'string' || !binding) throw new Error('upstream login needs ctx.state.browserBinding (the browserId middleware)');
      const state = client.randomState();
      const txn: Transaction = { p: provider.id, b: binding, c: input.context };
      let target: string;
      if (provider.kind === 'dev') {
        target = `${issuer}/upstream/${encodeURIComponent(provider.id)}/login?state=${encodeURIComponent(state)}`;
      } else {
        const { definition } = provider;
        let configuration: client.Configuration;
        try {
          configuration = await provider.configuration();
        } catch (err) {
          log.warn({ provider: provider.id, reason: classify(err).description }, 'provider discovery failed');
          throw new UpstreamPageError(503, 'temporarily_unavailable', `${provider.label} cannot be reached right now; try again later`);
        }
        const params: Record<string, string> = {
          ...(definition.authorization_params ?? {}),
          response_type: 'code',
          redirect_uri: provider.redirectUri,
          scope: definition.scopes.join(' '),
          state,
        };
        if (definition.pkce === 'S256') {
          // Fresh S256 verifier per attempt; never plain, never retried without (RFC 7636 §7.2).
          txn.v = client.randomPKCECodeVerifier();
          params.code_challenge = await client.calculatePKCECodeChallenge(txn.v);
          params.code_challenge_method = 'S256';
        }
        if (definition.kind === 'oidc') {
          txn.n = client.randomNonce();
          params.nonce = txn.n;
          if (input.loginHint) params.login_hint = input.loginHint;
        }
        if (definition.response_mode === 'form_post') params.response_mode = 'form_post';
        for (const quirk of provider.quirks) Object.assign(params, quirk.authorizationParams?.(provider.entry) ?? {});
        target = client.buildAuthorizationUrl(configuration, params).href;
      }
      await saveTransaction(store, state, txn, input.ops);
      return target;
    },
  };

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
    await fail(ctx, { context: txn.c, provider, error: failure.code, description: failure.description });
  }

  async function complete(ctx: Context, provider: Provider, txn: Transaction, identity: UpstreamIdentity): Promise<void> {
    log.info({ provider: provider.id, issuer: identity.issuer, email_verified: identity.email_verified }, 'upstream login verified');
    await finish(ctx, { context: txn.c, identity, provider: provider.id });
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
    const form = await readForm(ctx);
    if (provider.kind === 'dev') {
      // Same-origin POST from our own form: the Lax browser cookie is sent, finish here.
      const txn = await take(ctx, single(form, 'state'));
      if (txn.p !== provider.id) return failed(ctx, txn.p, txn, new UpstreamFailure('access_denied', 'the answer arrived on another provider’s callback (RFC 9700 §4.4)'));
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
      return failed(ctx, txn.p, txn, new UpstreamFailure('access_denied', 'the answer arrived on another provider’s callback (RFC 9700 §4.4)'));
    }
    if (provider.kind === 'dev') return failed(ctx, provider.id, txn, new UpstreamFailure('access_denied', 'the development login answers with a form POST'));

    let identity: UpstreamIdentity;
    try {
      const error = single(params, 'error');
      const errorCode = single(params, 'error_code');
      if ((error || errorCode) && !params.has('code')) {
        // RFC 6749 §4.1.2.1; Facebook may send error_code/error_message instead.
        const code = error && FAIL_CODES.has(error) ? (error as 'access_denied') : error === 'server_error' ? 'temporarily_unavailable' : error ? 'access_denied' : 'server_error';
        // The provider's free text is not passed on (anyone can put text in this URL); it is logged, trimmed.
        const text = single(params, 'error_description') ?? single(params, 'error_message');
        throw new UpstreamFailure(code, `${provider.label} answered ${safeToken(error ?? `error_code ${errorCode}`)}`, text ? { provider_description: safeToken(text, 200) } : undefined);
      }
      identity = await exchange(provider, txn, state!, params);
    } catch (err) {
      return failed(ctx, provider.id, txn, classify(err));
    }
    return complete(ctx, provider, txn, identity);
  });

  return { login, router, providers };
}
