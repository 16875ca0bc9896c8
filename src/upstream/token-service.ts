import * as client from 'openid-client';
import type { ProviderClient } from './client.js';
import { classify } from './errors.js';
import { tokenSet } from './exchange.js';
import type { UpstreamLog } from './log.js';
import type { ProviderDefinition } from './resolve.js';
import type { UpstreamRefresh, UpstreamTokenService } from './types.js';

interface Stored {
  definition: ProviderDefinition;
  client: ProviderClient;
}

/**
 * Refreshing (RFC 6749 §6) and revoking (RFC 7009) a provider's tokens for the vault, with the
 * same openid-client Configuration as its logins (client authentication, quirks, timeouts).
 * Nothing here logs a token: failures are logged by their classified reason only.
 */
export function upstreamTokenService(providers: ReadonlyMap<string, Stored>, log: UpstreamLog): UpstreamTokenService {
  const storing = (id: string) => {
    const provider = providers.get(id);
    return provider?.definition.entry.store_tokens ? provider : undefined;
  };
  return {
    stores: (id) => storing(id) !== undefined,
    async refresh(id, refreshToken): Promise<UpstreamRefresh> {
      const provider = storing(id);
      if (!provider) return { ok: false, reason: 'refused' };
      try {
        const config = await provider.client.configuration();
        const answer = await client.refreshTokenGrant(config, refreshToken);
        const previous = { refreshToken, scope: provider.definition.definition.scopes.join(' ') };
        return { ok: true, tokens: tokenSet(answer, provider.definition.definition.scopes, previous) };
      } catch (err) {
        const failure = classify(err);
        log.warn({ provider: id, reason: failure.description }, 'upstream token refresh failed');
        // invalid_grant: the refresh token is revoked or expired at the provider (RFC 6749 §5.2).
        const refused = err instanceof client.ResponseBodyError && err.error === 'invalid_grant';
        return { ok: false, reason: refused ? 'refused' : 'unavailable' };
      }
    },
    async revoke(id, tokens) {
      const provider = storing(id);
      if (!provider) return;
      try {
        const config = await provider.client.configuration();
        if (!config.serverMetadata().revocation_endpoint) return;
        const token = tokens.refreshToken ?? tokens.accessToken;
        const hint = tokens.refreshToken ? 'refresh_token' : 'access_token';
        await client.tokenRevocation(config, token, { token_type_hint: hint });
      } catch (err) {
        log.warn({ provider: id, reason: classify(err).description }, 'upstream token revocation failed');
      }
    },
  };
}
