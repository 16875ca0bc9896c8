import * as client from 'openid-client';
import { UpstreamFailure } from './errors.js';
import type { ApiRequest } from './quirks/types.js';
import type { ProviderDefinition } from './resolve.js';

/**
 * Calls to a provider's own API with the user's access token (the profile of an oauth2 provider,
 * and what quirks read): JSON answers only, bounded in size, the quirks' URL, method and answer
 * rewrites applied.
 */

const MAX_API_BYTES = 1024 * 1024;

export interface ApiCall {
  headers?: Record<string, string>;
  query?: Record<string, string>;
}

export type Api = (target: string, call?: ApiCall) => Promise<unknown>;

export function providerApi(provider: ProviderDefinition, config: client.Configuration, accessToken: string): Api {
  const { quirks, entry } = provider;
  return async (target, call) => {
    const url = new URL(target);
    for (const [k, v] of Object.entries(call?.query ?? {})) url.searchParams.set(k, v);
    for (const quirk of quirks) quirk.apiUrl?.(url, accessToken, entry);
    const headers = new Headers({ accept: 'application/json', 'user-agent': 'login-broker', ...(call?.headers ?? {}) });
    let request: ApiRequest | undefined;
    for (const quirk of quirks) request = quirk.apiRequest?.(url, accessToken, entry) ?? request;
    const method = request?.method ?? 'GET';
    let response = await client.fetchProtectedResource(config, accessToken, url, method, request?.body, headers);
    for (const quirk of quirks) if (quirk.apiResponse) response = await quirk.apiResponse(response);
    return readJson(response, 'API');
  };
}

async function readJson(response: Response, what: string): Promise<unknown> {
  const answered = `the provider's ${what} answered ${response.status}`;
  if (response.status >= 500 || response.status === 429) throw new UpstreamFailure('temporarily_unavailable', answered);
  if (!response.ok) throw new UpstreamFailure('server_error', answered);
  const text = await response.text();
  if (text.length > MAX_API_BYTES)
    throw new UpstreamFailure('server_error', `the provider's ${what} answer is too large`);
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamFailure('server_error', `the provider's ${what} answer is not JSON`);
  }
}
