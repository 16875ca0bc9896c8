import * as client from 'openid-client';
import { BrokerError, type ErrorCode } from '../http/broker-error.js';
import { MappingError } from './mapping.js';
import type { LoginFailureCode } from './types.js';
import { safeText } from '../lib/text.js';

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

/** Provider-supplied text for logs and descriptions: the safe subset of ASCII, bounded. */
export const safeToken = (text: string, max = 64): string => safeText(text, max);

type Thrown = { name?: string; code?: string; message?: string; cause?: unknown };

function timedOut(e: Thrown): boolean {
  const cause = e.cause as Thrown | undefined;
  return (
    e.name === 'TimeoutError' ||
    e.name === 'AbortError' ||
    cause?.name === 'TimeoutError' ||
    e.code === 'OAUTH_TIMEOUT' ||
    e.code === 'OAUTH_ABORT'
  );
}

/** Turns anything thrown on the way into a fail() code; never leaks tokens (messages only). */
export function classify(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  // Ours, thrown inside openid-client (a client authentication that could not be made).
  if (err instanceof client.ClientError && err.cause instanceof UpstreamFailure) return err.cause;
  if (err instanceof MappingError) return new UpstreamFailure('server_error', err.message);
  const e = err as Thrown;
  if (timedOut(e)) return new UpstreamFailure('temporarily_unavailable', 'the provider did not answer in time');
  if (err instanceof client.ResponseBodyError) {
    const status = err.status;
    const code = safeToken(err.error);
    if (status >= 500 || err.error === 'temporarily_unavailable') {
      return new UpstreamFailure('temporarily_unavailable', `the provider answered ${code}`, { status });
    }
    return new UpstreamFailure('access_denied', `the provider refused the code: ${code}`, { status });
  }
  if (e.name === 'TypeError' && /fetch failed/.test(e.message ?? '')) {
    return new UpstreamFailure('temporarily_unavailable', 'the provider could not be reached');
  }
  if (err instanceof client.ClientError) return clientErrorFailure(err);
  // Only the error's name: a message can quote a response body (JSON.parse does), tokens included.
  return new UpstreamFailure('server_error', 'the login with the provider failed', { name: e.name });
}

function clientErrorFailure(err: client.ClientError): UpstreamFailure {
  const status = err.cause instanceof Response ? err.cause.status : undefined;
  if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && status !== undefined && (status >= 500 || status === 429)) {
    return new UpstreamFailure('temporarily_unavailable', `the provider answered ${status}`, { status });
  }
  // Verification failures (iss, aud, nonce, signature, alg, state) and malformed answers.
  // The library's own reason (which claim, which check); never a parser's, which quotes the body.
  const cause = err.cause as Thrown | undefined;
  const why = cause?.name === 'SyntaxError' ? undefined : cause?.message;
  const reason = `${err.message}${why && why !== err.message ? ` (${why})` : ''}`;
  return new UpstreamFailure('access_denied', `the provider's answer did not verify: ${reason}`, { code: err.code });
}
