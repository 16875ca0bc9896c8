import { z } from 'zod';
import { OAUTH2_REQUIRED, providerKeys } from './provider-definition.js';
import { secureUrlProblem } from './urls.js';

/**
 * One entry of `providers:` in the broker configuration: which provider definition to use
 * (`providers/<use>.yaml`, or the generic kinds `oidc`, `oauth2` and `dev`) and this
 * deployment's credentials. The keys it shares with a provider file come from the one provider
 * schema (src/config/provider-definition.ts); the files themselves are read by upstream/ at start.
 */

const secureUrl = z.string().superRefine((value, ctx) => {
  const problem = secureUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** Compared exactly as written (RFC 9207 §2.4): Auth0's issuer keeps its trailing slash. */
const issuerUrl = secureUrl.superRefine((value, ctx) => {
  if (value.includes('?') || value.includes('#')) {
    ctx.addIssue({ code: 'custom', message: 'must not have a query or fragment' });
  }
});

export const GENERIC_KINDS = ['oidc', 'oauth2', 'dev'] as const;

/** Keys only the generic `oauth2`/`oidc` kinds take inline (a provider file carries them otherwise). */
export const INLINE_DEFINITION_KEYS = [
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'token_auth',
  'pkce',
  'profile',
  'mapping',
] as const;

export const providerEntrySchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 characters of a-z, 0-9, "-" and "_" (it appears in URLs)'),
    use: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must name a file in providers/ (without .yaml), or oidc, oauth2 or dev'),
    client_id: z.string().min(1).optional(),
    client_secret: z.string().min(1).optional(),
    issuer: issuerUrl.optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope token (RFC 6749 §3.3)'))
      .min(1)
      .optional(),
    name: providerKeys.name.optional(),
    color: providerKeys.color.optional(),
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'a tenant GUID, a domain, common, organizations or consumers')
      .optional(),
    allowed_tenants: z
      .array(z.string().regex(/^[0-9a-f-]{36}$/, 'a tenant id (GUID)'))
      .min(1)
      .optional(),
    apple: z
      .strictObject({
        team_id: z.string().min(1),
        key_id: z.string().min(1),
        private_key: z.string().includes('PRIVATE KEY', { message: 'must be the PEM text of the .p8 key' }),
      })
      .optional(),
    timeout_ms: z.coerce.number().int().min(100).max(60_000).default(10_000),
    /** Profile fields at each login: force overwrites them from this provider, import only fills gaps. */
    sync: z.enum(['import', 'force']).default('force'),
    /** Auto-link a new identity to the user with the same email, when both sides verified it. */
    link_by_email: z.boolean().default(false),
    // Inline definition (only with use: oauth2 / oidc).
    authorization_endpoint: providerKeys.authorization_endpoint.optional(),
    token_endpoint: providerKeys.token_endpoint.optional(),
    userinfo_endpoint: providerKeys.userinfo_endpoint.optional(),
    jwks_uri: providerKeys.jwks_uri.optional(),
    token_auth: providerKeys.token_auth.optional(),
    pkce: providerKeys.pkce.optional(),
    profile: providerKeys.profile.optional(),
    mapping: providerKeys.mapping.optional(),
    /** use: oidc only: forward password grant requests to this provider (RFC 6749 §4.3). */
    password_grant: z.boolean().default(false),
    /** Keep this provider's tokens (encrypted, needs `token_vault`) for apps listing it in `upstream_tokens`. */
    store_tokens: z.boolean().default(false),
    /** Native sign-in (token exchange): the audiences, besides client_id, of the provider's ID tokens we accept. */
    native_client_ids: z.array(z.string().min(1)).default([]),
    /** Native sign-in: an ID token issued longer ago than this (iat) is refused. */
    native_max_age_s: z.coerce.number().int().min(30).max(86_400).default(600),
  })
  .superRefine((entry, ctx) => {
    if (entry.use !== 'dev' && !entry.client_id) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'is required' });
    }
    if (entry.use === 'oidc' && !entry.issuer) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'is required with use: oidc (discovery starts there)',
      });
    }
    if (entry.store_tokens && entry.use === 'dev') {
      ctx.addIssue({ code: 'custom', path: ['store_tokens'], message: 'the dev form has no tokens to store' });
    }
    if (entry.password_grant && entry.use !== 'oidc') {
      ctx.addIssue({
        code: 'custom',
        path: ['password_grant'],
        message: 'is only for use: oidc (its ID token is verified)',
      });
    }
    if (entry.use === 'oauth2') {
      // An entry has no defaults to fall back on: its scopes and mapping are required too.
      for (const key of [...OAUTH2_REQUIRED, 'scopes', 'mapping'] as const) {
        if (!entry[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required with use: oauth2' });
      }
      if (entry.mapping && !entry.mapping.subject) {
        ctx.addIssue({ code: 'custom', path: ['mapping', 'subject'], message: 'is required with use: oauth2' });
      }
    }
    if (entry.use !== 'oauth2' && entry.use !== 'oidc') {
      for (const key of INLINE_DEFINITION_KEYS) {
        if (entry[key] !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `is only for use: oauth2 or oidc (providers/${entry.use}.yaml defines it)`,
          });
        }
      }
    }
  });

export const providersSchema = z
  .array(providerEntrySchema)
  .default([])
  .superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, index) => {
      if (seen.has(entry.id))
        ctx.addIssue({
          code: 'custom',
          path: [index, 'id'],
          message: `"${entry.id}" is used twice; ids must be unique`,
        });
      seen.add(entry.id);
    });
  });

export type ProviderEntry = z.infer<typeof providerEntrySchema>;
