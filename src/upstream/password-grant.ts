import * as client from 'openid-client';
import type { ProviderEntry } from '../config/providers.js';
import { UpstreamFailure } from './errors.js';
import { classify } from './exchange.js';
import { mapIdentity } from './mapping.js';
import { resolveProvider, type Fetch } from './provider.js';
import type { UpstreamIdentity } from './types.js';

/**
 * The password grant forwarded to an upstream `oidc` provider that supports it (`password_grant:
 * true`; RFC 6749 §4.3): openid-client's generic grant with the provider's client credentials,
 * then the same checks and mapping as a code-flow login: the ID token is required and verified
 * (signature with the pinned alg, iss, aud/azp, exp, iat; no nonce exists in this grant), the
 * provider's claim quirks run, userinfo is read when advertised (its sub must match), and the
 * claims are mapped with the provider's mapping.
 *
 * Credentials are sent only to the token endpoint and never logged; upstream tokens stay here.
 */
export type UpstreamPasswordCheck = { ok: true; identity: UpstreamIdentity } | { ok: false; reason: string };

export interface UpstreamPasswordSource {
  id: string;
  kind: 'upstream';
  /** Throws UpstreamFailure('temporarily_unavailable') when the provider cannot answer. */
  authenticate(username: string, password: string): Promise<UpstreamPasswordCheck>;
}

export function upstreamPasswordSource(entry: ProviderEntry, index: number, options: { brokerIssuer: string; fetch?: Fetch }): UpstreamPasswordSource {
  const provider = resolveProvider(entry, index, options);
  const { definition, quirks } = provider;
  return {
    id: provider.id,
    kind: 'upstream',
    async authenticate(username, password) {
      let tokens: Awaited<ReturnType<typeof client.genericGrantRequest>>;
      let config: client.Configuration;
      try {
        config = await provider.configuration();
        await provider.prepareExchange();
        tokens = await client.genericGrantRequest(config, 'password', { username, password, scope: definition.scopes.join(' ') });
      } catch (err) {
        // The provider's refusal (invalid_grant for bad credentials; mfa_required, unauthorized_client...)
        // is the user's failure; its text is not passed on.
        if (err instanceof client.ResponseBodyError && err.status < 500 && err.error !== 'temporarily_unavailable') {
          return { ok: false, reason: `the provider answered ${err.error.replace(/[^\x20-\x7e]/g, '?').slice(0, 64)}` };
        }
        const failure = classify(err);
        if (failure.code === 'temporarily_unavailable') throw failure;
        return { ok: false, reason: failure.description };
      }
      try {
        const claims = tokens.claims() as Record<string, unknown> | undefined;
        if (!claims) return { ok: false, reason: 'the provider sent no ID token' };
        for (const quirk of quirks) {
          const problem = quirk.checkClaims?.(claims, entry, definition);
          if (problem) return { ok: false, reason: problem };
        }
        const sources: Record<string, unknown>[] = [claims];
        const raw: Record<string, unknown> = { id_token_claims: claims };
        if (definition.userinfo && config.serverMetadata().userinfo_endpoint) {
          const userinfo = await client.fetchUserInfo(config, tokens.access_token, String(claims.sub));
          sources.push(userinfo as Record<string, unknown>);
          raw.userinfo = userinfo;
        }
        return { ok: true, identity: mapIdentity(definition, sources, provider.id, String(claims.iss), raw) };
      } catch (err) {
        const failure = classify(err);
        if (failure.code === 'temporarily_unavailable') throw failure;
        return { ok: false, reason: failure.description };
      }
    },
  };
}

export { UpstreamFailure };
