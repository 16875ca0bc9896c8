import type { Store, StoreOp } from '../../store/index.js';

/**
 * Which clients received tokens in a browser session: the ones told when it ends (Back-Channel
 * Logout 1.0 §2.7). Keyed by the session's `sid`, with its own hash tag; written in the same
 * unit of work as the code or the device approval that leads to the tokens.
 */
export const sessionClientsKey = (sid: string) => `sid-clients:{s:${sid}}`;

export function sessionClientOp(sid: string, clientId: string, ttlS: number): StoreOp {
  return { op: 'sadd', key: sessionClientsKey(sid), members: [clientId], ttl: ttlS };
}

/** The clients of a session, forgotten as they are read (the session ends). */
export async function takeSessionClients(store: Store, sid: string): Promise<string[]> {
  const key = sessionClientsKey(sid);
  const clients = await store.smembers(key);
  if (clients.length > 0) await store.del(key);
  return clients;
}
