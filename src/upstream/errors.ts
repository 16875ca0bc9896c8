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

/** A login that had a valid transaction but failed upstream: ends in fail(). */
export class UpstreamFailure extends Error {
  constructor(
    readonly code: LoginFailureCode,
    readonly description: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(description);
  }
}
