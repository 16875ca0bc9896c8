import { z } from 'zod';
import { QUIRK_NAMES } from './quirk-names.js';
import { secureUrlProblem } from './urls.js';

/**
 * The provider schema: how the broker talks to one provider. A provider file
 * (`providers/<name>.yaml`, read by src/upstream/definition.ts) is a whole definition; a
 * deployment entry (src/config/providers.ts) takes some of the same keys, inline for the generic
 * kinds or as overrides. Each key is defined once, here, and both use it. Data, not code: the few
 * real departures from the specs are named quirks. URLs may hold placeholders filled from the
 * deployment entry: {tenant}, {client_id}.
 */

/** A URL that may hold `{tenant}`-style placeholders, checked once they are filled with a sample. */
export const urlTemplate = z.string().superRefine((value, ctx) => {
  const problem = secureUrlProblem(value.replace(/\{[a-z_]+\}/g, 'x'));
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A claim path (`email`, `data.id`, `picture.data.url`) or a template (`{tid}:{oid}`). */
const mappingValue = z.string().min(1);

export const mappingSchema = z.strictObject({
  subject: mappingValue.optional(),
  email: mappingValue.optional(),
  /** A claim that must be the boolean true; `never` when the provider has no such signal. */
  email_verified: mappingValue.optional(),
  /** Accept the string "true" too (Apple sends both forms). */
  email_verified_strings: z.boolean().optional(),
  name: mappingValue.optional(),
  given_name: mappingValue.optional(),
  family_name: mappingValue.optional(),
  preferred_username: mappingValue.optional(),
  picture: mappingValue.optional(),
  locale: mappingValue.optional(),
});
export type Mapping = z.infer<typeof mappingSchema>;

/** Keys with the same meaning in a provider file and a deployment entry. */
export const providerKeys = {
  /** Button label. */
  name: z.string().min(1).max(60),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a #rrggbb colour'),
  authorization_endpoint: urlTemplate,
  token_endpoint: urlTemplate,
  userinfo_endpoint: urlTemplate,
  jwks_uri: urlTemplate,
  token_auth: z.enum(['client_secret_basic', 'client_secret_post', 'none']),
  pkce: z.enum(['S256', 'none']),
  /** oauth2: the profile request. */
  profile: z.strictObject({
    url: urlTemplate,
    headers: z.record(z.string(), z.string()).optional(),
    query: z.record(z.string(), z.string()).optional(),
  }),
  mapping: mappingSchema,
};

/** What an oauth2 provider cannot do without (it has no discovery and no ID token). */
export const OAUTH2_REQUIRED = ['issuer', 'authorization_endpoint', 'token_endpoint', 'profile'] as const;
/** What an oidc provider without discovery must give instead. */
const STATIC_OIDC_REQUIRED = ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const;

export const definitionSchema = z
  .strictObject({
    name: providerKeys.name,
    color: providerKeys.color.optional(),
    /** oidc: ID token verified, discovery from `issuer` unless endpoints are given; oauth2: profile API only. */
    kind: z.enum(['oidc', 'oauth2']),
    /** oidc: the exact issuer (may be left to the deployment); oauth2: a pinned pseudo-issuer. */
    issuer: urlTemplate.optional(),
    /** oidc without discovery: give the endpoints below. */
    discovery: z.boolean().default(true),
    authorization_endpoint: providerKeys.authorization_endpoint.optional(),
    token_endpoint: providerKeys.token_endpoint.optional(),
    userinfo_endpoint: providerKeys.userinfo_endpoint.optional(),
    jwks_uri: providerKeys.jwks_uri.optional(),
    /** The provider sends `iss` in the authorization response (RFC 9207); checked then. */
    iss_parameter: z.boolean().default(false),
    scopes: z.array(z.string().min(1)).min(1),
    token_auth: providerKeys.token_auth.default('client_secret_basic'),
    pkce: providerKeys.pkce.default('S256'),
    /** Pinned ID-token signing algorithm (RFC 8725 §3.1). */
    id_token_alg: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']).default('RS256'),
    response_mode: z.enum(['query', 'form_post']).default('query'),
    authorization_params: z.record(z.string(), z.string()).optional(),
    /**
     * oidc: also read the userinfo endpoint when there is one (its `sub` must equal the ID
     * token's). With the code flow, scope-requested claims may be there only (OIDC Core §5.4).
     */
    userinfo: z.boolean().default(true),
    profile: providerKeys.profile.optional(),
    mapping: providerKeys.mapping.default({}),
    quirks: z.array(z.enum(QUIRK_NAMES)).default([]),
  })
  .superRefine((def, ctx) => {
    const require = (keys: readonly (keyof typeof def)[], why: string) => {
      for (const key of keys)
        if (!def[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required ${why}` });
    };
    if (def.kind === 'oauth2') {
      require(OAUTH2_REQUIRED, 'for kind: oauth2');
      if (!def.mapping.subject) {
        ctx.addIssue({ code: 'custom', path: ['mapping', 'subject'], message: 'is required for kind: oauth2' });
      }
    }
    if (def.kind === 'oidc' && !def.discovery) require(STATIC_OIDC_REQUIRED, 'with discovery: false');
  });

export type Definition = z.infer<typeof definitionSchema>;
