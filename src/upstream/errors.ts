import type { LoginFailureCode } from './types.js';

/** A 400 (or other) error page, rendered by the http layer through duck typing. */
export class UpstreamPageError extends Error {
  readonly expose = true;
  constructor(
    readonly status: number,
    readonly error: string,
    readonly error_description: string,
  ) {
    super(error_description);
  }
}

/** The class of a failure for metrics when nothing more precise is known, by its code. */
const KIND_OF_CODE: Record<LoginFailureCode, string> = {
  access_denied: 'rejected',
  login_required: 'denied',
  temporarily_unavailable: 'unavailable',
  server_error: 'error',
};

/**
 * A login that had a valid transaction but failed upstream: ends in fail(). `kind` is its class
 * for metrics and alerts (`denied` is the user's or the provider's refusal, the rest are errors:
 * timeout, unreachable, upstream_5xx, token_refused, api_refused, invalid_response, mapping,
 * provider_error, mixup, internal, or by code rejected, unavailable, error).
 */
export class UpstreamFailure extends Error {
  readonly kind: string;

  constructor(
    readonly code: LoginFailureCode,
    readonly description: string,
    readonly detail?: Record<string, unknown>,
    kind?: string,
  ) {
    super(description);
    this.kind = kind ?? KIND_OF_CODE[code];
  }
}
