import { z } from 'zod';
import { secureUrlProblem } from './urls.js';
import { TOKEN_EXCHANGE } from './vault.js';

export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  TOKEN_EXCHANGE,
] as const;
export const RESPONSE_TYPES = ['code', 'id_token', 'id_token token'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

/** Why a redirect URI cannot be registered (RFC 7591 §2, RFC 9700 §4.1, RFC 8252 §7.3), or undefined. */
export function redirectUriProblem(value: string): string | undefined {
  if (value.includes('*')) return 'must not contain a wildcard';
  if (value.includes('#')) return 'must not contain a fragment (RFC 6749 §3.1.2)';
  return secureUrlProblem(value);
}

const redirectUri = z.string().superRefine((value, ctx) => {
  const problem = redirectUriProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const scopeList = z
  .string()
  .regex(
    /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/,
    'must be space-separated scope tokens (RFC 6749 §3.3)',
  );

export const clientSchema = z
  .strictObject({
    client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'must be 1-128 URL-safe characters'),
    client_name: z.string().max(100).optional(),
    client_secret: z.string().min(16, 'must be at least 16 characters (use a long random value)').optional(),
    redirect_uris: z.array(redirectUri).default([]),
    post_logout_redirect_uris: z.array(redirectUri).default([]),
    grant_types: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']),
    response_types: z.array(z.enum(RESPONSE_TYPES)).default(['code']),
    token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
    scope: scopeList.default('openid profile email offline_access'),
    first_party: z.boolean().default(false),
    /** Audiences this client may ask access tokens for with `resource` (RFC 8707). */
    resources: z.array(z.url()).default([]),
    /** Providers whose stored tokens this client may read by token exchange (RFC 8693). */
    upstream_tokens: z.array(z.string().min(1)).default([]),
    /** Providers whose own sign-in result (from a native SDK) this client may exchange for broker tokens. */
    native_providers: z.array(z.string().min(1)).default([]),
  })
  .transform((client, ctx) => {
    const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
    if (method === 'none' && client.client_secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['token_endpoint_auth_method'],
        message: 'is "none" but a client_secret is set',
      });
    }
    if (method !== 'none' && !client.client_secret) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `is required for ${method}` });
    }
    const needsRedirect =
      client.grant_types.includes('authorization_code') || client.response_types.some((t) => t !== 'code');
    if (needsRedirect && client.redirect_uris.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirect_uris'],
        message: 'needs at least one URI for the authorization code or implicit flow',
      });
    }
    if (method === 'none' && client.grant_types.includes('client_credentials')) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'client_credentials needs a confidential client (RFC 6749 §4.4)',
      });
    }
    if (client.grant_types.includes('password') && (method === 'none' || !client.first_party)) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'password needs a confidential, first_party client (RFC 9700 §2.4)',
      });
    }
    for (const key of ['upstream_tokens', 'native_providers'] as const) {
      if (client[key].length > 0 && !client.grant_types.includes(TOKEN_EXCHANGE)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `needs the grant ${TOKEN_EXCHANGE}` });
      }
    }
    return { ...client, token_endpoint_auth_method: method };
  });

export type ClientConfig = z.output<typeof clientSchema>;

export const clientsSchema = z.array(clientSchema).superRefine((clients, ctx) => {
  const seen = new Set<string>();
  clients.forEach((client, i) => {
    if (seen.has(client.client_id)) {
      ctx.addIssue({ code: 'custom', path: [i, 'client_id'], message: `"${client.client_id}" is used by two clients` });
    }
    seen.add(client.client_id);
  });
});
