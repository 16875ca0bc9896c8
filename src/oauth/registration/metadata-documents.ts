import type { Logger } from 'pino';
import { clientSchema, type ClientConfig } from '../../config/clients.js';
import type { MetadataDocumentLimits } from '../../config/registration.js';
import { nowMs } from '../../lib/clock.js';
import { safeText } from '../../lib/text.js';
import type { ClientDocumentSource } from '../clients.js';
import { pickClientMetadata, schemaProblem } from './metadata.js';
import { policyProblems } from './policy.js';
import { FetchRefused, fetchJson, type Resolver } from './safe-fetch.js';

/** Why a metadata-document client cannot be used; the description is safe to show. */
export class MetadataDocumentProblem extends Error {
  override readonly name = 'MetadataDocumentProblem';
}

const MAX_URL_LENGTH = 512;
/** A failed fetch or a bad document is not asked again for this long (a flood costs one fetch). */
const FAILURE_CACHE_MS = 30_000;
const MAX_ENTRIES = 1000;
const DEFAULT_CACHE_S = 300;
/** Fields a metadata document must not carry: a document is public, so it has no secret (the CIMD draft §4.1). */
const SECRET_FIELDS = ['client_secret', 'client_secret_expires_at'];

/**
 * Whether a client_id is a Client ID Metadata Document URL as the draft's §3 describes it, and
 * why not: https (http only on a literal loopback address when allowed, for tests), a path,
 * no fragment, no user or password, no dot segments, and in the normalised form (the client_id
 * is compared as a plain string, so a URL the parser would rewrite is refused).
 */
export function documentUrlProblem(clientId: string, allowLoopbackHttp: boolean): string | undefined {
  if (clientId.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  if (!URL.canParse(clientId)) return 'is not a URL';
  const url = new URL(clientId);
  const loopback = url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowLoopbackHttp && loopback)) {
    return 'must be an https URL';
  }
  if (url.username || url.password) return 'must not contain a user or password';
  if (clientId.includes('#')) return 'must not contain a fragment';
  // The draft says SHOULD NOT; refused here, so an id never carries characters a store key would not want.
  if (clientId.includes('?')) return 'must not contain a query';
  if (url.pathname === '/' || url.pathname === '') return 'must have a path';
  if (/(^|\/)\.\.?(\/|$)/.test(clientId.slice(clientId.indexOf('//') + 2).replace(/[?].*$/, ''))) {
    return 'must not contain "." or ".." path segments';
  }
  if (url.href !== clientId) return 'must be in normalised form';
  return undefined;
}

/**
 * A client described by the document at its URL: validated by the config file's client schema,
 * then made a public client (token_endpoint_auth_method none, PKCE) under the open registration
 * policy: never first_party, code flow only, redirect URIs https or loopback. Throws
 * MetadataDocumentProblem naming the field.
 */
export function documentClient(url: string, document: unknown): ClientConfig {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new MetadataDocumentProblem('the metadata document is not a JSON object');
  }
  const fields = document as Record<string, unknown>;
  if (fields.client_id !== url) {
    throw new MetadataDocumentProblem('the client_id in the metadata document is not its URL');
  }
  for (const field of SECRET_FIELDS) {
    if (field in fields) throw new MetadataDocumentProblem(`the metadata document must not contain ${field}`);
  }
  const method = fields.token_endpoint_auth_method;
  if (method !== undefined && method !== 'none') {
    throw new MetadataDocumentProblem(
      'token_endpoint_auth_method: must be "none" (a metadata-document client is public)',
    );
  }
  const metadata = pickClientMetadata(document);
  // The schema's client_id rule is for ids the broker or the operator chose; the URL was checked above.
  const parsed = clientSchema.safeParse({
    ...metadata,
    client_id: 'metadata-document',
    token_endpoint_auth_method: 'none',
  });
  if (!parsed.success) {
    const problem = schemaProblem(parsed.error);
    throw new MetadataDocumentProblem(`${problem.at ?? problem.field}: ${problem.message}`);
  }
  const client = { ...parsed.data, client_id: url };
  const [problem] = policyProblems(client, 'document', { pairwiseSalt: false });
  if (problem) throw new MetadataDocumentProblem(`${problem.at ?? problem.field}: ${problem.message}`);
  return client;
}

