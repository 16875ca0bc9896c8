import type { SsoSession } from '../../session/sessions.js';
import type { AuthorizationRequest } from '../authorize-request.js';

/** Does this request need a fresh upstream login (OIDC Core §3.1.2.3: prompt and max_age)? */
export function needsLogin(request: AuthorizationRequest, session: SsoSession | undefined): boolean {
  if (!session) return true;
  if (request.prompt.includes('login')) return true;
  if (request.max_age !== undefined && session.auth_time + request.max_age < Math.floor(Date.now() / 1000)) return true;
  return false;
}
