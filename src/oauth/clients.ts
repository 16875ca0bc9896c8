import { createHash } from 'node:crypto';
import { sectorOf, type ClientConfig } from '../config/clients.js';
import { isLoopbackHost } from '../config/urls.js';
import { sha256Matches } from '../lib/constant-time.js';
import { nowMs } from '../lib/clock.js';
import type { JWTVerifyGetKey } from 'jose';
import { assertionKeys, type ClientAssertions } from './client-assertion.js';
import type { SectorIdentifiers } from './sector-identifier.js';
import { pairwiseKeys, type PairwiseKeys, type PairwiseSector } from './subjects.js';

/** Where a store client came from. */
export type ClientOrigin = 'cli' | 'registration';

/** What the store keeps about a client besides its metadata (src/oauth/client-store.ts). */
export interface StoredClientFacts {
  origin: ClientOrigin;
  /**
   * Random, new each time a client is created: a refresh token records the generation of its
   * client, and one of an earlier client with the same id (removed, then created again) is dead.
   */
  generation: string;
  /** Epoch seconds. */
  created_at: number;
  updated_at: number;
  /** Epoch seconds of the last recorded use (written at most once an hour per instance). */
  last_used_at?: number;
  /** The client is removed when unused this long (seconds): its record's TTL, renewed by use. */
  unused_ttl_s?: number;
  /** With unused_ttl_s: the expiry ends at the first use (the client then stays) instead of being renewed. */
  until_first_use?: true;
  /** SHA-256 (base64url) of the RFC 7592 registration access token; never the token. */
  registration_access_token_hash?: string;
  /** Registration data kept for RFC 7591/7592 answers (client_id_issued_at, software_id, …). */
  registration?: Record<string, unknown>;
}

export interface Client extends Omit<ClientConfig, 'client_secret'> {
  /** Only a hash of the secret is kept in memory (RFC 6819 §5.1.4.1.3). */
  secretHash?: Buffer;
  scopes: Set<string>;
  confidential: boolean;
  /** private_key_jwt: the client's keys (inline, or its jwks_uri fetched and cached). */
  assertionKeys?: JWTVerifyGetKey;
  /** A pairwise client's sector and keys (OIDC Core §8.1); absent for public subjects. */
  pairwise?: PairwiseSector;
  /** A client from the store (absent for one from the configuration file). */
  stored?: StoredClientFacts;
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

/** A store client as read by its source: the record's text identifies the version. */
export interface StoredClientRead {
  text: string;
  config: Omit<ClientConfig, 'client_secret'>;
  secretHash?: Buffer;
  facts: StoredClientFacts;
}

/** Where the registry finds clients whose id is a URL (Client ID Metadata Documents). */
export interface ClientDocumentSource {
  /** Whether this id is a document URL (then it is never a store client's id). */
  handles(clientId: string): boolean;
  /** The client the document describes; undefined when it cannot be used (`problem` says why). */
  client(clientId: string): Promise<ClientConfig | undefined>;
  problem(clientId: string): string | undefined;
}

/** Where the registry finds clients that are not in the configuration (the ClientStore). */
export interface StoredClientSource {
  read(clientId: string): Promise<StoredClientRead | undefined>;
  /** Records a use of a store client (cheaply: not every use is written). */
  touch(client: Client, redeemed: boolean): void;
}

/**
 * How long this instance trusts what it read of a store client. A change or a removal made on
 * another instance is seen here within this time; a client created anywhere is seen at once
 * (unknown ids are not cached).
 */
export const CLIENT_CACHE_MS = 5_000;
/** Store clients kept in memory at most; the oldest are dropped first. */
const CLIENT_CACHE_SIZE = 10_000;

export const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();

interface Cached {
  at: number;
  text: string;
  client: Client;
}

/**
 * The registered clients: those of the configuration file, in memory, read-only at run time,
 * and those of the store (created by the CLI or by registration) through a short cache. An id
 * in the file is never looked up in the store. Secrets are hashed with SHA-256: they are long
 * random values, so a fast hash is enough, and client_secret_basic and client_secret_post (the
 * methods we advertise) only ever need to compare a presented secret.
 */
export class ClientRegistry {
  readonly #clients = new Map<string, Client>();
  readonly #cache = new Map<string, Cached>();
  readonly #reading = new Map<string, Promise<Client | undefined>>();
  #source?: StoredClientSource;
  #documents?: ClientDocumentSource;
  readonly #documentClients = new WeakMap<ClientConfig, Client>();

  readonly assertions?: ClientAssertions;
  readonly sectors?: SectorIdentifiers;
  /** The keys of pairwise subjects, when a salt is configured. */
  readonly pairwiseKeys?: PairwiseKeys;

  constructor(configs: ClientConfig[], parts: ClientRegistryParts = {}) {
    this.assertions = parts.assertions;
    this.sectors = parts.sectors;
    this.pairwiseKeys = parts.pairwiseSalt === undefined ? undefined : pairwiseKeys(parts.pairwiseSalt);
    for (const { client_secret, ...rest } of configs) {
      const secretHash = client_secret === undefined ? undefined : sha256(client_secret);
      this.#clients.set(rest.client_id, this.build(rest, secretHash));
    }
  }

