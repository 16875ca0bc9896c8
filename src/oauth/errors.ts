import { safeDescription } from '../http/errors.js';

/**
 * OAuth errors carry their own code and HTTP status (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1;
 * OIDC Core §3.1.2.6), so any layer can throw them and the web layer renders them as they are.
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly expose = true;
  readonly error_description: string;
  headers?: Record<string, string>;

  constructor(
    readonly error: string,
    description: string,
    readonly status = 400,
  ) {
    super(`${error}: ${description}`);
    // Redirected errors skip the web layer's rendering, so the description is made safe here.
    this.error_description = safeDescription(description);
  }
}

export const invalidRequest = (d: string) => new OAuthError('invalid_request', d);
export const invalidGrant = (d: string) => new OAuthError('invalid_grant', d);
export const invalidScope = (d: string) => new OAuthError('invalid_scope', d);
export const invalidTarget = (d: string) => new OAuthError('invalid_target', d);
export const unauthorizedClient = (d: string) => new OAuthError('unauthorized_client', d);
export const unsupportedGrantType = (d: string) => new OAuthError('unsupported_grant_type', d);
export const unsupportedResponseType = (d: string) => new OAuthError('unsupported_response_type', d);
export const accessDenied = (d: string) => new OAuthError('access_denied', d);
export const loginRequired = (d: string) => new OAuthError('login_required', d);
export const consentRequired = (d: string) => new OAuthError('consent_required', d);

/**
 * Client authentication failed. With the Authorization header it MUST be 401 with a matching
 * WWW-Authenticate (RFC 6749 §5.2); otherwise we answer 401 too, which §5.2 allows.
 */
export function invalidClient(description: string, usedBasic: boolean): OAuthError {
  const err = new OAuthError('invalid_client', description, 401);
  err.headers = { 'WWW-Authenticate': usedBasic ? 'Basic realm="login-broker", charset="UTF-8"' : 'Basic realm="login-broker"' };
  return err;
}

/** A bearer token problem at a protected resource (RFC 6750 §3). */
export function invalidToken(description: string): OAuthError {
  const err = new OAuthError('invalid_token', description, 401);
  err.headers = { 'WWW-Authenticate': `Bearer realm="login-broker", error="invalid_token", error_description="${description.replace(/["\\]/g, "'")}"` };
  return err;
}

/** No token at all: a bare challenge without an error code (RFC 6750 §3.1). */
export function missingToken(): OAuthError {
  const err = new OAuthError('invalid_request', 'a bearer access token is required', 401);
  err.headers = { 'WWW-Authenticate': 'Bearer realm="login-broker"' };
  return err;
}

/**
 * An authorization request error that must NOT be redirected, because the client or its
 * redirect URI could not be trusted (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2): an HTML page.
 */
export class UnsafeRedirectError extends OAuthError {
  constructor(error: string, description: string) {
    super(error, description, 400);
  }
}
