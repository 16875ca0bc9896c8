import { github200Errors } from './github-200-errors.js';
import type { Quirk } from './types.js';

/**
 * Naver's token endpoint answers errors (invalid_request, invalid_client, ...) with HTTP 200 and
 * `{error, error_description}`, as GitHub's does: the same rewrite into an RFC 6749 §5.2 400.
 */
export const naver200Errors: Quirk = {
  name: 'naver-200-errors',
  tokenResponse: github200Errors.tokenResponse!,
};
