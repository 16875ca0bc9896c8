import { isObject, peekJson, withStatus, type Quirk } from './types.js';

/**
 * VK ID (id.vk.com, OAuth 2.1) departs from RFC 6749 in three places:
 * - the callback carries a `device_id` that the token request must repeat (with `state`);
 * - the profile is `POST /oauth2/user_info` with `client_id` and `access_token` in a form body
 *   (RFC 6750 §2.2 allows the body parameter);
 * - the token answer holds an `id_token` whose issuer VK does not publish, so it is dropped here
 *   (kind oauth2: the identity comes from user_info) instead of failing openid-client's checks.
 */
export const vkId: Quirk = {
  name: 'vk-id',
  tokenParams(callback) {
    const out: Record<string, string> = {};
    const deviceId = callback.get('device_id');
    const state = callback.get('state');
    if (deviceId) out.device_id = deviceId;
    if (state) out.state = state;
    return out;
  },
  apiRequest: (_url, accessToken, entry) => ({
    method: 'POST',
    body: new URLSearchParams({ client_id: entry.client_id ?? '', access_token: accessToken }),
  }),
  async tokenResponse(response) {
    if (response.status !== 200) return response;
    const body = await peekJson(response);
    if (!isObject(body) || !('id_token' in body)) return response;
    const { id_token: _dropped, ...rest } = body;
    return withStatus(response, rest, 200);
  },
};
