import type { Quirk } from './types.js';

/**
 * Notion's token endpoint documents a JSON body ({grant_type, code, redirect_uri}) with HTTP
 * Basic client authentication, where RFC 6749 §4.1.3 uses a form body. Send the same parameters
 * as JSON.
 */
export const notionJsonToken: Quirk = {
  name: 'notion-json-token',
  tokenRequest(init) {
    if (!(init.body instanceof URLSearchParams)) return init;
    const headers = new Headers(init.headers);
    headers.set('content-type', 'application/json');
    return { ...init, headers, body: JSON.stringify(Object.fromEntries(init.body)) };
  },
};
