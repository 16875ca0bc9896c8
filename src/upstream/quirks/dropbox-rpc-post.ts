import type { Quirk } from './types.js';

/**
 * Dropbox's API v2 is RPC style: /2/users/get_current_account is a POST (no arguments: no body
 * and no Content-Type). The bearer token stays in the Authorization header (RFC 6750 §2.1).
 */
export const dropboxRpcPost: Quirk = {
  name: 'dropbox-rpc-post',
  apiRequest: () => ({ method: 'POST' }),
};
