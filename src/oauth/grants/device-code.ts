import { DEVICE_CODE_GRANT } from '../../config/clients.js';
import { BrokerError } from '../../http/broker-error.js';
import { constantTimeEqual } from '../../lib/constant-time.js';
import { nowMs, nowS } from '../../lib/clock.js';
import { tokenHash } from '../crypto.js';
import { loadDeviceRecord, replaceDeviceRecord } from '../device/records.js';
import { invalidGrant } from '../errors.js';
import { grantOf } from '../record-keys.js';
import type { Grant } from './grant.js';
import { refreshTerms, userTokens } from './issue.js';

const deviceError = (code: 'authorization_pending' | 'slow_down' | 'expired_token' | 'access_denied', d: string) =>
  new BrokerError(code, d);

/** RFC 8628 §3.4-3.5: the device polls with its device code until the user decided. */
export const deviceCodeGrant: Grant = {
  grantType: DEVICE_CODE_GRANT,
  enabled: (oauth) => oauth.clients.all().some((c) => c.grant_types.includes(DEVICE_CODE_GRANT)),
  async handle(ctx, client, params, oauth) {
    const deviceCode = params.require('device_code', { max: 256 });
    const deviceId = grantOf(deviceCode);
    const found = deviceId ? await loadDeviceRecord(oauth.store, deviceId) : undefined;
    if (!deviceId || !found || !constantTimeEqual(tokenHash(deviceCode), found.record.codeHash))
      throw invalidGrant('the device code is invalid');
    const { text, record } = found;
    if (record.clientId !== client.client_id) throw invalidGrant('the device code was issued to another client');
    const now = nowS();
    if (record.status === 'redeemed') throw invalidGrant('the device code was already used');
    if (now >= record.expiresAt) throw deviceError('expired_token', 'the device code has expired; start again');
    if (record.status === 'denied') throw deviceError('access_denied', 'the user denied the request');

    if (record.status === 'pending') {
      const ms = nowMs();
      const early = record.lastPoll !== undefined && ms - record.lastPoll < record.interval * 1000;
      // Polled faster than the interval: slow_down, and the interval grows by 5 s for good (§3.5).
      const next = { ...record, lastPoll: ms, interval: record.interval + (early ? 5 : 0) };
      await replaceDeviceRecord(oauth.store, deviceId, text, next, now);
      if (early) throw deviceError('slow_down', `polling too fast; wait ${next.interval} s between requests`);
      throw deviceError('authorization_pending', 'the user has not approved the request yet');
    }

    const approval = record.approval;
    if (record.status !== 'approved' || !approval) throw invalidGrant('the device code is invalid');
    // Single use: of concurrent polls exactly one replaces the approved record.
    const won = await replaceDeviceRecord(oauth.store, deviceId, text, { ...record, status: 'redeemed' }, now);
    if (!won) throw invalidGrant('the device code was already used');
    const { work } = ctx.state;
    const grant = {
      grantId: deviceId,
      clientId: client.client_id,
      userId: approval.userId,
      scope: record.scope,
      authTime: approval.authTime,
      sid: approval.sid,
      claims: approval.claims,
    };
    const response = await userTokens(
      oauth,
      grant,
      work,
      record.refresh ? refreshTerms(oauth, record.scope) : undefined,
    );
    await work.commit();
    return response;
  },
};
