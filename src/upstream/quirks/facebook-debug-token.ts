import { UpstreamFailure } from '../errors.js';
import { isObject, type Quirk } from './types.js';

/**
 * Native sign-in with a Facebook user access token: Graph's `debug_token`, asked with the app
 * token (`app_id|app_secret`), says which app the token was issued to and whether it is valid
 * (Meta: "Manually Build a Login Flow", inspecting access tokens). A token of another app is
 * refused, or anyone's app could sign its users in here as them.
 */
export const facebookDebugToken: Quirk = {
  name: 'facebook-debug-token',
  async checkNativeAccessToken({ token, entry, fetch }) {
    const url = new URL('https://graph.facebook.com/v25.0/debug_token');
    url.searchParams.set('input_token', token);
    url.searchParams.set('access_token', `${entry.client_id}|${entry.client_secret ?? ''}`);
    const response = await fetch(url, { headers: { accept: 'application/json' } });
    if (response.status >= 500 || response.status === 429) {
      throw new UpstreamFailure('temporarily_unavailable', `Facebook answered ${response.status}`);
    }
    const body: unknown = await response.json().catch(() => undefined);
    const data = isObject(body) && isObject(body.data) ? body.data : undefined;
    if (!response.ok || !data) return 'Facebook did not recognise the token';
    if (data.is_valid !== true) return 'Facebook says the token is not valid';
    const apps = [entry.client_id, ...entry.native_client_ids];
    if (typeof data.app_id !== 'string' || !apps.includes(data.app_id)) return 'the token was issued to another app';
    return undefined;
  },
};
