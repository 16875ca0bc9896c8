import { s256 } from '../crypto.js';
import { invalidGrant, invalidRequest } from '../errors.js';
import type { Grant } from './grant.js';
import { refreshTerms, userTokens } from './issue.js';
import { clientGrantAllowed } from '../clients.js';
import { constantTimeEqual } from '../../lib/constant-time.js';

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

/**
 * A code bound to a challenge needs the matching verifier; a code issued without one (the
 * client's `pkce: optional`) must be redeemed without one: a verifier there means the request
 * was not the one the client started (RFC 9700 §4.8.2, PKCE downgrade).
 */
function checkPkce(challenge: string | undefined, verifier: string | undefined): void {
  if (challenge === undefined) {
    if (verifier !== undefined) {
      throw invalidGrant('the code was issued without code_challenge, so code_verifier must not be sent');
    }
    return;
  }
  if (verifier === undefined) throw invalidGrant('code_verifier is required (PKCE)');
  if (!constantTimeEqual(s256(verifier), challenge))
    throw invalidGrant('code_verifier does not match the code_challenge');
}

/** RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5-4.6). */
export const authorizationCodeGrant: Grant = {
  grantType: 'authorization_code',
  async handle(ctx, client, params, oauth) {
    const code = params.require('code', { max: 256 });
    const redirectUri = params.get('redirect_uri', { max: 2048 });
    const verifier = params.get('code_verifier', { max: 128 });
    // Syntax is checked before the code is spent, so a malformed request does not burn it.
    if (verifier !== undefined && !VERIFIER.test(verifier)) {
      throw invalidRequest('code_verifier must be 43-128 characters of [A-Za-z0-9._~-] (RFC 7636 section 4.1)');
    }

    const taken = await oauth.records.takeCode(code);
    if (taken.status === 'replayed') {
      // A code used twice was stolen or replayed: what it issued is revoked (RFC 6749 §4.1.2).
      await oauth.records.revokeGrant(taken.grantId);
      ctx.state.log?.warn(
        { client: client.client_id, grant: taken.grantId },
        'authorization code replayed: grant revoked',
      );
      throw invalidGrant('the authorization code was already used; the tokens issued with it are revoked');
    }
    if (taken.status !== 'ok') throw invalidGrant('the authorization code is invalid or expired');
    const { record, refreshToken } = taken;
    try {
      // A store client removed and created again under the same id is another client (RFC 6749 §4.1.3).
      if (record.clientId !== client.client_id || !clientGrantAllowed(client, record.clientGen))
        throw invalidGrant('the authorization code was issued to another client');
      if (redirectUri !== record.redirectUri) {
        throw invalidGrant('redirect_uri must be the one of the authorization request (RFC 6749 section 4.1.3)');
      }
      checkPkce(record.codeChallenge, verifier);
    } catch (err) {
      // The code is spent either way (RFC 6749 §4.1.2); the refresh token its spending moved into
      // place was never handed out, and goes too.
      if (refreshToken) await oauth.records.dropRefreshToken(refreshToken);
      throw err;
    }

    oauth.clients.used(client, true);
    const { work } = ctx.state;
    // A code issued before refresh records waited with their codes: its refresh token is written now.
    const late = record.refresh && !refreshToken ? refreshTerms(oauth, record.scope) : undefined;
    const response = await userTokens(oauth, record, work, late);
    await work.commit();
    if (refreshToken) response.refresh_token = refreshToken;
    return response;
  },
};
