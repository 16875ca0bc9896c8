import type { Quirk } from './types.js';

/**
 * TikTok Login Kit names the client `client_key`, in the authorization request and in the token
 * request, where RFC 6749 §4.1.1 and §4.1.3 say `client_id`. Send both: the entry's client_id
 * is the app's client key.
 */
export const tiktokClientKey: Quirk = {
  name: 'tiktok-client-key',
  authorizationParams: (entry) => ({ client_key: entry.client_id ?? '' }),
  tokenParams: (_callback, entry) => ({ client_key: entry.client_id ?? '' }),
};
