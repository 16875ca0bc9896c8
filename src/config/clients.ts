import { z } from 'zod';
import { secureUrlProblem } from './urls.js';
import { TOKEN_EXCHANGE } from './vault.js';

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'password',
  DEVICE_CODE_GRANT,
  TOKEN_EXCHANGE,
] as const;
export const RESPONSE_TYPES = ['code', 'id_token', 'id_token token'] as const;
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
type AuthMethodName = (typeof AUTH_METHODS)[number];

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

/** A client's public keys (RFC 7517 §5); private parts are refused, they never belong here. */
const publicJwks = z.strictObject({
  keys: z
    .array(
      z.looseObject({ kty: z.string() }).refine((key) => !('d' in key) && !('k' in key), {
        message: 'must hold public keys only (no "d" or "k" member)',
      }),
    )
    .min(1),
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
    /** Unset on a confidential client: client_secret_basic and client_secret_post are both accepted. */
    token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
    /** private_key_jwt (RFC 7523): the client's public keys inline... */
    jwks: publicJwks.optional(),
    /** ...or where to fetch them (https, or http on loopback). */
    jwks_uri: z
      .string()
      .superRefine((value, ctx) => {
        const problem = secureUrlProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /** pairwise: each sector sees its own `sub` for a user (OIDC Core §8.1); needs `subjects.pairwise_salt`. */
    subject_type: z.enum(['public', 'pairwise']).default('public'),
    /** The sector of a pairwise client (its host), listing every redirect URI; default: the redirect URIs' host. */
    sector_identifier_uri: z
      .string()
      .superRefine((value, ctx) => {
        const problem = secureUrlProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    /**
     * `optional` lets a confidential client leave PKCE out (RFC 9700 section 2.1.1): it then
     * needs a nonce when it asks for openid. Public clients always use PKCE.
     */
    pkce: z.enum(['required', 'optional']).default('required'),
    scope: scopeList.default('openid profile email offline_access'),
    first_party: z.boolean().default(false),
    /** Audiences this client may ask access tokens for with `resource` (RFC 8707). */
    resources: z.array(z.url()).default([]),
    /** Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed when a session ends. */
    backchannel_logout_uri: redirectUri.optional(),
    backchannel_logout_session_required: z.boolean().default(false),
    /** Providers whose stored tokens this client may read by token exchange (RFC 8693). */
    upstream_tokens: z.array(z.string().min(1)).default([]),
    /** Providers whose own sign-in result (from a native SDK) this client may exchange for broker tokens. */
    native_providers: z.array(z.string().min(1)).default([]),
  })
  .transform((client, ctx) => {
    const method = client.token_endpoint_auth_method ?? (client.client_secret ? 'client_secret_basic' : 'none');
    // An unpinned confidential client may send its secret either way (RFC 6749 section 2.3.1).
    const authMethods: AuthMethodName[] =
      client.token_endpoint_auth_method === undefined && method !== 'none'
        ? ['client_secret_basic', 'client_secret_post']
        : [method];
    if (method === 'none' && client.client_secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['token_endpoint_auth_method'],
        message: 'is "none" but a client_secret is set',
      });
    }
    const keyed = client.jwks !== undefined || client.jwks_uri !== undefined;
    if (method === 'private_key_jwt') {
      if (client.client_secret) {
        ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'is not used with private_key_jwt' });
      }
      if (client.jwks && client.jwks_uri) {
        ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'give jwks or jwks_uri, not both' });
      } else if (!keyed) {
        ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: 'private_key_jwt needs jwks or jwks_uri' });
      }
    } else if (keyed) {
      ctx.addIssue({
        code: 'custom',
        path: [client.jwks ? 'jwks' : 'jwks_uri'],
        message: 'is only used with token_endpoint_auth_method: private_key_jwt',
      });
    }
    if (method !== 'none' && method !== 'private_key_jwt' && !client.client_secret) {
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
    for (const [path, message] of pairwiseProblems(client)) ctx.addIssue({ code: 'custom', path: [path], message });
    if (client.pkce === 'optional' && method === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['pkce'],
        message: 'may be "optional" only for a confidential client (RFC 9700 section 2.1.1)',
      });
    }
    for (const key of ['upstream_tokens', 'native_providers'] as const) {
      if (client[key].length > 0 && !client.grant_types.includes(TOKEN_EXCHANGE)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `needs the grant ${TOKEN_EXCHANGE}` });
      }
    }
    return { ...client, token_endpoint_auth_method: method, auth_methods: authMethods };
  });

export type ClientConfig = z.output<typeof clientSchema>;

/** What is wrong with a client's pairwise settings (OIDC Core §8.1), as [key, message] pairs. */
function pairwiseProblems(client: {
  subject_type: 'public' | 'pairwise';
  sector_identifier_uri?: string;
  redirect_uris: string[];
}): [string, string][] {
  if (client.subject_type !== 'pairwise') {
    return client.sector_identifier_uri ? [['sector_identifier_uri', 'is only used with subject_type: pairwise']] : [];
  }
  if (client.sector_identifier_uri) return [];
  const hosts = new Set(client.redirect_uris.map((uri) => (URL.canParse(uri) ? new URL(uri).hostname : uri)));
  if (hosts.size === 0) return [['subject_type', 'pairwise needs redirect_uris or a sector_identifier_uri']];
  if (hosts.size > 1) {
    const message = 'the redirect_uris have several hosts: a pairwise client then needs a sector_identifier_uri';
    return [['sector_identifier_uri', message]];
  }
  return [];
}

/** The sector of a pairwise client: the host of its sector_identifier_uri, or of its redirect URIs. */
export function sectorOf(client: { sector_identifier_uri?: string; redirect_uris: string[] }): string {
  return new URL(client.sector_identifier_uri ?? client.redirect_uris[0]!).hostname;
}

export const clientsSchema = z.array(clientSchema).superRefine((clients, ctx) => {
  const seen = new Set<string>();
  clients.forEach((client, i) => {
    if (seen.has(client.client_id)) {
      ctx.addIssue({ code: 'custom', path: [i, 'client_id'], message: `"${client.client_id}" is used by two clients` });
    }
    seen.add(client.client_id);
  });
});
