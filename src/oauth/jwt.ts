import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { SigningKeys } from './keys.js';

/** Signs and verifies the broker's own JWTs. Keys come from memory: no store round trip. */
export class Jwt {
  #jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  #jwksFor: string | undefined;

  constructor(
    private readonly keys: SigningKeys,
    readonly issuer: string,
  ) {}

  get alg(): string {
    return this.keys.current().alg;
  }

  async sign(payload: JWTPayload, typ: 'JWT' | 'at+jwt' | 'logout+jwt'): Promise<string> {
    const key = this.keys.current();
    return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, typ }).sign(key.key);
  }

  /** Verifies signature, `iss`, `exp` and the `typ` header (RFC 9068 §4: at+jwt for access tokens). */
  async verify(
    token: string,
    typ: 'JWT' | 'at+jwt',
    options: { audience?: string; ignoreExpiry?: boolean } = {},
  ): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.#keySet(), {
      issuer: this.issuer,
      typ,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options.ignoreExpiry ? { currentDate: new Date(0) } : {}),
    });
    return payload;
  }

  #keySet() {
    const jwks = this.keys.jwks();
    const fingerprint = jwks.keys.map((k) => k.kid).join(',');
    if (!this.#jwks || this.#jwksFor !== fingerprint) {
      this.#jwks = createLocalJWKSet(jwks);
      this.#jwksFor = fingerprint;
    }
    return this.#jwks;
  }
}
