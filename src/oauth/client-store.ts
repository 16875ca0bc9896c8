import { z } from 'zod';
import { AUTH_METHODS, clientSchema, DEVICE_CODE_GRANT, type ClientConfig } from '../config/clients.js';
import { TOKEN_EXCHANGE } from '../config/vault.js';
import { BrokerError } from '../http/broker-error.js';
import { constantTimeEqual } from '../lib/constant-time.js';
import { nowS } from '../lib/clock.js';
import { getAcrossSlots, type Store, type StoreOp } from '../store/index.js';
import {
  sha256,
  type Client,
  type ClientOrigin,
  type ClientRegistry,
  type StoredClientFacts,
  type StoredClientRead,
  type StoredClientSource,
} from './clients.js';
import { randomToken } from './crypto.js';

export type { ClientOrigin, StoredClientFacts } from './clients.js';

/**
 * Clients in the store: created at run time by `login-broker clients add` or by registration
 * (RFC 7591), seen by every instance through ClientRegistry.find.
 *
 * One record per client, `client:{c:<id>}` (JSON, below), and beside it, in the same cluster
 * slot, `client:{c:<id>}:used` (epoch seconds of the last recorded use). The ids are listed in
 * the set `clients:index`; a removed or expired client may linger there and is skipped (and
 * dropped) when listed. A client with `unused_ttl_s` has that TTL on both keys, renewed by use
 * (`touch`): never used for that long, it is gone.
 */
export const clientKeys = {
  record: (id: string) => `client:{c:${id}}`,
  used: (id: string) => `client:{c:${id}}:used`,
  index: 'clients:index',
};

/** What a store client may be given: the keys of a YAML client entry (the same schema). */
export type ClientInput = z.input<typeof clientSchema>;

/** A store client as the API returns it: its metadata (never a secret) and the store's facts. */
export interface StoredClientView {
  metadata: Omit<ClientInput, 'client_secret'>;
  /** A secret is set (its hash is stored). */
  has_secret: boolean;
  facts: StoredClientFacts;
  /** The client as the broker uses it. */
  client: Client;
}

/** A client's metadata is refused (RFC 7591 §3.2.2): `field` names the key at fault. */
export class ClientMetadataError extends BrokerError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    const code =
      field === 'redirect_uris' || field.startsWith('redirect_uris.')
        ? 'invalid_redirect_uri'
        : 'invalid_client_metadata';
    super(code, `${field}: ${problem}`);
  }
}

/** The id is taken: by another store client, or by a client of the configuration file. */
export class ClientIdTaken extends BrokerError {
  constructor(
    id: string,
    readonly where: 'store' | 'config',
  ) {
    super(
      'invalid_client_metadata',
      where === 'config'
        ? `client_id: "${id}" is a client of the configuration file`
        : `client_id: a client "${id}" exists already`,
    );
  }
}

/** No store client with this id (a configuration client is not one: it is read-only). */
export class NoSuchClient extends BrokerError {
  constructor(id: string, configured = false) {
    super(
      'invalid_request',
      configured ? `"${id}" is a client of the configuration file: change it there` : `no client "${id}" in the store`,
      404,
    );
  }
}

/** The record's shape; `client` is the metadata as the schema's input, checked by clientSchema on read. */
const recordSchema = z.object({
  v: z.literal(1),
  client: z.record(z.string(), z.unknown()),
  secret: z.string().optional(),
  origin: z.enum(['cli', 'registration']),
  gen: z.string().min(1),
  created_at: z.number(),
  updated_at: z.number(),
  unused_ttl_s: z.number().positive().optional(),
  until_first_use: z.literal(true).optional(),
  rat: z.string().optional(),
  reg: z.record(z.string(), z.unknown()).optional(),
});
type StoredRecord = z.infer<typeof recordSchema>;

type Metadata = Record<string, unknown> & { client_id: string };

/** Stands in for the hashed secret when stored metadata is checked again by clientSchema. */
const SECRET_STAND_IN = 'stored-secret-hash-stand-in';
/** Touches of one client from this process: at most one write per this many seconds. */
export const TOUCH_INTERVAL_S = 3600;

