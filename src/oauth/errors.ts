import { BrokerError, type ErrorCode } from '../http/broker-error.js';
import { UserDisabled } from '../identity/users.js';

/** The OAuth errors thrown in more than one place (RFC 6749 §5.2; RFC 6750 §3.1). */
export const invalidRequest = (d: string) => new BrokerError('invalid_request', d);
export const invalidGrant = (d: string) => new BrokerError('invalid_grant', d);
export const invalidScope = (d: string) => new BrokerError('invalid_scope', d);
export const invalidTarget = (d: string) => new BrokerError('invalid_target', d);
export const unauthorizedClient = (d: string) => new BrokerError('unauthorized_client', d);
export const unsupportedGrantType = (d: string) => new BrokerError('unsupported_grant_type', d);

/**
 * Client authentication failed. With the Authorization header it MUST be 401 with a matching
 * WWW-Authenticate (RFC 6749 §5.2); otherwise we answer 401 too, which §5.2 allows.
 */
export function invalidClient(description: string, usedBasic: boolean): BrokerError {
  const err = new BrokerError('invalid_client', description, 401);
  err.headers = {
    'WWW-Authenticate': usedBasic ? 'Basic realm="login-broker", charset="UTF-8"' : 'Basic realm="login-broker"',
  };
  return err;
}

/** A bearer token problem at a protected resource (RFC 6750 §3). */
export function invalidToken(description: string): BrokerError {
  const err = new BrokerError('invalid_token', description, 401);
  err.headers = {
    'WWW-Authenticate':
      `Bearer realm="login-broker", error="invalid_token", ` +
      `error_description="${description.replace(/["\\]/g, "'")}"`,
  };
  return err;
}

/** No token at all: a bare challenge without an error code (RFC 6750 §3.1). */
export function missingToken(): BrokerError {
  const err = new BrokerError('invalid_request', 'a bearer access token is required', 401);
  err.headers = { 'WWW-Authenticate': 'Bearer realm="login-broker"' };
  return err;
}

/**
 * An authorization request error that must NOT be redirected, because the client or its
 * redirect URI could not be trusted (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2): an HTML page.
 */
export class UnsafeRedirectError extends BrokerError {
  constructor(error: ErrorCode, description: string) {
    super(error, description, 400);
  }
}

/**
 * A grant whose user is disabled fails like bad credentials (RFC 6749 §5.2 invalid_grant), with
 * the reason said; any other failure passes through.
 */
export function disabledAsInvalidGrant(err: unknown): never {
  if (err instanceof UserDisabled) throw invalidGrant('this account is disabled');
  throw err;
}
