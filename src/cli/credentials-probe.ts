import { randomBytes } from 'node:crypto';
import { clientAuthentication, tokenAuthMethod } from '../upstream/client-auth.js';
import { isObject } from '../upstream/quirks/types.js';
import type { ProviderDefinition } from '../upstream/resolve.js';
import { printable, type Finding } from './findings.js';

/**
 * The client-credentials probe of `providers check`: a token request with a made-up code (RFC
 * 6749 §4.1.3), sent as a login sends its own (the same client authentication, a minted secret
 * included, and the same token quirks). Once the client is authenticated the code is refused with
 * `invalid_grant`; a client that is not is refused with `invalid_client` (RFC 6749 §5.2).
 */

/** Token error codes that say the client was authenticated and only the made-up code was refused. */
const CLIENT_ACCEPTED = new Set(['invalid_grant', 'bad_verification_code', 'invalid_code']);
/** ... and those that say the client itself was refused (GitHub's and Slack's spellings included). */
const CLIENT_REFUSED = new Set([
  'invalid_client',
  'unauthorized_client',
  'incorrect_client_credentials',
  'bad_client_secret',
  'invalid_client_id',
]);

/** The probe's request; throws when the client authentication cannot be made. */
export async function probeRequest(provider: ProviderDefinition, tokenEndpoint: string): Promise<RequestInit> {
  const { entry, definition: def, quirks, redirectUri } = provider;
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: `login-broker-check-${randomBytes(12).toString('hex')}`,
    redirect_uri: redirectUri,
  });
  if (def.pkce === 'S256') body.set('code_verifier', randomBytes(32).toString('base64url'));
  for (const quirk of quirks) {
    for (const [k, v] of Object.entries(quirk.tokenParams?.(new URLSearchParams(), entry) ?? {})) body.set(k, v);
  }
  const headers = new Headers({ accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' });
  const server = { issuer: def.issuer ?? '', token_endpoint: tokenEndpoint };
  await clientAuthentication(provider)(server, { client_id: entry.client_id ?? '' }, body, headers);
  let init: RequestInit = { method: 'POST', headers, body };
  for (const quirk of quirks) if (quirk.tokenRequest) init = quirk.tokenRequest(init);
  return init;
}

/** What the token endpoint's answer says about the client credentials. */
export function credentialsVerdict(provider: ProviderDefinition, response: Response, answer: unknown): Finding {
  const error = isObject(answer) && typeof answer.error === 'string' ? answer.error : undefined;
  const status = response.status;
  if (status >= 500) return { level: 'fail', text: `token endpoint answered ${status}` };
  if (error && CLIENT_REFUSED.has(error))
    return { level: 'fail', text: `client credentials refused (${printable(error)})` };
  if (error && CLIENT_ACCEPTED.has(error)) {
    return { level: 'ok', text: `client credentials accepted (a made-up code got ${error})` };
  }
  if (response.ok && isObject(answer) && 'access_token' in answer) {
    return { level: 'fail', text: 'token endpoint accepted a made-up code' };
  }
  if (tokenAuthMethod(provider) === 'none') {
    return { level: 'info', text: `token endpoint answers (${status}); public client: no credentials to check` };
  }
  const answered = `${status}${error ? ` ${printable(error)}` : ''}`;
  return { level: 'warn', text: `client credentials: inconclusive (token endpoint answered ${answered})` };
}