const hashOf = (secret: string) => sha256(secret).toString('base64url');

/** The first problem zod found, as [field, message]. */
function firstIssue(error: z.ZodError): [string, string] {
  const issue = error.issues[0]!;
  const field = issue.path.length ? issue.path.map(String).join('.') : 'client';
  return [field, issue.message];
}

export interface CreateOptions {
  origin: ClientOrigin;
  /** A confidential client without a client_secret in its metadata gets a generated one. */
  generateSecret?: boolean;
  /** Removed when unused this long (seconds); renewed by `touch`. */
  unusedTtlS?: number;
  /**
   * With unusedTtlS: only a client never used expires; its first recorded use ends the expiry
   * (an openly registered client, whose refresh tokens must outlive a quiet day).
   */
  untilFirstUse?: boolean;
  /** Issue an RFC 7592 registration access token (returned once, its hash stored). */
  registrationAccessToken?: boolean;
  /** Registration data to keep (client_id_issued_at, software_id, …). */
  registration?: Record<string, unknown>;
}

export interface UpdateOptions {
  generateSecret?: boolean;
  /** RFC 7592 §2.2: a new registration access token replaces the old one. */
  rotateRegistrationAccessToken?: boolean;
  registration?: Record<string, unknown>;
  /** undefined: keep; null: no expiry any more. */
  unusedTtlS?: number | null;
}

/** What a write returns: the client, and the secrets made by it (shown once, never stored). */
export interface Written {
  client: StoredClientView;
  client_secret?: string;
  registration_access_token?: string;
}

export interface ClientPage {
  clients: StoredClientView[];
  total: number;
  /** Pass as `after` for the next page. */
  next?: string;
  /** Clients of this page the configuration cannot serve (`show` says why); listed apart. */
  unservable: string[];
}

/**
 * The programmatic API of store clients (the CLI and registration use it). Every write checks
 * the metadata with the configuration's clientSchema and refuses ids of the configuration file;
 * secrets and registration tokens are stored as SHA-256 hashes only.
 */
