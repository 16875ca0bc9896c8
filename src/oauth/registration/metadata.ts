import type { z } from 'zod';
import { clientSchema, type ClientConfig } from '../../config/clients.js';
import { BrokerError } from '../../http/broker-error.js';
import { policyProblems, type MetadataProblem, type RegistrationAccess } from './policy.js';

/** The keys of a client the config file knows; RFC 7591 §2 metadata outside them is ignored. */
const CLIENT_KEYS = new Set(Object.keys(clientSchema.in.shape));
/** Set by the broker, never by a registrant: silently replaced (RFC 7591 §3.2.1 lets the server substitute). */
const ISSUED = new Set(['client_id', 'client_secret']);
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post']);

/** A metadata problem as RFC 7591 §3.2.2 answers it: the field named in the description. */
export function metadataError(problem: MetadataProblem): BrokerError {
  const code = problem.field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
  return new BrokerError(code, `${problem.at ?? problem.field}: ${problem.message}`);
}

/** The first zod issue of a client's validation as a problem naming its field ("redirect_uris.1"). */
export function schemaProblem(error: z.ZodError): MetadataProblem {
  const issue = error.issues[0]!;
  const path = issue.path.map(String);
  return { field: path[0] ?? 'metadata', at: path.join('.') || undefined, message: issue.message };
}

/** The known client keys of a JSON object, without the ones the broker issues. */
export function pickClientMetadata(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BrokerError('invalid_client_metadata', 'the body must be a JSON object of client metadata (RFC 7591 §2)');
  }
  const picked: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (CLIENT_KEYS.has(key) && !ISSUED.has(key)) picked[key] = value;
  }
  return picked;
}

export interface RegistrationRequest {
  access: Exclude<RegistrationAccess, 'document'>;
  clientId: string;
  /** Mints a client secret, for a client that authenticates with one. */
  mintSecret: () => string;
  pairwiseSalt: boolean;
}

/**
 * A registration request's metadata (RFC 7591 §2) made into a client, validated by the same
 * schema as the config file's clients, then by the registration policy. The broker issues the
 * client_id and, for a client authenticating with a secret, the secret. Without a
 * token_endpoint_auth_method an open registration is a public client; a trusted one gets RFC
 * 7591's default, client_secret_basic. Throws the RFC 7591 §3.2.2 error naming the field.
 */
export function registeredClient(
  body: unknown,
  request: RegistrationRequest,
): { client: ClientConfig; metadata: Record<string, unknown> } {
  const metadata = pickClientMetadata(body);
  metadata.token_endpoint_auth_method ??= request.access === 'trusted' ? 'client_secret_basic' : 'none';
  const method = metadata.token_endpoint_auth_method;
  const secret = typeof method === 'string' && SECRET_METHODS.has(method) ? request.mintSecret() : undefined;
  const parsed = clientSchema.safeParse({
    ...metadata,
    client_id: request.clientId,
    ...(secret ? { client_secret: secret } : {}),
  });
  if (!parsed.success) throw metadataError(schemaProblem(parsed.error));
  const [problem] = policyProblems(parsed.data, request.access, { pairwiseSalt: request.pairwiseSalt });
  if (problem) throw metadataError(problem);
  return { client: parsed.data, metadata };
}

/**
 * The client's metadata as RFC 7591 §3.2.1 and RFC 7592 §3 return it: the registered values,
 * without the secret (the caller adds it where it is shown) and the broker's own keys.
 */
export function clientMetadata(client: ClientConfig): Record<string, unknown> {
  return {
    client_id: client.client_id,
    ...(client.client_name !== undefined ? { client_name: client.client_name } : {}),
    redirect_uris: client.redirect_uris,
    ...(client.post_logout_redirect_uris.length > 0
      ? { post_logout_redirect_uris: client.post_logout_redirect_uris }
      : {}),
    grant_types: client.grant_types,
    response_types: client.response_types,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    scope: client.scope,
    subject_type: client.subject_type,
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwks_uri ? { jwks_uri: client.jwks_uri } : {}),
    ...(client.sector_identifier_uri ? { sector_identifier_uri: client.sector_identifier_uri } : {}),
    ...(client.backchannel_logout_uri
      ? {
          backchannel_logout_uri: client.backchannel_logout_uri,
          backchannel_logout_session_required: client.backchannel_logout_session_required,
        }
      : {}),
    ...(client.resources.length > 0 ? { resources: client.resources } : {}),
  };
}
