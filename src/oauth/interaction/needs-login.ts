import type { SsoSession } from '../../session/sessions.js';
import type { AuthorizationRequest } from '../authorize-request.js';
import { nowS } from '../../lib/clock.js';

/**
 * Does this request need a fresh upstream login (OIDC Core §3.1.2.3: prompt and max_age)?
 * max_age=0 means the same as prompt=login, also within the second of the last login.
 */
export function needsLogin(request: AuthorizationRequest, session: SsoSession | undefined): boolean {
  if (!session) return true;
  if (request.prompt.includes('login')) return true;
  if (request.max_age === undefined) return false;
  return request.max_age === 0 || session.auth_time + request.max_age < nowS();
}
