import type { ProviderEntry } from '../../config/providers.js';
import type { Definition } from '../definition.js';
import type { UpstreamIdentity } from '../types.js';

/** What a quirk may read when it enriches an identity. */
export interface EnrichInput {
  identity: UpstreamIdentity;
  entry: ProviderEntry;
  definition: Definition;
  /** The callback's parameters (Apple's first-login `user` field arrives there). */
  params: URLSearchParams;
  /** GET a JSON document from the provider's API with the access token (quirks applied). */
  api(url: string): Promise<unknown>;
}

/** An API request a quirk turns into a POST (an RPC-style profile endpoint). */
export interface ApiRequest {
  method: 'POST';
  body?: URLSearchParams;
}

/**
 * A named departure from the specs, referenced from a provider file. Each hook is optional and
 * small; the login path calls them at fixed points.
 */
export interface Quirk {
  readonly name: string;
  /** Problems with the deployment entry or definition, found at start. */
  check?(entry: ProviderEntry, definition: Definition): string[];
  /** Extra authorization request parameters. */
  authorizationParams?(entry: ProviderEntry): Record<string, string>;
  /** The client secret to send, when it is not a static value. */
  clientSecret?(entry: ProviderEntry): Promise<string>;
  /** Extra token request parameters, from the callback's (VK ID's device_id). */
  tokenParams?(callback: URLSearchParams, entry: ProviderEntry): Record<string, string>;
  /** Rewrites the token request before it is sent (a JSON body where the provider wants one). */
  tokenRequest?(init: RequestInit): RequestInit;
  /** Rewrites a token endpoint answer before openid-client reads it. */
  tokenResponse?(response: Response): Promise<Response>;
  /** Rewrites a profile/API answer before it is read. */
  apiResponse?(response: Response): Promise<Response>;
  /** An API call that is not a plain GET: the method and body to use instead. */
  apiRequest?(url: URL, accessToken: string, entry: ProviderEntry): ApiRequest | undefined;
  /** Changes an API URL before the call (e.g. adds a proof parameter). */
  apiUrl?(url: URL, accessToken: string, entry: ProviderEntry): void;
  /** Checks verified ID-token claims; returns a reason to reject. */
  checkClaims?(claims: Record<string, unknown>, entry: ProviderEntry, definition: Definition): string | undefined;
  /** Adds to or corrects the mapped identity. */
  enrich?(input: EnrichInput): Promise<void>;
  /**
   * Native sign-in with a provider access token: asks the provider whether the token was issued
   * to our app (or one of `native_client_ids`) and is valid. Returns a reason to refuse; throws an
   * UpstreamFailure when the provider cannot answer. Providers without this hook refuse such tokens.
   */
  checkNativeAccessToken?(input: NativeTokenInput): Promise<string | undefined>;
}

export interface NativeTokenInput {
  token: string;
  entry: ProviderEntry;
  /** The provider's fetch, bounded by the entry's timeout. */
  fetch: typeof globalThis.fetch;
}

/** Reads a JSON body without consuming the original response; undefined when it is not JSON. */
export async function peekJson(response: Response): Promise<unknown> {
  try {
    return await response.clone().json();
  } catch {
    return undefined;
  }
}

/** The same body and headers with another status. */
export function withStatus(response: Response, body: unknown, status: number): Response {
  const headers = new Headers(response.headers);
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  return new Response(JSON.stringify(body), { status, headers });
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
