import type { RedirectTarget } from './authorize-request.js';

/**
 * The URL that carries an authorization response back to the app: in the query for the code
 * flow, in the fragment for implicit. Every response, success or error, carries `iss`
 * (RFC 9207 §2) and echoes `state` exactly.
 */
export function authorizationRedirect(
  target: RedirectTarget,
  issuer: string,
  values: Record<string, string | undefined>,
): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined) params.set(name, value);
  if (target.state !== undefined) params.set('state', target.state);
  params.set('iss', issuer);
  const url = new URL(target.redirect_uri);
  if (target.response_mode === 'fragment') {
    url.hash = params.toString();
    return url.toString();
  }
  for (const [name, value] of params) url.searchParams.append(name, value);
  return url.toString();
}
