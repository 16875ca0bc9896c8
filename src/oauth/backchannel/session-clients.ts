import type { Store, StoreOp } from '../../store/index.js';
import type { Client } from '../clients.js';

/**
 * Which clients received tokens in a browser session: the ones told when it ends (Back-Channel
 * Logout 1.0 §2.7). Keyed by the session's `sid`, with its own hash tag; written in the same
 * unit of work as the code or the device approval that leads to the tokens, and only for
 * clients that registered a `backchannel_logout_uri` (the others cost no write).
 */
export const sessionClientsKey = (sid: string) => `sid-clients:{s:${sid}}`;

export function sessionClientOps(client: Client | undefined, sid: string, ttlS: number): StoreOp[] {
  if (!client?.backchannel_logout_uri) return [];
  return [{ op: 'sadd', key: sessionClientsKey(sid), members: [client.client_id], ttl: ttlS }];
}

export async function sessionClients(store: Store, sid: string): Promise<string[]> {
  return store.smembers(sessionClientsKey(sid));
}
