/**
 * The one vocabulary for what a grant's records hold, whatever stores or carries them. A grant
 * is one user's authorization of one client: its code and every refresh token of its chain
 * carry the same facts.
 */
export interface GrantFacts {
  grantId: string;
  clientId: string;
  userId: string;
  scope: string;
  /** Epoch seconds of the user's login (OIDC Core §2 auth_time). */
  authTime: number;
  /** The browser session the grant was made in (absent for the password grant). */
  sid?: string;
  resource?: string;
}

/** What an authorization code stands for; stored under the code's hash for `code_ttl_s`. */
export interface CodeRecord extends GrantFacts {
  redirectUri: string;
  /** Absent when the client's `pkce: optional` let the request leave PKCE out. */
  codeChallenge?: string;
  nonce?: string;
  /** The user's claims when the code was issued, so the token endpoint needs no user lookup. */
  claims: Record<string, unknown>;
  /** A refresh token may be issued for this code. */
  refresh: boolean;
  /** The generation of a store client (absent for a configuration client): see clientGrantAllowed. */
  clientGen?: string;
}

/** What a refresh token stands for; every token of one chain carries the same record. */
export interface RefreshRecord extends GrantFacts {
  /** Epoch seconds after which no token of this grant is valid, however often rotated. */
  expiresAt: number;
  /** offline_access was granted: the token outlives the browser session (OIDC Core §11). */
  offline: boolean;
  /** The generation of a store client (absent for a configuration client): see clientGrantAllowed. */
  clientGen?: string;
}

type FieldType = 'string' | 'number' | 'boolean' | 'object';
type Fields<T> = { [K in keyof T]-?: { key: string; type: FieldType; optional?: true; legacy: string } };

const GRANT_FIELDS: Fields<GrantFacts> = {
  grantId: { key: 'g', type: 'string', legacy: 'grant_id' },
  clientId: { key: 'c', type: 'string', legacy: 'client_id' },
  userId: { key: 'u', type: 'string', legacy: 'user_id' },
  scope: { key: 's', type: 'string', legacy: 'scope' },
  authTime: { key: 't', type: 'number', legacy: 'auth_time' },
  sid: { key: 'i', type: 'string', optional: true, legacy: 'sid' },
  resource: { key: 'r', type: 'string', optional: true, legacy: 'resource' },
};

const CODE_FIELDS: Fields<CodeRecord> = {
  ...GRANT_FIELDS,
  redirectUri: { key: 'ru', type: 'string', legacy: 'redirect_uri' },
  codeChallenge: { key: 'cc', type: 'string', optional: true, legacy: 'code_challenge' },
  nonce: { key: 'n', type: 'string', optional: true, legacy: 'nonce' },
  claims: { key: 'cl', type: 'object', legacy: 'claims' },
  refresh: { key: 'rf', type: 'boolean', legacy: 'refresh' },
  clientGen: { key: 'cg', type: 'string', optional: true, legacy: 'client_gen' },
};

const REFRESH_FIELDS: Fields<RefreshRecord> = {
  ...GRANT_FIELDS,
  expiresAt: { key: 'x', type: 'number', legacy: 'expires_at' },
  offline: { key: 'o', type: 'boolean', legacy: 'offline' },
  clientGen: { key: 'cg', type: 'string', optional: true, legacy: 'client_gen' },
};

/**
 * Writes a record with short keys (a refresh token's record is in the store for weeks) and
 * reads it back, checking every field's type; records written by earlier versions, with
 * snake_case keys, are still read.
 */
export interface RecordCodec<T> {
  encode(record: T): Record<string, unknown>;
  /** The record, or undefined when the value is not one. */
  decode(value: unknown): T | undefined;
}

function recordCodec<T>(fields: Fields<T>): RecordCodec<T> {
  const entries = Object.entries(fields) as [keyof T & string, Fields<T>[keyof T]][];
  return {
    encode(record) {
      const out: Record<string, unknown> = {};
      for (const [name, field] of entries) if (record[name] !== undefined) out[field.key] = record[name];
      return out;
    },
    decode(value) {
      if (typeof value !== 'object' || value === null) return undefined;
      const stored = value as Record<string, unknown>;
      const legacy = 'grant_id' in stored;
      const out: Record<string, unknown> = {};
      for (const [name, field] of entries) {
        const v = stored[legacy ? field.legacy : field.key];
        if (v === undefined && field.optional) continue;
        if (typeof v !== field.type || v === null) return undefined;
        out[name] = v;
      }
      return out as T;
    },
  };
}

export const codeCodec = recordCodec(CODE_FIELDS);
export const refreshCodec = recordCodec(REFRESH_FIELDS);

/** Parses a stored JSON value with a codec; anything unreadable is no record. */
export function parseRecord<T>(codec: RecordCodec<T>, text: string | null | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return codec.decode(JSON.parse(text));
  } catch {
    return undefined;
  }
}

export const serializeRecord = <T>(codec: RecordCodec<T>, record: T): string => JSON.stringify(codec.encode(record));
