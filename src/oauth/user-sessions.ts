import { endUserSessions } from '../session/sessions.js';
import type { Store } from '../store/index.js';
import { recordLogoutDeliveries } from './backchannel/delivery.js';
import type { ClientRegistry } from './clients.js';
import type { TokenRecords } from './token-records.js';

export interface EndedSessions {
  sessions: number;
  /** Non-offline grants of those sessions, revoked with their refresh tokens. */
  grants: number;
  /** Back-channel logout deliveries recorded (sent by the broker instances' scans). */
  logouts: number;
}

/**
 * Ends every SSO session of a user, as a logout of each would (RP-Initiated Logout in
 * `logout.ts`): the session is deleted, its non-offline grants revoked, and the clients that
 * registered a `backchannel_logout_uri` are told (Back-Channel Logout 1.0 §2.5). Runs in any
 * process (the CLI): deliveries are recorded in the store, where every broker instance's scan of
 * the due-list sends them.
 */
export async function endAllSessions(
  parts: {
    store: Store;
    records: Pick<TokenRecords, 'revokeSession'>;
    clients: Pick<ClientRegistry, 'all' | 'find' | 'hasStore'>;
  },
  userId: string,
): Promise<EndedSessions> {
  const ended = await endUserSessions(parts.store, userId);
  let grants = 0;
  let logouts = 0;
  for (const session of ended) {
    grants += await parts.records.revokeSession(session.sid);
    logouts += (await recordLogoutDeliveries(parts.store, parts.clients, session.sid, userId)).length;
  }
  return { sessions: ended.length, grants, logouts };
}
