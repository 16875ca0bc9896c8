import { isObject, peekJson, withStatus, type Quirk } from './types.js';

/**
 * GitHub's token endpoint answers errors (bad_verification_code, ...) with HTTP 200 and
 * `{error, error_description}`. RFC 6749 §5.2 says 400: make it one, so openid-client reports
 * the provider's error instead of a missing access_token.
 */
export const github200Errors: Quirk = {
  name: 'github-200-errors',
  async tokenResponse(response) {
    if (response.status !== 200) return response;
    const body = await peekJson(response);
    if (isObject(body) && typeof body.error === 'string') return withStatus(response, body, 400);
    return response;
  },
};
