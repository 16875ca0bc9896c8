import { safeDescription } from './errors.js';

/** Every error code the broker answers with. */
export type ErrorCode =
  // RFC 6749 §4.1.2.1 and §5.2
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  // OIDC Core §3.1.2.6
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  // RFC 6750 §3.1
  | 'invalid_token'
  | 'insufficient_scope'
  // RFC 8628 §3.5
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  // RFC 8707 §2
  | 'invalid_target'
  // RFC 7591 §3.2.2
  | 'invalid_client_metadata'
  | 'invalid_redirect_uri'
  // the broker's own, for pages and routes that are no OAuth endpoint
  | 'not_found'
  | 'identity_already_linked';

/**
 * The broker's one error class: it carries its error code, HTTP status and a description that is
 * safe to send (RFC 6749 §5.2), so any layer can throw it and the http layer renders it as it is
 * (JSON on API routes, a page on browser routes, a redirect where oauth/ sends it back to an app).
 */
export class BrokerError extends Error {
  override readonly name: string = 'BrokerError';
  readonly expose = true;
  readonly error_description: string;
  headers?: Record<string, string>;

  constructor(
    readonly error: ErrorCode,
    description: string,
    readonly status = 400,
  ) {
    super(`${error}: ${description}`);
    this.error_description = safeDescription(description);
  }
}
