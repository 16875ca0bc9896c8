import { randomUUID } from 'node:crypto';
import { nowS } from '../../lib/clock.js';
import type { Jwt } from '../jwt.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const LOGOUT_TOKEN_TTL_S = 120;

/**
 * A Logout Token (Back-Channel Logout 1.0 §2.4): `typ: logout+jwt`, the logout event, the `sid`
 * of the client's ID tokens and the `sub`, never a `nonce`; signed with the broker's key.
 */
export function logoutToken(jwt: Jwt, input: { clientId: string; sid: string; sub: string }): Promise<string> {
  const iat = nowS();
  return jwt.sign(
    {
      iss: jwt.issuer,
      aud: input.clientId,
      sub: input.sub,
      sid: input.sid,
      iat,
      exp: iat + LOGOUT_TOKEN_TTL_S,
      jti: randomUUID(),
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    },
    'logout+jwt',
  );
}
