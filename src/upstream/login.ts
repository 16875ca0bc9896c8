import type { Context } from 'koa';
import * as client from 'openid-client';
import type { CallbackConnector, LoginStart } from './connector.js';
import { UpstreamFailure, UpstreamPageError } from './errors.js';
import type { UpstreamLog } from './log.js';
import { newTransaction, transactionOp } from './transaction.js';
import type { BeginLogin, ProviderButton, UpstreamLogin } from './types.js';
import { browserBinding } from '../http/browser-id.js';

/**
 * Starting logins, whatever the connector: the transaction (state hash, browser binding, context,
 * and what the connector keeps: nonce, PKCE verifier) goes into the caller's unit of work, which
 * the caller commits with its other writes.
 */
export function upstreamLogin(deps: {
  log: UpstreamLog;
  connectors: ReadonlyMap<string, CallbackConnector>;
}): UpstreamLogin {
  const { log, connectors } = deps;

  /** The connector's start; a provider that cannot be reached is a 503 page, and nothing is stored. */
  async function start(connector: CallbackConnector, state: string, loginHint?: string): Promise<LoginStart> {
    try {
      return await connector.authorizationUrl({ state, ...(loginHint ? { loginHint } : {}) });
    } catch (err) {
      if (!(err instanceof UpstreamFailure)) throw err;
      log.warn({ provider: connector.id, reason: err.description }, 'provider discovery failed');
      const text = `${connector.label} cannot be reached right now; try again later`;
      throw new UpstreamPageError(503, 'temporarily_unavailable', text);
    }
  }

  return {
    buttons(): ProviderButton[] {
      return [...connectors.values()].map((c) => ({
        id: c.id,
        label: c.label,
        ...(c.color ? { color: c.color } : {}),
      }));
    },
    has: (id) => connectors.has(id),
    async begin(ctx: Context, input: BeginLogin): Promise<string> {
      const connector = connectors.get(input.providerId);
      if (!connector) throw new UpstreamPageError(400, 'invalid_request', 'unknown provider');
      const binding = browserBinding(ctx);
      const state = client.randomState();
      const { url, secrets } = await start(connector, state, input.loginHint);
      input.work.add(transactionOp(state, newTransaction(connector.id, binding, input.context, secrets)));
      return url;
    },
  };
}
