import { createHash } from 'node:crypto';
import { sectorOf, type ClientConfig } from '../config/clients.js';
import { isLoopbackHost } from '../config/urls.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import type { JWTVerifyGetKey } from 'jose';
import { assertionKeys, type ClientAssertions } from './client-assertion.js';
import type { SectorIdentifiers } from './sector-identifier.js';
import { pairwiseKeys, type PairwiseKeys, type PairwiseSector } from './subjects.js';

export interface Client extends Omit<ClientConfig, 'client_secret'> {
  /** Only a hash of the secret is kept in memory (RFC 6819 §5.1.4.1.3). */
  secretHash?: Buffer;
  scopes: Set<string>;
  confidential: boolean;
  /** private_key_jwt: the client's keys (inline, or its jwks_uri fetched and cached). */
  assertionKeys?: JWTVerifyGetKey;
  /** A pairwise client's sector and keys (OIDC Core §8.1); absent for public subjects. */
  pairwise?: PairwiseSector;
}

/** What verifying clients needs besides their config; each part is optional in unit tests. */
export interface ClientRegistryParts {
  /** Verifies private_key_jwt assertions; without it they are refused. */
  assertions?: ClientAssertions;
  /** `subjects.pairwise_salt`; required (by the config schema) when a client is pairwise. */
  pairwiseSalt?: string;
  /** Checks sector_identifier_uri documents. */
  sectors?: SectorIdentifiers;
}

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * The registered clients, from config. Secrets are hashed with SHA-256 at start: they are long
 * random values, so a fast hash is enough, and client_secret_basic and client_secret_post (the
 * methods we advertise) only ever need to compare a presented secret.
 */
export class ClientRegistry {
  readonly #clients = new Map<string, Client>();

  readonly assertions?: ClientAssertions;
  readonly sectors?: SectorIdentifiers;
  /** The keys of pairwise subjects, when a salt is configured. */
  readonly pairwiseKeys?: PairwiseKeys;

  constructor(configs: ClientConfig[], parts: ClientRegistryParts = {}) {
    this.assertions = parts.assertions;
    this.sectors = parts.sectors;
    const keys = parts.pairwiseSalt === undefined ? undefined : pairwiseKeys(parts.pairwiseSalt);
    this.pairwiseKeys = keys;
    for (const { client_secret, ...rest } of configs) {
      if (rest.subject_type === 'pairwise' && !keys) throw new Error(`client ${rest.client_id} is pairwise: no salt`);
      this.#clients.set(rest.client_id, {
        ...rest,
        secretHash: client_secret === undefined ? undefined : sha256(client_secret),
        scopes: new Set(rest.scope.split(' ')),
        confidential: rest.token_endpoint_auth_method !== 'none',
        assertionKeys: rest.token_endpoint_auth_method === 'private_key_jwt' ? assertionKeys(rest) : undefined,
        pairwise: rest.subject_type === 'pairwise' && keys ? { sector: sectorOf(rest), keys } : undefined,
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