export class ClientStore implements StoredClientSource {
  readonly #touched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly registry: ClientRegistry,
    private readonly log?: { warn(obj: object, msg: string): void },
  ) {
    registry.useStore(this);
  }

  /** StoredClientSource: one read (record and last use, one slot). */
  async read(clientId: string): Promise<StoredClientRead | undefined> {
    const [text, used] = await this.store.getMany([clientKeys.record(clientId), clientKeys.used(clientId)]);
    return readOf(clientId, text ?? null, used ?? null);
  }

  /** A store client, read now (not cached). */
  async get(clientId: string): Promise<StoredClientView | undefined> {
    const read = await this.read(clientId);
    return read && this.#view(read);
  }

  /**
   * Creates a client; refuses an id in use (atomically: SET NX) or of the configuration file.
   * The secret (generated or given) and the registration access token come back once.
   */
  async create(input: unknown, options: CreateOptions): Promise<Written> {
    const { metadata, secret } = this.#check(input, options.generateSecret ?? false);
    const id = metadata.client_id;
    if (this.registry.configured(id)) throw new ClientIdTaken(id, 'config');
    const now = nowS();
    const token = options.registrationAccessToken ? randomToken() : undefined;
    const record: StoredRecord = {
      v: 1,
      client: metadata,
      ...(secret ? { secret: hashOf(secret) } : {}),
      origin: options.origin,
      gen: randomToken(12),
      created_at: now,
      updated_at: now,
      ...(options.unusedTtlS ? { unused_ttl_s: options.unusedTtlS } : {}),
      ...(options.unusedTtlS && options.untilFirstUse ? { until_first_use: true as const } : {}),
      ...(token ? { rat: hashOf(token) } : {}),
      ...(options.registration ? { reg: options.registration } : {}),
    };
    const text = JSON.stringify(record);
    // Index first: a lingering member is skipped when listed, an unlisted client would be lost.
    const [, written] = await this.store.batches([
      [{ op: 'sadd', key: clientKeys.index, members: [id] }],
      [{ op: 'putIfAbsent', key: clientKeys.record(id), value: text, ...ttlOf(record) }],
    ]);
    if (written?.[0] !== true) throw new ClientIdTaken(id, 'store');
    this.registry.forget(id);
    return this.#written(text, secret, token);
  }

  /**
   * Replaces a client's metadata as a whole (validated like `create`). The secret stays unless
   * the metadata gives a new one or no longer uses one; a client that becomes confidential gets
   * a generated one with `generateSecret`. Refused when the client changed meanwhile (retry).
   */
  async update(clientId: string, input: unknown, options: UpdateOptions = {}): Promise<Written> {
    const current = await this.#current(clientId);
    const given: Record<string, unknown> = input && typeof input === 'object' ? { ...(input as object) } : {};
    if (given.client_id !== undefined && given.client_id !== clientId) {
      throw new ClientMetadataError('client_id', 'cannot be changed');
    }
    // Unpinned, a client keeps the secret it has (RFC 6749 §2.3.1); `none` or private_key_jwt drop it.
    const keep = given.client_secret === undefined && current.record.secret !== undefined && secretMethod(given, true);
    const checked = this.#check(
      { ...given, client_id: clientId, ...(keep ? { client_secret: SECRET_STAND_IN } : {}) },
      options.generateSecret ?? false,
    );
    const secretHash = keep ? current.record.secret : checked.secret && hashOf(checked.secret);
    const token = options.rotateRegistrationAccessToken ? randomToken() : undefined;
    const { secret: _old, rat, reg, unused_ttl_s, ...rest } = current.record;
    const ttl = options.unusedTtlS === undefined ? unused_ttl_s : (options.unusedTtlS ?? undefined);
    const registration = options.registration ?? reg;
    const record: StoredRecord = {
      ...rest,
      client: checked.metadata,
      ...(secretHash ? { secret: secretHash } : {}),
      updated_at: nowS(),
      ...(ttl ? { unused_ttl_s: ttl } : {}),
      ...(token ? { rat: hashOf(token) } : rat ? { rat } : {}),
      ...(registration ? { reg: registration } : {}),
    };
    await this.#replace(clientId, current.text, record);
    return this.#written(JSON.stringify(record), keep ? undefined : checked.secret, token);
  }

  /** A new secret for a client that authenticates with one; the old one stops working. */
  async rotateSecret(clientId: string): Promise<Written> {
    const current = await this.#current(clientId);
    if (!secretMethod(current.record.client, current.record.secret !== undefined)) {
      const method = String(current.record.client.token_endpoint_auth_method ?? 'none');
      throw new ClientMetadataError('token_endpoint_auth_method', `is "${method}": this client has no secret`);
    }
    // Checked before writing: a secret written and then not shown would lock the client out.
    this.#servable(current.record.client);
    const secret = randomToken();
    const record: StoredRecord = { ...current.record, secret: hashOf(secret), updated_at: nowS() };
    await this.#replace(clientId, current.text, record);
    return this.#written(JSON.stringify(record), secret);
  }

  /** RFC 7592 §2: whether `presented` is the client's registration access token (constant time). */
  async registrationTokenMatches(clientId: string, presented: string): Promise<boolean> {
    const text = await this.store.get(clientKeys.record(clientId));
    const stored = text ? parseStored(text)?.rat : undefined;
    const matches = constantTimeEqual(hashOf(presented), stored ?? '');
    return stored !== undefined && matches;
  }

  /**
   * Removes a client. Its tokens die with it: tokens of a client that is gone are refused, and
   * they carry its generation, which no later client of the same id has. False when there was
   * no such client.
   */
  async remove(clientId: string): Promise<boolean> {
    if (this.registry.configured(clientId)) throw new NoSuchClient(clientId, true);
    const [results] = await this.store.batches([
      [
        { op: 'get', key: clientKeys.record(clientId) },
        { op: 'del', key: clientKeys.record(clientId) },
        { op: 'del', key: clientKeys.used(clientId) },
      ],
      [{ op: 'srem', key: clientKeys.index, members: [clientId] }],
    ]);
    this.registry.forget(clientId);
    this.#touched.delete(clientId);
    return typeof results?.[0] === 'string';
  }

  /**
   * Ids that are both in the configuration file and in the store: the configuration's client is
   * used, the store's is never read (logged at start).
   */
  async shadowed(): Promise<string[]> {
    const ids = (await this.store.smembers(clientKeys.index)).filter((id) => this.registry.configured(id));
    const found: string[] = [];
    for (const id of ids) if (await this.store.get(clientKeys.record(id))) found.push(id);
    return found;
  }

  /** A page of store clients in id order, after `after`. Index members whose record is gone are dropped. */
  async list(options: { limit: number; after?: string }): Promise<ClientPage> {
    const ids = (await this.store.smembers(clientKeys.index)).sort();
    const from = options.after === undefined ? 0 : ids.findIndex((id) => id > options.after!);
    const page = from < 0 ? [] : ids.slice(from, from + options.limit);
    const clients: StoredClientView[] = [];
    const gone: string[] = [];
    const unservable: string[] = [];
    // One round trip per chunk: each client's two keys share its slot, the clients do not.
    for (let i = 0; i < page.length; i += LIST_CHUNK) {
      const ids = page.slice(i, i + LIST_CHUNK);
      const values = await getAcrossSlots(
        this.store,
        ids.flatMap((id) => [clientKeys.record(id), clientKeys.used(id)]),
      );
      ids.forEach((id, j) => {
        const read = readOf(id, values[2 * j] ?? null, values[2 * j + 1] ?? null);
        if (!read) gone.push(id);
        else if (read.config.subject_type === 'pairwise' && !this.registry.pairwiseKeys) unservable.push(id);
        else clients.push(this.#view(read));
      });
    }
    if (gone.length) await this.store.srem(clientKeys.index, gone);
    const next = from >= 0 && from + options.limit < ids.length ? page.at(-1) : undefined;
    return { clients, total: ids.length - gone.length, unservable, ...(next ? { next } : {}) };
  }

  /**
   * Records that a store client was used (its `last_used_at`, and its unused expiry renewed):
   * one write at most per TOUCH_INTERVAL_S per client in this process, not awaited by the
   * caller's answer. Configuration clients are never touched. A client that expires until its
   * first use (open registration) is kept only by a redeemed authorization code (`redeemed`): an
   * authorization request or a client authentication anyone can send with its id keeps nothing.
   */
  touch(client: Client, redeemed = false): void {
    const facts = client.stored;
    if (!facts) return;
    if (facts.unused_ttl_s && facts.until_first_use && !redeemed) return;
    const now = nowS();
    const last = Math.max(this.#touched.get(client.client_id) ?? 0, facts.last_used_at ?? 0);
    if (now - last < TOUCH_INTERVAL_S) return;
    this.#touched.set(client.client_id, now);
    const id = client.client_id;
    if (facts.unused_ttl_s && facts.until_first_use) {
      this.#keep(id, now).catch((err: Error) => {
        this.#touched.delete(id);
        this.log?.warn({ client: id, err: { message: err.message } }, 'could not record the first use of a client');
      });
      return;
    }
    const ttl = facts.unused_ttl_s;
    const ops: StoreOp[] = [{ op: 'put', key: clientKeys.used(id), value: String(now), ...(ttl ? { ttl } : {}) }];
    if (ttl) ops.push({ op: 'expire', key: clientKeys.record(id), ttl });
    this.store.batch(ops).catch((err: Error) => {
      this.#touched.delete(id);
      this.log?.warn({ client: id, err: { message: err.message } }, 'could not record the use of a client');
    });
  }

  /**
   * The first use of a client that expires only while unused: its record is written again
   * without the expiry (and without the TTL), while it is unchanged; otherwise a later touch tries again.
   */
  async #keep(clientId: string, now: number): Promise<void> {
    const text = await this.store.get(clientKeys.record(clientId));
    const record = text ? parseStored(text) : undefined;
    if (!text || !record) return;
    const { unused_ttl_s: _ttl, until_first_use: _once, ...kept } = record;
    const { applied } = await this.store.batchIf(
      [{ key: clientKeys.record(clientId), value: text }],
      [
        { op: 'put', key: clientKeys.record(clientId), value: JSON.stringify(kept) },
        { op: 'put', key: clientKeys.used(clientId), value: String(now) },
      ],
    );
    if (!applied) throw new Error('the client changed meanwhile');
    this.registry.forget(clientId);
  }

  /** The metadata checked by clientSchema and this deployment; the secret to store, if any. */
  #check(input: unknown, generateSecret: boolean): { metadata: Metadata; secret?: string } {
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      throw new ClientMetadataError('client', 'must be an object of client metadata');
    }
    const given = { ...(input as Record<string, unknown>) };
    for (const key of Object.keys(given)) if (given[key] === undefined || given[key] === null) delete given[key];
    let secret = typeof given.client_secret === 'string' ? given.client_secret : undefined;
    if (secret === undefined && generateSecret && secretMethod(given, true)) {
      secret = randomToken();
      given.client_secret = secret;
    }
    const parsed = clientSchema.safeParse(given);
    if (!parsed.success) throw new ClientMetadataError(...firstIssue(parsed.error));
    const problem = deploymentProblem(parsed.data, this.registry);
    if (problem) throw new ClientMetadataError(...problem);
    const { client_secret, ...metadata } = given;
    if (secret === SECRET_STAND_IN) secret = undefined;
    return {
      metadata: { ...metadata, client_id: parsed.data.client_id },
      secret: client_secret === undefined ? undefined : secret,
    };
  }

  async #current(clientId: string): Promise<{ text: string; record: StoredRecord }> {
    if (this.registry.configured(clientId)) throw new NoSuchClient(clientId, true);
    const text = await this.store.get(clientKeys.record(clientId));
    const record = text ? parseStored(text) : undefined;
    if (!text || !record) throw new NoSuchClient(clientId);
    return { text, record };
  }

  /** Writes the new record only while the old one is there unchanged, keeping its unused expiry. */
  async #replace(clientId: string, old: string, record: StoredRecord): Promise<void> {
    const text = JSON.stringify(record);
    const { applied } = await this.store.batchIf(
      [{ key: clientKeys.record(clientId), value: old }],
      [{ op: 'put', key: clientKeys.record(clientId), value: text, ...ttlOf(record) }],
    );
    if (!applied) {
      const busy = new BrokerError('temporarily_unavailable', `client "${clientId}" changed meanwhile; try again`, 503);
      busy.headers = { 'Retry-After': '1' };
      throw busy;
    }
    this.registry.forget(clientId);
  }

  #written(text: string, secret?: string, token?: string): Written {
    const decoded = decodeRecord(text)!;
    const client = this.#view({ text, config: decoded.config, secretHash: decoded.secretHash, facts: decoded.facts });
    return {
      client,
      ...(secret ? { client_secret: secret } : {}),
      ...(token ? { registration_access_token: token } : {}),
    };
  }

  #view(read: StoredClientRead): StoredClientView {
    const stored = parseStored(read.text)!;
    return {
      metadata: stored.client as StoredClientView['metadata'],
      has_secret: stored.secret !== undefined,
      facts: read.facts,
      client: this.#servable(read.config) && this.registry.build(read.config, read.secretHash, read.facts),
    };
  }

  /**
   * True when this deployment can serve the client; else a ClientMetadataError (a 400, never a
   * 500): a pairwise client once `subjects.pairwise_salt` is gone.
   */
  #servable(config: { subject_type?: string }): true {
    if (config.subject_type === 'pairwise' && !this.registry.pairwiseKeys) {
      throw new ClientMetadataError('subject_type', 'is "pairwise" but this broker has no subjects.pairwise_salt');
    }
    return true;
  }
}

