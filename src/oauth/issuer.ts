import { randomUUID } from 'node:crypto';
import type { TokensConfig } from '../config/tokens.js';
import { halfHash } from './crypto.js';
import { SEALED_USER_CLAIM } from './subjects.js';
import { CLIENT_GENERATION_CLAIM } from './clients.js';
import type { Jwt } from './jwt.js';
import { nowS } from '../lib/clock.js';

export interface AccessTokenInput {
  clientId: string;
  /** The user id, or the client id for client_credentials (RFC 9068 §2.2). */
  subject: string;
  scope: string;
  audience: string;
  grantId?: string;
  authTime?: number;
  /** A pairwise client's user, sealed (subjects.ts): userinfo finds the user by it. */
  sealedUser?: string;
  /** A store client's generation (clients.ts CLIENT_GENERATION_CLAIM). */
  clientGeneration?: string;
}

export interface IdTokenInput {
  clientId: string;
  subject: string;
  authTime: number;
  nonce?: string;
  sid?: string;
  claims: Record<string, unknown>;
  accessToken?: string;
}

/** Mints the broker's JWTs: RFC 9068 access tokens and OIDC ID tokens. */
export class TokenIssuer {
  constructor(
    private readonly jwt: Jwt,
    private readonly tokens: TokensConfig,
  ) {}

  get issuer(): string {
    return this.jwt.issuer;
  }

  async accessToken(input: AccessTokenInput): Promise<{ token: string; expiresIn: number }> {
    const iat = nowS();
    const payload: Record<string, unknown> = {
      iss: this.jwt.issuer,
      sub: input.subject,
      aud: input.audience,
      client_id: input.clientId,
      scope: input.scope,
      jti: randomUUID(),
      iat,
      exp: iat + this.tokens.access_token_ttl_s,
    };
    if (input.authTime !== undefined) payload.auth_time = input.authTime;
    if (input.grantId) payload.grant_id = input.grantId;
    if (input.sealedUser) payload[SEALED_USER_CLAIM] = input.sealedUser;
    if (input.clientGeneration) payload[CLIENT_GENERATION_CLAIM] = input.clientGeneration;
    return { token: await this.jwt.sign(payload, 'at+jwt'), expiresIn: this.tokens.access_token_ttl_s };
  }

  async idToken(input: IdTokenInput): Promise<string> {
    const iat = nowS();
    const payload: Record<string, unknown> = {
      ...input.claims,
      iss: this.jwt.issuer,
      sub: input.subject,
      aud: input.clientId,
      azp: input.clientId,
      iat,
      exp: iat + this.tokens.id_token_ttl_s,
      auth_time: input.authTime,
    };
    if (input.nonce !== undefined) payload.nonce = input.nonce;
    if (input.sid !== undefined) payload.sid = input.sid;
    if (input.accessToken !== undefined) payload.at_hash = halfHash(input.accessToken, this.jwt.alg);
    return this.jwt.sign(payload, 'JWT');
  }
}
