import type { Context } from 'koa';
import * as client from 'openid-client';
import { UpstreamPageError } from './errors.js';
import { classify } from './exchange.js';
import type { UpstreamLog } from './log.js';
import type { Provider } from './provider.js';
import { transactionOp, type Transaction } from './transaction.js';
import type { BeginLogin, ProviderButton, UpstreamLogin } from './types.js';

/**
 * Starting logins: the transaction (state hash, browser binding, nonce, PKCE verifier, context)
 * goes into the caller's unit of work, which the caller commits with its other writes.
 */
export function upstreamLogin(deps: {
  issuer: string;
  log: UpstreamLog;
  providers: ReadonlyMap<string, Provider>;
}): UpstreamLogin {
  const { issuer, log, providers } = deps;
  return {
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
      input.work.add(transactionOp(state, txn));
      return target;
    },
  };
}
