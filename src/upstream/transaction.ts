import { createHash } from 'node:crypto';
import type { Store, StoreOp } from '../store/index.js';
import type { LoginSecrets } from './connector.js';
import { isLoginContext, type LoginContext } from './types.js';

/** Login transactions live 10 minutes (docs/security.md C-CSRF-04). */
export const TRANSACTION_TTL_S = 600;

/** What a login attempt keeps server-side; `state` itself is never stored, only its hash. */
export interface Transaction {
  /** provider id the login started with (mix-up defence, RFC 9700 §4.4.2.2) */
  p: string;
  /** sha256 of the browser id (login CSRF defence) */
  b: string;
  /** why the login was started: picks the handler that finishes it */
  c: LoginContext;
  /** OIDC nonce */
  n?: string;
  /** PKCE code_verifier (RFC 7636) */
  v?: string;
}

/** The transaction of a login that starts now, with what its connector keeps for the callback. */
export function newTransaction(
  provider: string,
  binding: string,
  context: LoginContext,
  secrets: LoginSecrets,
): Transaction {
  return {
    p: provider,
    b: binding,
    c: context,
    ...(secrets.nonce ? { n: secrets.nonce } : {}),
    ...(secrets.verifier ? { v: secrets.verifier } : {}),
  };
}

/** What the connector kept, for its finish. */
export function secretsOf(txn: Transaction): LoginSecrets {
  return { ...(txn.n ? { nonce: txn.n } : {}), ...(txn.v ? { verifier: txn.v } : {}) };
}

export function transactionKey(state: string): string {
  return `txn:${createHash('sha256').update(state).digest('base64url')}`;
}

/** The write that stores a transaction under its state's hash. */
export function transactionOp(state: string, txn: Transaction): StoreOp {
  return { op: 'put', key: transactionKey(state), value: JSON.stringify(txn), ttl: TRANSACTION_TTL_S };
}

function isTransaction(value: unknown): value is Transaction {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return typeof t.p === 'string' && typeof t.b === 'string' && isLoginContext(t.c);
}

/** One round trip: atomic get-and-delete, so a replayed callback finds nothing (C-CSRF-03). */
export async function takeTransaction(store: Store, state: string): Promise<Transaction | undefined> {
  const text = await store.take(transactionKey(state));
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return isTransaction(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
