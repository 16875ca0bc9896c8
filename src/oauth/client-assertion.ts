import { createHash } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  jwtVerify,
  type FetchImplementation,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import type { Logger } from 'pino';
import type { Store } from '../store/index.js';
import { nowS } from '../lib/clock.js';
import { invalidClient } from './errors.js';

/** RFC 7523 §2.2: the one assertion type of private_key_jwt. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/**
 * The algorithms a client may sign its assertions with; discovery advertises exactly these.
 * Ed25519 is EdDSA's fully-specified name (RFC 9864), which openid-client v6 signs with.
 */
export const ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];

/** An assertion may live at most this long from now (issue 14); and clocks may differ this much. */
const MAX_LIFETIME_S = 300;
const SKEW_S = 30;
/** A client's jwks_uri: bounded in size and time, cached, refetched on an unknown kid at most this often. */
export const JWKS_LIMITS = { maxBytes: 64 * 1024, timeoutMs: 3000, cacheMaxAgeMs: 10 * 60_000, cooldownMs: 60_000 };

/** The keys a client signs its assertions with: its inline `jwks`, or its `jwks_uri` fetched. */
export function assertionKeys(client: { jwks?: JSONWebKeySet; jwks_uri?: string }): JWTVerifyGetKey | undefined {
  if (client.jwks) return createLocalJWKSet(client.jwks);
  if (!client.jwks_uri) return undefined;
  return createRemoteJWKSet(new URL(client.jwks_uri), {
    timeoutDuration: JWKS_LIMITS.timeoutMs,
    cooldownDuration: JWKS_LIMITS.cooldownMs,
    cacheMaxAge: JWKS_LIMITS.cacheMaxAgeMs,
    [customFetch]: boundedFetch(JWKS_LIMITS.maxBytes),
  });
}

/** A fetch whose answer is read only up to `maxBytes`; a bigger one fails. */
export function boundedFetch(maxBytes: number): FetchImplementation {
  return async (url, options) => {
    const res = await fetch(url, { ...options, redirect: 'manual' });
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw new Error(`the JWKS at ${url} is larger than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
    return new Response(Buffer.concat(chunks), { status: res.status, headers: res.headers });
  };
}

/** The client an assertion names (`sub`, RFC 7523 §3), read before anything is verified; only to find the client. */
export function assertedClientId(assertion: string): string | undefined {
  try {
    const { sub } = decodeJwt(assertion);
    return typeof sub === 'string' && sub.length > 0 ? sub : undefined;
  } catch {
    return undefined;
  }
}

const jtiKey = (clientId: string, jti: string) =>
  `client-jti:{c:${clientId}}:${createHash('sha256').update(jti, 'utf8').digest('base64url')}`;

/**
 * Verifies private_key_jwt assertions (RFC 7523 §3, OIDC Core §9): signed by one of the client's
 * keys with an allowed alg; `iss` = `sub` = the client id; `aud` the issuer or the URL of the
 * endpoint called; `exp` present and at most 5 minutes ahead; `jti` present and used once (kept
 * in the store until the assertion expires: one round trip).
 */
export class ClientAssertions {
  constructor(
    private readonly store: Store,
    readonly issuer: string,
    private readonly log?: Logger,
  ) {}

  async verify(clientId: string, keys: JWTVerifyGetKey, assertion: string, endpointUrl: string): Promise<void> {
    let payload: { exp?: number; jti?: string };
    try {
      ({ payload } = await jwtVerify(assertion, keys, {
        algorithms: ASSERTION_ALGS,
        issuer: clientId,
        subject: clientId,
        audience: [this.issuer, endpointUrl],
        clockTolerance: SKEW_S,
        requiredClaims: ['exp', 'jti'],
      }));
    } catch (err) {
      throw invalidClient(this.#why(clientId, err), false);
    }
    const now = nowS();
    const exp = payload.exp!;
    if (exp > now + MAX_LIFETIME_S + SKEW_S) {
      throw invalidClient('the client assertion must expire within 5 minutes (exp)', false);
    }
    const jti = payload.jti!;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) {
      throw invalidClient('the client assertion needs a jti of 1-256 characters', false);
    }
    const ttl = Math.max(1, exp - now + SKEW_S);
    if (!(await this.store.putIfAbsent(jtiKey(clientId, jti), '1', ttl))) {
      throw invalidClient('the client assertion was already used (its jti is single-use)', false);
    }
  }

  #why(clientId: string, err: unknown): string {
    if (err instanceof errors.JWTExpired) return 'the client assertion has expired';
    if (err instanceof errors.JWTClaimValidationFailed) {
      return `the client assertion's ${err.claim} claim is missing or wrong (iss and sub = client_id, aud = issuer)`;
    }
    if (err instanceof errors.JOSEAlgNotAllowed) {
      return `the client assertion must be signed with one of: ${ASSERTION_ALGS.join(', ')}`;
    }
    if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
      return 'no key of this client matches the client assertion (kid, alg)';
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return 'the client assertion signature is invalid';
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid)
      return 'the client assertion is not a valid JWT';
    // The client's jwks_uri could not be read (timeout, size, status, not a JWKS).
    this.log?.warn(
      { client: clientId, err: err instanceof Error ? err.message : String(err) },
      'client JWKS unavailable',
    );
    return "the client's keys (jwks_uri) could not be read";
  }
}