const LIST_CHUNK = 100;

/** What the two keys of a client hold, as the registry reads it; undefined when it is no client. */
function readOf(clientId: string, text: string | null, used: string | null): StoredClientRead | undefined {
  if (!text) return undefined;
  const decoded = decodeRecord(text);
  if (!decoded || decoded.metadata.client_id !== clientId) return undefined;
  const lastUsed = used === null ? undefined : Number(used);
  const facts = Number.isFinite(lastUsed) ? { ...decoded.facts, last_used_at: lastUsed } : decoded.facts;
  return { text, config: decoded.config, secretHash: decoded.secretHash, facts };
}

/** A record's TTL: the unused expiry, when there is one. */
const ttlOf = (record: StoredRecord) => (record.unused_ttl_s ? { ttl: record.unused_ttl_s } : {});

/** Whether metadata means a client authenticating with a secret (unpinned: when it has one). */
function secretMethod(metadata: Record<string, unknown>, hasSecret: boolean): boolean {
  const method = metadata.token_endpoint_auth_method;
  if (method === undefined) return hasSecret || metadata.client_secret !== undefined;
  return method === 'client_secret_basic' || method === 'client_secret_post';
}

/**
 * What this deployment cannot serve to a store client: the grants and response types whose
 * endpoints are on only when a configuration client uses them (discovery and the token
 * endpoint answer from the configuration, the same on every instance), and pairwise subjects
 * without a salt.
 */
