import { createHash } from 'node:crypto';
import type { ClientConfig } from '../config/clients.js';
import { isLoopbackHost } from '../config/urls.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import type { JWTVerifyGetKey } from 'jose';
import { assertionKeys, type ClientAssertions } from './client-assertion.js';

export interface Client extends Omit<ClientConfig, 'client_secret'> {
  /** Only a hash of the secret is kept in memory (RFC 6819 §5.1.4.1.3). */
  secretHash?: Buffer;
  scopes: Set<string>;
  confidential: boolean;
  /** private_key_jwt: the client's keys (inline, or its jwks_uri fetched and cached). */
  assertionKeys?: JWTVerifyGetKey;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * The registered clients, from config. Secrets are hashed with SHA-256 at start: they are long
 * random values, so a fast hash is enough, and client_secret_basic and client_secret_post (the
 * methods we advertise) only ever need to compare a presented secret.
 */
export class ClientRegistry {
  readonly #clients = new Map<string, Client>();

  constructor(
    configs: ClientConfig[],
    /** Verifies private_key_jwt assertions; without it (unit tests) they are refused. */
    readonly assertions?: ClientAssertions,
  ) {
    for (const { client_secret, ...rest } of configs) {
      this.#clients.set(rest.client_id, {
        ...rest,
        secretHash: client_secret === undefined ? undefined : sha256(client_secret),
        scopes: new Set(rest.scope.split(' ')),
        confidential: rest.token_endpoint_auth_method !== 'none',
        assertionKeys: rest.token_endpoint_auth_method === 'private_key_jwt' ? assertionKeys(rest) : undefined,
      });
    }
  }

  get(clientId: string | undefined): Client | undefined {
    return clientId === undefined ? undefined : this.#clients.get(clientId);
  }

  all(): Client[] {
    return [...this.#clients.values()];
  }
}

/** Constant-time comparison of a presented secret with the stored hash. */
export function secretMatches(client: Client, presented: string): boolean {
  if (!client.secretHash) return false;
  return constantTimeEqual(sha256(presented), client.secretHash);
}

/**
 * Exact string comparison (RFC 9700 §4.1.3), except that the port of a loopback http redirect
 * URI may vary (RFC 8252 §7.3). Nothing is normalised or decoded first.
 */
export function redirectUriMatches(registered: string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const loopback = loopbackWithoutPort(requested);
  return loopback !== undefined && registered.some((r) => loopbackWithoutPort(r) === loopback);
}

function loopbackWithoutPort(uri: string): string | undefined {
  // Only literal IP loopback qualifies (RFC 8252 §8.3 discourages "localhost").
  const match = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::\d{1,5})?(\/[^#]*)?$/.exec(uri);
  if (!match) return undefined;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (!isLoopbackHost(url.hostname)) return undefined;
  return `http://${match[1]}${match[2] ?? ''}`;
}
