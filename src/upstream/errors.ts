import { BrokerError, type ErrorCode } from '../http/broker-error.js';
import type { LoginFailureCode } from './types.js';

/** A callback or login start refused before any handler: an error page (the route is a page). */
export class UpstreamPageError extends BrokerError {
  constructor(status: number, error: ErrorCode, description: string) {
    super(error, description, status);
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
