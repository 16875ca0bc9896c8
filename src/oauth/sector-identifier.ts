import type { Logger } from 'pino';
import { boundedFetch } from './client-assertion.js';

/** A sector document: 64 KiB and 3 s at most; a good answer is trusted for an hour, a bad one retried after a minute. */
const LIMITS = { maxBytes: 64 * 1024, timeoutMs: 3000, goodForMs: 3600_000, badForMs: 60_000 };

export type SectorProblem = { kind: 'unavailable' | 'mismatch'; description: string };

interface Checked {
  problem?: SectorProblem;
  until: number;
}

/**
 * Checks a pairwise client's sector_identifier_uri as OIDC Core §8.1 says: a JSON array of
 * redirect URIs that must contain every redirect URI the client registered. The check runs at the
 * client's first authorization request, then is cached for what it checked (a store client whose
 * URI or redirect URIs change is checked again).
 */
export class SectorIdentifiers {
  readonly #checked = new Map<string, Checked>();
  readonly #pending = new Map<string, Promise<Checked>>();
  readonly #fetch = boundedFetch(LIMITS.maxBytes);

  constructor(private readonly log?: Logger) {}

  async problem(client: {
    client_id: string;
    sector_identifier_uri?: string;
    redirect_uris: string[];
  }): Promise<SectorProblem | undefined> {
    const uri = client.sector_identifier_uri;
    if (!uri) return undefined;
    const key = JSON.stringify([client.client_id, uri, client.redirect_uris]);
    const cached = this.#checked.get(key);
    if (cached && cached.until > Date.now()) return cached.problem;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#check(uri, client.redirect_uris).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    const checked = await pending;
    this.#checked.set(key, checked);
    if (checked.problem)
      this.log?.warn({ client: client.client_id, problem: checked.problem }, 'sector_identifier_uri');
    return checked.problem;
  }

  async #check(uri: string, redirectUris: string[]): Promise<Checked> {
    let listed: unknown;
    try {
      const res = await this.#fetch(uri, {
        method: 'GET',
        redirect: 'manual',
        headers: new Headers({ accept: 'application/json' }),
        signal: AbortSignal.timeout(LIMITS.timeoutMs),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      listed = await res.json();
    } catch {
      return {
        problem: { kind: 'unavailable', description: "the client's sector_identifier_uri could not be read" },
        until: Date.now() + LIMITS.badForMs,
      };
    }
    const uris = Array.isArray(listed) ? listed.filter((u): u is string => typeof u === 'string') : [];
    const missing = !Array.isArray(listed) || redirectUris.some((r) => !uris.includes(r));
    if (missing) {
      return {
        problem: {
          kind: 'mismatch',
          description: "the client's sector_identifier_uri does not list all its redirect URIs (OIDC Core section 8.1)",
        },
        until: Date.now() + LIMITS.badForMs,
      };
    }
    return { until: Date.now() + LIMITS.goodForMs };
  }
}
