import { isObject, peekJson, withStatus, type Quirk } from './types.js';

/**
 * Slack's Web API answers failures as HTTP 200 `{"ok": false, "error": "..."}`, the token
 * endpoint included. Turn them into a 400 with an RFC 6749 §5.2 shaped body.
 */
async function rewrite(response: Response): Promise<Response> {
  if (response.status !== 200) return response;
  const body = await peekJson(response);
  if (isObject(body) && body.ok === false) {
    return withStatus(response, { error: typeof body.error === 'string' ? body.error : 'invalid_request' }, 400);
  }
  return response;
}

export const slackOkFalse: Quirk = {
  name: 'slack-ok-false',
  tokenResponse: rewrite,
  apiResponse: rewrite,
};
