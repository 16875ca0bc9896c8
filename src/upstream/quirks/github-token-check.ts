import { UpstreamFailure } from '../errors.js';
import type { Quirk } from './types.js';

/**
 * Native sign-in with a GitHub OAuth token: `POST /applications/{client_id}/token` with the
 * app's client credentials answers 200 only for a valid token issued to that OAuth app, 404
 * otherwise (GitHub REST API, "Check a token"). A native app signs in through the same OAuth app.
 */
export const githubTokenCheck: Quirk = {
  name: 'github-token-check',
  async checkNativeAccessToken({ token, entry, fetch }) {
    const credentials = Buffer.from(`${entry.client_id}:${entry.client_secret ?? ''}`).toString('base64');
    const url = `https://api.github.com/applications/${encodeURIComponent(entry.client_id!)}/token`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Basic ${credentials}`,
        'content-type': 'application/json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'login-broker',
      },
      body: JSON.stringify({ access_token: token }),
    });
    if (response.status >= 500 || response.status === 429) {
      throw new UpstreamFailure('temporarily_unavailable', `GitHub answered ${response.status}`);
    }
    await response.body?.cancel();
    if (response.status === 200) return undefined;
    return response.status === 404 || response.status === 422
      ? 'the token is not valid for this app'
      : `GitHub answered ${response.status}`;
  },
};
