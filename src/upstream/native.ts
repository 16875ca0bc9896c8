import { createHash } from 'node:crypto';
import * as jose from 'jose';
import type { Store } from '../store/index.js';
import { nowS } from '../lib/clock.js';
import type { Fetch, ProviderClient } from './client.js';
import { classify } from './errors.js';
import { mapIdentity } from './mapping.js';
import { providerApi } from './api.js';
import { isObject } from './quirks/types.js';
import type { ProviderDefinition } from './resolve.js';
import type { NativeCheck, UpstreamNativeSignIn } from './types.js';

interface Connected {
  definition: ProviderDefinition;
  client: ProviderClient;
}

/** A used ID token, by hash, until it expires: each is accepted once. */
const usedKey = (token: string) => `native-id-token:${createHash('sha256').update(token).digest('base64url')}`;

/**
 * Native sign-in: an app signed the user in with the provider's own SDK and presents what it got.
 * ID tokens (OIDC providers) are verified like a login's (OIDC Core §3.1.3.7): signature with the
 * provider's JWKS and its pinned algorithm (never HS256 or none), `iss`, `exp`, `aud` one of the
 * broker's client id and the entry's `native_client_ids`, `iat` at most `native_max_age_s` ago,
 * the provider's claim quirks; and each one is accepted once. Access tokens only where the
 * provider's quirk can ask the provider that the token was issued to our app; then the profile
 * is read as at a login.
 */
export function nativeSignIn(
  providers: ReadonlyMap<string, Connected>,
  store: Store,
  fetch?: Fetch,
): UpstreamNativeSignIn {
  const keySets = new Map<string, ReturnType<typeof jose.createRemoteJWKSet>>();
  const keysOf = (id: string, jwksUri: string, timeoutMs: number) => {
    let keys = keySets.get(id);
    if (!keys) {
      keys = jose.createRemoteJWKSet(new URL(jwksUri), {
        timeoutDuration: timeoutMs,
        ...(fetch ? { [jose.customFetch]: fetch } : {}),
      });
      keySets.set(id, keys);
    }
    return keys;
  };

  return {
    async verify(id, token, kind): Promise<NativeCheck> {
      const provider = providers.get(id);
      if (!provider) return { ok: false, reason: `"${id}" is no provider` };
      const { definition: def, entry, quirks } = provider.definition;
      if (kind === 'access_token') return accessTokenSignIn(provider, id, token, fetch ?? globalThis.fetch);
      if (def.kind !== 'oidc') return { ok: false, reason: `${provider.definition.label} issues no ID tokens` };
      let meta;
      try {
        meta = (await provider.client.configuration()).serverMetadata();
      } catch (err) {
        return { ok: false, reason: classify(err).description, unavailable: true };
      }
      if (!meta.jwks_uri) return { ok: false, reason: `${provider.definition.label} publishes no keys` };
      let payload: jose.JWTPayload;
      try {
        ({ payload } = await jose.jwtVerify(token, keysOf(id, meta.jwks_uri, entry.timeout_ms), {
          issuer: meta.issuer,
          audience: [entry.client_id!, ...entry.native_client_ids],
          algorithms: [def.id_token_alg],
          maxTokenAge: entry.native_max_age_s,
          requiredClaims: ['sub', 'iat', 'exp'],
          currentDate: new Date(nowS() * 1000),
        }));
      } catch (err) {
        if (err instanceof jose.errors.JWKSTimeout)
          return { ok: false, reason: 'the provider did not answer', unavailable: true };
        const why = err instanceof jose.errors.JOSEError ? err.code : 'not a JWT';
        return { ok: false, reason: `the ID token did not verify (${why})` };
      }
      for (const quirk of quirks) {
        const problem = quirk.checkClaims?.(payload, entry, def);
        if (problem) return { ok: false, reason: problem };
      }
      const ttl = Math.max(1, (payload.exp ?? nowS()) - nowS());
      if (!(await store.putIfAbsent(usedKey(token), '1', ttl))) {
        return { ok: false, reason: 'this ID token was already used' };
      }
      try {
        const identity = mapIdentity(def, [payload], id, String(payload.iss), { id_token_claims: payload });
        return { ok: true, identity };
      } catch (err) {
        return { ok: false, reason: classify(err).description };
      }
    },
  };
}

/** An access token the provider confirms was issued to our app, then the profile as at a login. */
async function accessTokenSignIn(provider: Connected, id: string, token: string, fetch: Fetch): Promise<NativeCheck> {
  const { definition: def, entry, quirks, label } = provider.definition;
  const checker = quirks.find((quirk) => quirk.checkNativeAccessToken);
  if (!checker?.checkNativeAccessToken || !def.profile) {
    return { ok: false, reason: `${label} access tokens cannot be checked here` };
  }
  const bounded: Fetch = (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(entry.timeout_ms) });
  try {
    const problem = await checker.checkNativeAccessToken({ token, entry, fetch: bounded });
    if (problem) return { ok: false, reason: problem };
    const api = providerApi(provider.definition, await provider.client.configuration(), token);
    const { url, headers, query } = def.profile;
    const profile = await api(url, { ...(headers ? { headers } : {}), ...(query ? { query } : {}) });
    if (!isObject(profile)) return { ok: false, reason: 'the provider sent a profile that is not an object' };
    const identity = mapIdentity(def, [profile], id, def.issuer!, { profile });
    const params = new URLSearchParams();
    for (const quirk of quirks) await quirk.enrich?.({ identity, entry, definition: def, params, api: (u) => api(u) });
    return { ok: true, identity };
  } catch (err) {
    const failure = classify(err);
    return { ok: false, reason: failure.description, unavailable: failure.code === 'temporarily_unavailable' };
  }
}
