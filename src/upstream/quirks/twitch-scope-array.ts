import { isObject, peekJson, withStatus, type Quirk } from './types.js';

/**
 * Twitch's token endpoint answers `scope` as a JSON array (["user:read:email"]), where
 * RFC 6749 §5.1 and §3.3 make it a space-delimited string; openid-client refuses the array.
 * Join it, keeping every other member as sent.
 */
export const twitchScopeArray: Quirk = {
  name: 'twitch-scope-array',
  async tokenResponse(response) {
    if (response.status !== 200) return response;
    const body = await peekJson(response);
    if (isObject(body) && Array.isArray(body.scope) && body.scope.every((s) => typeof s === 'string')) {
      return withStatus(response, { ...body, scope: body.scope.join(' ') }, 200);
    }
    return response;
  },
};
