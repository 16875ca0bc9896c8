import type { Context } from 'koa';
import type { Client } from '../clients.js';
import type { OAuthContext } from '../context.js';
import type { Params } from '../params.js';

export interface TokenResponse {
  access_token: string;
  /** `Bearer` for ours; an upstream token's own type from token exchange. */
  token_type: string;
  /** Absent only for an upstream token whose provider did not say (RFC 8693 §2.2.1: RECOMMENDED). */
  expires_in?: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  /** Token exchange (RFC 8693 §2.2.1). */
  issued_token_type?: string;
}

/** One grant type of the token endpoint. Client authentication has already happened. */
export interface Grant {
  grantType: string;
  /** False when the grant is switched off in this configuration: unsupported_grant_type. */
  enabled?(oauth: OAuthContext): boolean;
  handle(ctx: Context, client: Client, params: Params, oauth: OAuthContext): Promise<TokenResponse>;
}