/**
 * Seconds a response may be kept by its Cache-Control (RFC 9111 §5.2.2: max-age; no-store and
 * no-cache keep it the minimum), 5 minutes without one, always within the configured bounds.
 */
export function cacheSeconds(cacheControl: string | undefined, limits: { min: number; max: number }): number {
  const directives = (cacheControl ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  let seconds = DEFAULT_CACHE_S;
  for (const directive of directives) {
    const match = /^max-age=(\d+)$/.exec(directive);
    if (match) seconds = Number(match[1]);
  }
  if (directives.includes('no-store') || directives.includes('no-cache')) seconds = 0;
  return Math.min(limits.max, Math.max(limits.min, seconds));
}

interface Entry {
  client?: ClientConfig;
  problem?: string;
  until: number;
}

/**
 * Client ID Metadata Documents (the OAuth draft the MCP authorization spec adopted): a client
 * whose client_id is an https URL is described by the JSON document at that URL. Documents are
 * fetched SSRF-safe (safe-fetch.ts), cached as their Cache-Control allows within the configured
 * bounds, failures for 30 s; concurrent lookups of one URL share one fetch.
 */
export class MetadataDocuments implements ClientDocumentSource {
  readonly #cache = new Map<string, Entry>();
  readonly #pending = new Map<string, Promise<Entry>>();

  constructor(
    private readonly options: {
      limits: MetadataDocumentLimits;
      /** The broker's issuer is loopback: http and loopback addresses are allowed (tests only). */
      allowLoopback: boolean;
      resolve?: Resolver;
      log?: Logger;
    },
  ) {}

  /** Whether a client_id is meant as a document URL (it then never names a stored client). */
  handles(clientId: string): boolean {
    return /^https?:\/\//i.test(clientId);
  }

  /** The client the document at `clientId` describes; undefined when it cannot be used (see `problem`). */
  async client(clientId: string): Promise<ClientConfig | undefined> {
    if (documentUrlProblem(clientId, this.options.allowLoopback)) return undefined;
    const now = nowMs();
    let entry = this.#cache.get(clientId);
    if (!entry || entry.until <= now) {
      let pending = this.#pending.get(clientId);
      if (!pending) {
        pending = this.#load(clientId).finally(() => this.#pending.delete(clientId));
        this.#pending.set(clientId, pending);
      }
      entry = await pending;
    }
    return entry.client;
  }

  /** Why the client at `clientId` cannot be used, as far as this process knows (no fetch). */
  problem(clientId: string): string | undefined {
    const urlProblem = documentUrlProblem(clientId, this.options.allowLoopback);
    if (urlProblem) return `the client_id URL ${urlProblem}`;
    return this.#cache.get(clientId)?.problem;
  }

  async #load(url: string): Promise<Entry> {
    const { limits } = this.options;
    let entry: Entry;
    try {
      const fetched = await fetchJson(url, {
        maxBytes: limits.max_bytes,
        timeoutMs: limits.timeout_ms,
        allowLoopback: this.options.allowLoopback,
        resolve: this.options.resolve,
      });
      const client = documentClient(url, fetched.body);
      const cacheControl = fetched.headers['cache-control'];
      const keepS = cacheSeconds(cacheControl, { min: limits.min_cache_s, max: limits.max_cache_s });
      entry = { client, until: nowMs() + keepS * 1000 };
    } catch (err) {
      const problem =
        err instanceof FetchRefused
          ? `the client metadata document ${err.shown}`
          : err instanceof MetadataDocumentProblem
            ? err.message
            : 'the client metadata document could not be read';
      const detail = err instanceof FetchRefused ? err.message : problem;
      this.options.log?.warn({ client: safeText(url, 200), problem: detail }, 'client metadata document refused');
      entry = { problem, until: nowMs() + FAILURE_CACHE_MS };
    }
    if (this.#cache.size >= MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(url, entry);
    return entry;
  }
}