function deploymentProblem(client: ClientConfig, registry: ClientRegistry): [string, string] | undefined {
  const configured = registry.all();
  for (const grant of [DEVICE_CODE_GRANT, TOKEN_EXCHANGE]) {
    if (
      client.grant_types.includes(grant as never) &&
      !configured.some((c) => c.grant_types.includes(grant as never))
    ) {
      return ['grant_types', `${grant} is not enabled on this broker (no client of the configuration file uses it)`];
    }
  }
  const implicit = (c: { response_types: string[] }) => c.response_types.some((t) => t !== 'code');
  if (implicit(client) && !configured.some(implicit)) {
    return [
      'response_types',
      'the implicit flow is not enabled on this broker (no client of the configuration file uses it)',
    ];
  }
  if (client.subject_type === 'pairwise' && !registry.pairwiseKeys) {
    return ['subject_type', 'pairwise needs subjects.pairwise_salt in the configuration'];
  }
  return undefined;
}

function parseStored(text: string): StoredRecord | undefined {
  try {
    const parsed = recordSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** A stored record, its metadata checked again by clientSchema; undefined when it is not one. */
function decodeRecord(text: string):
  | {
      metadata: ClientConfig;
      config: Omit<ClientConfig, 'client_secret'>;
      secretHash?: Buffer;
      facts: StoredClientFacts;
    }
  | undefined {
  const record = parseStored(text);
  if (!record) return undefined;
  const checked = clientSchema.safeParse({
    ...record.client,
    ...(record.secret ? { client_secret: SECRET_STAND_IN } : {}),
  });
  if (!checked.success) return undefined;
  const { client_secret: _standIn, ...config } = checked.data;
  const facts: StoredClientFacts = {
    origin: record.origin,
    generation: record.gen,
    created_at: record.created_at,
    updated_at: record.updated_at,
    ...(record.unused_ttl_s ? { unused_ttl_s: record.unused_ttl_s } : {}),
    ...(record.unused_ttl_s && record.until_first_use ? { until_first_use: true as const } : {}),
    ...(record.rat ? { registration_access_token_hash: record.rat } : {}),
    ...(record.reg ? { registration: record.reg } : {}),
  };
  return {
    metadata: checked.data,
    config,
    secretHash: record.secret ? Buffer.from(record.secret, 'base64url') : undefined,
    facts,
  };
}

/** The auth methods a client's metadata may name (for usage texts). */
export const CLIENT_AUTH_METHODS = AUTH_METHODS;