  /** The client a configuration (and its secret's hash) describes. */
  build(config: Omit<ClientConfig, 'client_secret'>, secretHash?: Buffer, stored?: StoredClientFacts): Client {
    const keys = this.pairwiseKeys;
    if (config.subject_type === 'pairwise' && !keys) throw new Error(`client ${config.client_id} is pairwise: no salt`);
    return {
      ...config,
      secretHash,
      scopes: new Set(config.scope.split(' ')),
      confidential: config.token_endpoint_auth_method !== 'none',
      assertionKeys: config.token_endpoint_auth_method === 'private_key_jwt' ? assertionKeys(config) : undefined,
      pairwise: config.subject_type === 'pairwise' && keys ? { sector: sectorOf(config), keys } : undefined,
      ...(stored ? { stored } : {}),
    };
  }

  /**
   * Client ids that are URLs are resolved by `documents` from now on (Client ID Metadata
   * Documents, src/oauth/registration/metadata-documents.ts); they are never looked up in the store.
   */
  useDocuments(documents: ClientDocumentSource): void {
    this.#documents = documents;
  }

  /** Why `find` found no client for this id, when it knows more than "not registered" (a refused document). */
  whyUnknown(clientId: string): string | undefined {
    return this.#documents?.handles(clientId) ? this.#documents.problem(clientId) : undefined;
  }

  async #document(documents: ClientDocumentSource, clientId: string): Promise<Client | undefined> {
    const config = await documents.client(clientId);
    if (!config) return undefined;
    // The documents' cache keeps one config object per fetch: one built client for it.
    let client = this.#documentClients.get(config);
    if (!client) {
      const { client_secret: _none, ...rest } = config;
      client = this.build(rest);
      this.#documentClients.set(config, client);
    }
    return client;
  }

  /** Store clients are looked up in `source` from now on. */
  useStore(source: StoredClientSource): void {
    this.#source = source;
  }

  /** Whether store clients are looked up at all. */
  get hasStore(): boolean {
    return this.#source !== undefined;
  }

  /** A client of the configuration file (no store lookup). */
  configured(clientId: string | undefined): Client | undefined {
    return clientId === undefined ? undefined : this.#clients.get(clientId);
  }

  /**
   * The client with this id: from the configuration file, else (an https URL, with metadata
   * documents on) from the document at that URL, else from the store (cached for
   * CLIENT_CACHE_MS; concurrent lookups of one id share one read). Unknown ids are not cached.
   */
  async find(clientId: string | undefined): Promise<Client | undefined> {
    if (clientId === undefined) return undefined;
    const configured = this.#clients.get(clientId);
    if (configured) return configured;
    if (this.#documents?.handles(clientId)) return this.#document(this.#documents, clientId);
    if (!this.#source) return undefined;
    const cached = this.#cache.get(clientId);
    if (cached && nowMs() - cached.at < CLIENT_CACHE_MS) return cached.client;
    const pending = this.#reading.get(clientId);
    if (pending) return pending;
    const reading = this.#read(this.#source, clientId, cached).finally(() => this.#reading.delete(clientId));
    this.#reading.set(clientId, reading);
    return reading;
  }

  async #read(source: StoredClientSource, clientId: string, cached: Cached | undefined): Promise<Client | undefined> {
    const read = await source.read(clientId);
    if (!read) {
      this.#cache.delete(clientId);
      return undefined;
    }
    // Unchanged: the same object, so a jwks_uri client keeps its fetched keys.
    let client: Client;
    try {
      client =
        cached?.text === read.text
          ? { ...cached.client, stored: read.facts }
          : this.build(read.config, read.secretHash, read.facts);
    } catch {
      // A client this configuration cannot serve (pairwise, and the salt was removed since): none.
      this.#cache.delete(clientId);
      return undefined;
    }
    this.#cache.delete(clientId);
    this.#cache.set(clientId, { at: nowMs(), text: read.text, client });
    if (this.#cache.size > CLIENT_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    return client;
  }

  /**
   * A client was used (authorization request, authenticated request; `redeemed`: it redeemed an
   * authorization code): recorded for a store client.
   */
  used(client: Client, redeemed = false): void {
    if (client.stored) this.#source?.touch(client, redeemed);
  }

  /** Drops what this instance cached of a store client (after it changed it itself). */
  forget(clientId: string): void {
    this.#cache.delete(clientId);
  }

  /**
   * The clients of the configuration file. Store clients are not listed: what this answers
   * (discovery, which grants the token endpoint serves) is the deployment's and the same on
   * every instance at every moment, with no store read; a store client may only use what the
   * configuration already enables (checked when it is created or updated).
   */
  all(): Client[] {
    return [...this.#clients.values()];
  }
}

/** The private claim of a store client's access tokens: the client's generation. */
export const CLIENT_GENERATION_CLAIM = 'lb_cgen';

/**
 * Whether the client of a token still accepts it: the client exists (a removed client's tokens
 * are dead), and the token was issued to this very client: a store client's access tokens
 * (CLIENT_GENERATION_CLAIM) and refresh records carry its generation, which a client created
 * later with the same id does not have; a configuration client's carry none.
 */
export function clientTokensAllowed(client: Pick<Client, 'stored'> | undefined, generation: unknown): boolean {
  return client !== undefined && client.stored?.generation === generation;
}

/** The same for a refresh token's grant, whose client is the authenticated one. */
export function clientGrantAllowed(client: Pick<Client, 'stored'>, generation: string | undefined): boolean {
  return clientTokensAllowed(client, generation);
}

/** Constant-time comparison of a presented secret with the stored hash (one SHA-256 per request). */
export function secretMatches(client: Client, presented: string): boolean {
  if (!client.secretHash) return false;
  return sha256Matches(presented, client.secretHash);
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
