import type { Context } from 'koa';
import { DEVICE_CODE_GRANT } from '../../config/clients.js';
import { nowS } from '../../lib/clock.js';
import { SUPPORTED_SCOPES } from '../claims.js';
import type { Client } from '../clients.js';
import { clientRequest } from '../client-auth.js';
import type { OAuthContext } from '../context.js';
import { tokenHash } from '../crypto.js';
import { invalidScope, unauthorizedClient } from '../errors.js';
import { mintToken, newGrantId } from '../record-keys.js';
import { authorizeScopes, mayRefresh } from '../scope-policy.js';
import { deviceKeys, deviceRecordOp, type DeviceRecord } from './records.js';
import { displayUserCode, newUserCode } from './user-code.js';

const USER_CODE_TRIES = 3;

/** Scopes of a device grant; the user approves them explicitly, so offline_access counts. */
function deviceScopes(requested: string | undefined, client: Client) {
  const fallback = SUPPORTED_SCOPES.filter((s) => client.scopes.has(s) && s !== 'offline_access').join(' ');
  return authorizeScopes(requested ?? fallback, client, { code: true, prompt: ['consent'] });
}

/**
 * POST /device_authorization (RFC 8628 §3.1-3.2): the client authenticates as at the token
 * endpoint (public clients send client_id); the answer is a device code (256 random bits, only
 * its hash stored), a user code and where to enter it. One store round trip, plus one more in
 * the rare case of a user code collision.
 */
export function deviceAuthorizationEndpoint(oauth: OAuthContext) {
  return async (ctx: Context) => {
    ctx.set('Pragma', 'no-cache');
    const { params, client } = await clientRequest(ctx, oauth.clients, 'token', oauth.limits);
    if (!client.grant_types.includes(DEVICE_CODE_GRANT))
      throw unauthorizedClient('this client may not use the device authorization grant');
    const { scopes, refused, offlineGranted } = deviceScopes(params.get('scope', { max: 1000 }), client);
    if (refused.length > 0) throw invalidScope(`scope not allowed for this client: ${refused.join(' ')}`);

    const t = oauth.config.tokens;
    const now = nowS();
    const deviceId = newGrantId();
    const deviceCode = mintToken(deviceId);
    const record: DeviceRecord = {
      clientId: client.client_id,
      codeHash: tokenHash(deviceCode),
      scope: scopes.join(' '),
      refresh: mayRefresh(client, offlineGranted, t.first_party_refresh_without_offline_access),
      expiresAt: now + t.device_code_ttl_s,
      interval: t.device_poll_interval_s,
      status: 'pending',
    };
    const { work } = ctx.state;
    work.add(deviceRecordOp(deviceId, record, now));
    let userCode = newUserCode();
    const claim = (code: string) =>
      ({ op: 'putIfAbsent', key: deviceKeys.userCode(code), value: deviceId, ttl: t.device_code_ttl_s }) as const;
    let [claimed] = await work.commit(claim(userCode));
    for (let i = 1; claimed !== true && i < USER_CODE_TRIES; i++) {
      userCode = newUserCode();
      claimed = await oauth.store.putIfAbsent(claim(userCode).key, deviceId, t.device_code_ttl_s);
    }
    if (claimed !== true) throw new Error('could not find a free user code');

    const verification = `${oauth.config.issuer}/device`;
    const shown = displayUserCode(userCode);
    ctx.body = {
      device_code: deviceCode,
      user_code: shown,
      verification_uri: verification,
      verification_uri_complete: `${verification}?user_code=${shown}`,
      expires_in: t.device_code_ttl_s,
      interval: t.device_poll_interval_s,
    };
  };
}
