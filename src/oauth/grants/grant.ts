import type { Context } from 'koa';
import type { Client } from '../clients.js';
import type { OAuthContext } from '../context.js';
import type { Params } from '../params.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
}

/** One grant type of the token endpoint. Client authentication has already happened. */
export interface Grant {
  grantType: string;
  /** False when the grant is switched off in this configuration: unsupported_grant_type. */
  enabled?(oauth: OAuthContext): boolean;
  handle(ctx: Context, client: Client, params: Params, oauth: OAuthContext): Promise<TokenResponse>;
}
