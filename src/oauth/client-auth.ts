import type { Context } from 'koa';
import { AUTH_METHODS } from '../config/clients.js';
import { secretMatches, type Client, type ClientRegistry } from './clients.js';
import { NO_CLIENT_LIMITS, type ClientLimits } from './client-limits.js';
import { BrokerError } from '../http/broker-error.js';
import { invalidClient, invalidRequest } from './errors.js';
import { Params } from './params.js';
import { assertedClientId, CLIENT_ASSERTION_TYPE } from './client-assertion.js';

export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * The client authentication methods each endpoint accepts; discovery advertises exactly these.
 * Introspection needs an authenticated caller (RFC 7662 §2.1), so a public client is refused
 * there; public clients may revoke their own tokens (RFC 7009 §2.1).
 */
export const ENDPOINT_AUTH_METHODS = {
  token: AUTH_METHODS,
  introspection: AUTH_METHODS.filter((m) => m !== 'none'),
  revocation: AUTH_METHODS,
} as const satisfies Record<string, readonly AuthMethod[]>;

export type ClientEndpoint = keyof typeof ENDPOINT_AUTH_METHODS;

interface Presented {
  method: AuthMethod;
  clientId: string;
  secret?: string;
  assertion?: string;
}

/** Where each endpoint is, for an assertion's `aud` (RFC 7523 §3). */
const ENDPOINT_PATHS: Record<ClientEndpoint, string> = {
  token: '/token',
  introspection: '/introspect',
  revocation: '/revoke',
};

function fromBasic(header: string): { clientId: string; secret: string } | undefined {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // Both parts are form-urlencoded before base64 (RFC 6749 §2.3.1).
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function presented(ctx: Context, params: Params): Presented {
  const header = ctx.get('authorization');
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertionType = params.get('client_assertion_type');
  const assertion = params.get('client_assertion', { max: 8192 });
  if (assertionType !== undefined || assertion !== undefined) {
    // One authentication method per request (RFC 6749 §2.3).
    if (header || bodySecret !== undefined)
      throw invalidRequest('send either a client assertion or client credentials, not both');
    if (assertionType !== CLIENT_ASSERTION_TYPE)
      throw invalidClient(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE} (RFC 7523 section 2.2)`, false);
    if (assertion === undefined) throw invalidRequest('client_assertion is missing');
    const clientId = assertedClientId(assertion);
    if (clientId === undefined) throw invalidClient('the client assertion is not a JWT with a sub claim', false);
    // client_id, when sent too, must name the same client (RFC 7521 §4.2).
    if (bodyId !== undefined && bodyId !== clientId)
      throw invalidClient('client_id differs from the client assertion sub', false);
    return { method: 'private_key_jwt', clientId, assertion };
  }
  if (header) {
    const basic = fromBasic(header);
    if (!basic) throw invalidClient('the Authorization header is not valid HTTP Basic credentials', true);
    // One authentication method per request (RFC 6749 §2.3).
    if (bodySecret !== undefined)
      throw invalidRequest('client credentials were sent both in the header and in the body');
    if (bodyId !== undefined && bodyId !== basic.clientId)
      throw invalidRequest('client_id in the body differs from the Authorization header');
    return { method: 'client_secret_basic', clientId: basic.clientId, secret: basic.secret };
  }
  if (bodyId === undefined)
    throw invalidClient('client authentication is required: send HTTP Basic credentials or client_id', false);
  if (bodySecret !== undefined) return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
  return { method: 'none', clientId: bodyId };
}

/**
 * Authenticates the client at the token, introspection and revocation endpoints. The method
 * must be one the endpoint accepts and one the client may use (its pinned method, or either
 * secret method when none is pinned); a confidential client can never authenticate as public,
 * which would skip its secret.
 */
export async function authenticateClient(
  ctx: Context,
  params: Params,
  registry: ClientRegistry,
  endpoint: ClientEndpoint = 'token',
): Promise<Client> {
  const cred = presented(ctx, params);
  const usedBasic = cred.method === 'client_secret_basic';
  const accepted: readonly AuthMethod[] = ENDPOINT_AUTH_METHODS[endpoint];
  if (!accepted.includes(cred.method)) {
    const methods = accepted.join(', ');
    throw invalidClient(`the ${endpoint} endpoint requires client authentication with one of: ${methods}`, usedBasic);
  }
  const client = await registry.find(cred.clientId);
  if (!client) throw invalidClient('unknown client or bad credentials', usedBasic);
  // A pinned method is the only one; an unpinned confidential client may use either secret method.
  if (!client.auth_methods.includes(cred.method)) {
    throw invalidClient(`this client must authenticate with ${client.auth_methods.join(' or ')}`, usedBasic);
  }
  if (cred.method === 'private_key_jwt') {
    if (!client.assertionKeys || !registry.assertions) throw invalidClient('client assertions are not accepted', false);
    const endpointUrl = `${registry.assertions.issuer}${ENDPOINT_PATHS[endpoint]}`;
    await registry.assertions.verify(client.client_id, client.assertionKeys, cred.assertion!, endpointUrl);
    return client;
  }
  if (cred.method !== 'none' && !secretMatches(client, cred.secret ?? '')) {
    throw invalidClient('unknown client or bad credentials', usedBasic);
  }
  return client;
}

/** The client id a request names (Basic header first, then the body), before anything is checked. */
function namedClientId(ctx: Context, params: Params): string | undefined {
  const header = ctx.get('authorization');
  if (header) return fromBasic(header)?.clientId;
  const assertion = params.get('client_assertion', { max: 8192 });
  return params.get('client_id') ?? (assertion === undefined ? undefined : assertedClientId(assertion));
}

/**
 * The shared start of every client-authenticated endpoint (token, introspection, revocation):
 * never cached, form parameters single and flat, then the client authenticated. A caller over a
 * failure limit is refused before its secret is compared; each failure is counted.
 */
export async function clientRequest(
  ctx: Context,
  registry: ClientRegistry,
  endpoint: ClientEndpoint = 'token',
  limits: ClientLimits = NO_CLIENT_LIMITS,
): Promise<{ params: Params; client: Client }> {
  ctx.set('Cache-Control', 'no-store');
  const params = new Params(ctx.state.form);
  params.checkShape();
  const clientId = namedClientId(ctx, params);
  limits.check(ctx.ip, clientId);
  let client: Client;
  try {
    client = await authenticateClient(ctx, params, registry, endpoint);
  } catch (err) {
    if (err instanceof BrokerError && err.error === 'invalid_client') await limits.failed(ctx.ip, clientId);
    throw err;
  }
  if (endpoint === 'token') await limits.tokenRequest(client.client_id);
  registry.used(client);
  return { params, client };
}
