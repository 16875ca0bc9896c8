import * as client from 'openid-client';
import type { UpstreamStep } from '../http/metrics.js';
import { clientAuthentication } from './client-auth.js';
import { timed, type StepObserver } from './timing.js';
import { usesDiscovery } from './definition.js';
import type { ProviderDefinition } from './resolve.js';

/**
 * The client step (definition → client → connector): the broker as an openid-client client of
 * one provider. The Configuration is discovered (OIDC Discovery) or built from the definition's
 * endpoints, with the provider's client authentication and a fetch of its own: every request
 * bounded by the entry's timeout_ms, token requests and answers passed through the quirks.
 */

export type Fetch = typeof globalThis.fetch;

export interface ProviderClient {
  /** The openid-client Configuration: made once, then cached; tried again after a failure. */
  configuration(): Promise<client.Configuration>;
}

export function providerClient(
  provider: ProviderDefinition,
  fetch: Fetch = globalThis.fetch,
  observe?: StepObserver,
): ProviderClient {
  let made: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;
  return {
    configuration() {
      if (made) return Promise.resolve(made);
      pending ??= makeConfiguration(provider, fetch, observe).then(
        (config) => (made = config),
        (err: unknown) => {
          pending = undefined;
          throw err;
        },
      );
      return pending;
    },
  };
}

async function makeConfiguration(
  provider: ProviderDefinition,
  fetch: Fetch,
  observe?: StepObserver,
): Promise<client.Configuration> {
  const { definition, entry } = provider;
  const config = usesDiscovery(definition)
    ? await discover(
        provider,
        bounded(
          timed(fetch, () => 'discovery', observe),
          entry.timeout_ms,
        ),
      )
    : staticConfiguration(provider);
  // Once the token endpoint is known, requests to it go through the token quirks.
  const meta = config.serverMetadata();
  const stepOf = (url: string): UpstreamStep =>
    url === meta.token_endpoint
      ? 'token'
      : url === meta.userinfo_endpoint
        ? 'userinfo'
        : url === meta.jwks_uri
          ? 'jwks'
          : 'api';
  config[client.customFetch] = providerFetch(provider, timed(fetch, stepOf, observe), meta.token_endpoint);
  config.timeout = Math.ceil(entry.timeout_ms / 1000);
  // Token-endpoint ID tokens are signature-checked only with this (OIDC Core §3.1.3.7 step 6
  // allows skipping; we don't).
  if (definition.kind === 'oidc') client.enableNonRepudiationChecks(config);
  return config;
}

function discover(provider: ProviderDefinition, fetch: client.CustomFetch): Promise<client.Configuration> {
  const { definition, entry } = provider;
  return client.discovery(
    new URL(definition.issuer!),
    entry.client_id!,
    clientMetadata(provider),
    clientAuthentication(provider),
    {
      execute: allowsHttp(provider) ? [client.allowInsecureRequests] : [],
      [client.customFetch]: fetch,
      timeout: Math.ceil(entry.timeout_ms / 1000),
    },
  );
}

/** oauth2, or oidc with every endpoint given: the metadata comes from the definition. */
function staticConfiguration(provider: ProviderDefinition): client.Configuration {
  const { definition: def, entry } = provider;
  const server: client.ServerMetadata = {
    issuer: def.issuer!,
    authorization_endpoint: def.authorization_endpoint!,
    token_endpoint: def.token_endpoint!,
    ...(def.userinfo_endpoint ? { userinfo_endpoint: def.userinfo_endpoint } : {}),
    ...(def.jwks_uri ? { jwks_uri: def.jwks_uri } : {}),
    ...(def.iss_parameter ? { authorization_response_iss_parameter_supported: true } : {}),
  };
  const config = new client.Configuration(
    server,
    entry.client_id!,
    clientMetadata(provider),
    clientAuthentication(provider),
  );
  if (allowsHttp(provider)) client.allowInsecureRequests(config);
  return config;
}

function clientMetadata({ definition, entry }: ProviderDefinition): Partial<client.ClientMetadata> {
  return {
    ...(entry.client_secret ? { client_secret: entry.client_secret } : {}),
    ...(definition.kind === 'oidc' ? { id_token_signed_response_alg: definition.id_token_alg } : {}),
  };
}

/** Plain http is let through only where the definition names it (loopback hosts: config/urls.ts). */
function allowsHttp({ definition: d }: ProviderDefinition): boolean {
  const urls = [d.issuer, d.authorization_endpoint, d.token_endpoint, d.userinfo_endpoint, d.jwks_uri, d.profile?.url];
  return urls.some((value) => value?.startsWith('http:'));
}

/** Every request bounded by the entry's timeout, whatever the caller's own signal. */
function bounded(fetch: Fetch, timeoutMs: number): client.CustomFetch {
  return (url, init) => {
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    return fetch(url, { ...init, signal } as RequestInit);
  };
}

/** The provider's fetch: bounded, with the token request and answer passed through the quirks. */
function providerFetch(
  provider: ProviderDefinition,
  fetch: Fetch,
  tokenEndpoint: string | undefined,
): client.CustomFetch {
  const send = bounded(fetch, provider.entry.timeout_ms);
  const quirks = provider.quirks;
  return async (url, init) => {
    if (url !== tokenEndpoint) return send(url, init);
    let request = init as RequestInit;
    for (const quirk of quirks) if (quirk.tokenRequest) request = quirk.tokenRequest(request);
    let response = await send(url, request as client.CustomFetchOptions);
    for (const quirk of quirks) if (quirk.tokenResponse) response = await quirk.tokenResponse(response);
    return response;
  };
}
