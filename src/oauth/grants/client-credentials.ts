import { invalidScope, invalidTarget } from '../errors.js';
import { machineScopes } from '../scope-policy.js';
import type { Grant } from './grant.js';

/**
 * RFC 6749 §4.4: a confidential client acting for itself. The access token's `sub` is the
 * client (RFC 9068 §2.2), it has no auth_time, and there is no refresh or ID token (§4.4.3).
 * No store round trip: one signature.
 */
export const clientCredentialsGrant: Grant = {
  grantType: 'client_credentials',
  async handle(_ctx, client, params, oauth) {
    const { scopes, refused } = machineScopes(params.get('scope', { max: 1000 }), client);
    if (refused.length > 0)
      throw invalidScope(`scope not available to client_credentials for this client: ${refused.join(' ')}`);
    const resource = params.get('resource', { max: 2048 });
    if (resource !== undefined && !client.resources.includes(resource))
      throw invalidTarget('this resource is not allowed for this client (RFC 8707)');
    const at = await oauth.tokens.accessToken({
      clientId: client.client_id,
      subject: client.client_id,
      scope: scopes.join(' '),
      audience: resource ?? client.client_id,
      clientGeneration: client.stored?.generation,
    });
    return { access_token: at.token, token_type: 'Bearer', expires_in: at.expiresIn, scope: scopes.join(' ') };
  },
};
