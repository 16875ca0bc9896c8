import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Secrets never reach a log line: headers that carry credentials, and any field named like a
 * secret or token, one or two levels deep, are censored by pino before serialization.
 */
const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'set-cookie',
  'client_secret',
  'code',
  'code_verifier',
  'password',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'client_assertion',
  'state',
  'nonce',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [...(f.includes('-') ? [] : [f]), `*["${f}"]`, `*.*["${f}"]`, `*.*.*["${f}"]`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'login-broker' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
