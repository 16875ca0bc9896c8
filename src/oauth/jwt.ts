import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { nowS } from '../lib/clock.js';
import type { SigningKeys } from './keys.js';

/** The algorithms of our own tokens (RFC 7518 §3.1; RFC 8037 §3.1 for EdDSA). */
const ALGORITHMS = new Set(['RS256', 'ES256', 'EdDSA']);
/** One compact-serialization part (RFC 7515 §2: base64url without padding). */
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Why one of our tokens was refused; callers treat every case the same (an invalid token). */
export class JwtInvalid extends Error {}

/** The digest and signature encoding node:crypto needs for a JWS alg. */
function signingOptions(alg: string, key: KeyObject) {
  // ES256 signatures are R || S, 64 bytes (RFC 7518 §3.4), not DER; EdDSA hashes internally.
  if (alg === 'ES256') return { digest: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' as const } };
  return { digest: alg === 'EdDSA' ? null : 'sha256', key };
}

/** `typ` compared as jose and RFC 7515 §4.1.9 do: case-insensitive, `application/` optional. */
const normalizeTyp = (typ: string) => {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
};

const b64json = (value: object) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

function parseObject(part: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwtInvalid('not a JSON object');
  return value as Record<string, unknown>;
}

/** A NumericDate claim (RFC 7519 §2): absent, or a number. */
function numericDate(payload: Record<string, unknown>, claim: string): number | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new JwtInvalid(`"${claim}" claim must be a number`);
  return value;
}

/**
 * Signs and verifies the broker's own JWTs with node:crypto, synchronously: keys come from
 * memory (no store round trip), and a signature or a check costs no WebCrypto promise job.
 * Only our own tokens go through here; tokens of others (upstream ID tokens, client assertions)
 * are verified with jose.
 */
export class Jwt {
  constructor(
    private readonly keys: SigningKeys,
    readonly issuer: string,
  ) {}

  get alg(): string {
    return this.keys.current().alg;
  }

  /**
   * A compact JWS (RFC 7515 §7.1) with the header `{alg, kid, typ}`, signed by the current key.
   * An RSA signature (~0.3 ms) is made on libuv's thread pool, as jose's WebCrypto did, so one
   * process can sign on every core; ECDSA and EdDSA (~0.03 ms) cost less than the hand-over.
   */
  async sign(payload: JWTPayload, typ: 'JWT' | 'at+jwt' | 'logout+jwt'): Promise<string> {
    for (const claim of ['iat', 'nbf', 'exp'] as const) {
      const value = payload[claim];
      if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`"${claim}" claim must be finite`);
    }
    const key = this.keys.current();
    const input = `${b64json({ alg: key.alg, kid: key.kid, typ })}.${b64json(payload)}`;
    const { digest, key: signer } = signingOptions(key.alg, key.privateKey);
    const data = Buffer.from(input, 'ascii');
    const signature =
      key.alg === 'RS256'
        ? await new Promise<Buffer>((resolve, reject) =>
            cryptoSign(digest, data, signer, (err, sig) => (err ? reject(err) : resolve(sig))),
          )
        : cryptoSign(digest, data, signer);
    return `${input}.${signature.toString('base64url')}`;
  }

  /**
   * Verifies one of our tokens and returns its claims; throws JwtInvalid otherwise. Checked: the
   * compact form, `alg` among ours and equal to the alg of the key named by `kid` (no `none`, no
   * alg swap: RFC 8725 §3.1), no `crit` or `b64` (we never issue them), the signature, `typ`
   * (RFC 9068 §4: at+jwt for access tokens), `iss`, `exp` and `nbf` with no leeway (unless
   * `ignoreExpiry`), `iat` a number if present, and `aud` when an audience is asked for.
   */
  async verify(
    token: string,
    typ: 'JWT' | 'at+jwt',
    options: { audience?: string; ignoreExpiry?: boolean } = {},
  ): Promise<JWTPayload> {
    return this.verifyNow(token, typ, options).payload;
  }

  verifyNow(
    token: string,
    typ: 'JWT' | 'at+jwt',
    options: { audience?: string; ignoreExpiry?: boolean } = {},
  ): { payload: JWTPayload; kid: string } {
    const parts = token.split('.');
    if (parts.length !== 3) throw new JwtInvalid('not a compact JWS');
    const [head, body, signature] = parts as [string, string, string];
    if (!BASE64URL.test(head) || !BASE64URL.test(body) || !BASE64URL.test(signature))
      throw new JwtInvalid('not base64url');

    const header = parseObject(head);
    const { alg, kid } = header;
    if (typeof alg !== 'string' || !ALGORITHMS.has(alg)) throw new JwtInvalid('alg not allowed');
    if (header.crit !== undefined || header.b64 !== undefined) throw new JwtInvalid('crit and b64 are not ours');
    if (typeof kid !== 'string') throw new JwtInvalid('no kid');
    const key = this.keys.byKid(kid);
    if (!key || key.alg !== alg) throw new JwtInvalid('no key for this kid and alg');
    if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(typ))
      throw new JwtInvalid('unexpected typ');

    const { digest, key: verifier } = signingOptions(alg, key.publicKey);
    const input = Buffer.from(`${head}.${body}`, 'ascii');
    if (!cryptoVerify(digest, input, verifier, Buffer.from(signature, 'base64url')))
      throw new JwtInvalid('bad signature');

    const payload = parseObject(body);
    if (payload.iss !== this.issuer) throw new JwtInvalid('unexpected iss');
    if (options.audience !== undefined) {
      const aud = payload.aud;
      const ok =
        typeof aud === 'string' ? aud === options.audience : Array.isArray(aud) && aud.includes(options.audience);
      if (!ok) throw new JwtInvalid('unexpected aud');
    }
    const now = nowS();
    numericDate(payload, 'iat');
    const nbf = numericDate(payload, 'nbf');
    if (nbf !== undefined && nbf > now) throw new JwtInvalid('not yet valid');
    const exp = numericDate(payload, 'exp');
    if (exp !== undefined && exp <= now && !options.ignoreExpiry) throw new JwtInvalid('expired');
    return { payload: payload as JWTPayload, kid };
  }
}
