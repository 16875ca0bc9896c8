import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/load.js';
import { secureUrlProblem } from '../config/urls.js';
import { QUIRK_NAMES } from './quirks/names.js';

/**
 * A provider definition, `providers/<name>.yaml`: how to talk to one provider. Data, not code;
 * the few real departures from the specs are named quirks (src/upstream/quirks/).
 * URLs may hold placeholders filled from the deployment entry: {tenant}, {client_id}.
 */

const urlTemplate = z.string().superRefine((value, ctx) => {
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

export const definitionSchema = z
  .strictObject({
    /** Button label. */
    name: z.string().min(1).max(60),
    color: z
      .string()
      .regex(/^#[0-9a-fA-F]{6}$/, 'must be a #rrggbb colour')
      .optional(),
    /** oidc: ID token verified, discovery from `issuer` unless endpoints are given; oauth2: profile API only. */
    kind: z.enum(['oidc', 'oauth2']),
    /** oidc: the exact issuer (may be left to the deployment); oauth2: a pinned pseudo-issuer. */
    issuer: urlTemplate.optional(),
    /** oidc without discovery: give the endpoints below. */
    discovery: z.boolean().default(true),
    authorization_endpoint: urlTemplate.optional(),
    token_endpoint: urlTemplate.optional(),
    userinfo_endpoint: urlTemplate.optional(),
    jwks_uri: urlTemplate.optional(),
    /** The provider sends `iss` in the authorization response (RFC 9207); checked then. */
    iss_parameter: z.boolean().default(false),
    scopes: z.array(z.string().min(1)).min(1),
    token_auth: z.enum(['client_secret_basic', 'client_secret_post', 'none']).default('client_secret_basic'),
    pkce: z.enum(['S256', 'none']).default('S256'),
    /** Pinned ID-token signing algorithm (RFC 8725 §3.1). */
    id_token_alg: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']).default('RS256'),
    response_mode: z.enum(['query', 'form_post']).default('query'),
    authorization_params: z.record(z.string(), z.string()).optional(),
    /**
     * oidc: also read the userinfo endpoint when there is one (its `sub` must equal the ID
     * token's). With the code flow, scope-requested claims may be there only (OIDC Core §5.4).
     */
    userinfo: z.boolean().default(true),
    /** oauth2: the profile request. */
    profile: z
      .strictObject({
        url: urlTemplate,
        headers: z.record(z.string(), z.string()).optional(),
        query: z.record(z.string(), z.string()).optional(),
      })
      .optional(),
    mapping: mappingSchema.default({}),
    quirks: z.array(z.enum(QUIRK_NAMES)).default([]),
  })
  .superRefine((def, ctx) => {
    if (def.kind === 'oauth2') {
      for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'profile'] as const) {
        if (!def[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required for kind: oauth2' });
      }
      if (!def.mapping.subject) ctx.addIssue({ code: 'custom', path: ['mapping', 'subject'], message: 'is required for kind: oauth2' });
    }
    if (def.kind === 'oidc' && !def.discovery) {
      for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) {
        if (!def[key]) ctx.addIssue({ code: 'custom', path: [key], message: 'is required with discovery: false' });
      }
    }
  });

export type Definition = z.infer<typeof definitionSchema>;

/**
 * A provider file that does not validate: the message names the file, the key and the reason.
 * A ConfigError, so the CLI stops with the same exit status as for a bad configuration.
 */
export class DefinitionError extends ConfigError {}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(top level)';
}

export function parseDefinition(file: string, raw: unknown): Definition {
  const result = definitionSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  throw new DefinitionError(
    file,
    result.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.path.length ? `${pathText(issue.path)}: ` : ''}unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : `${pathText(issue.path)}: ${issue.message}`,
    ),
  );
}

/** The shipped provider files, next to src/ and dist/ alike. */
export const PROVIDERS_DIR = new URL('../../providers/', import.meta.url);

export function loadDefinition(name: string, dir: URL = PROVIDERS_DIR): Definition {
  const url = new URL(`${name}.yaml`, dir);
  const file = `providers/${name}.yaml`;
  let text: string;
  try {
    text = readFileSync(url, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DefinitionError(file, [code === 'ENOENT' ? 'no such provider file (use: names a file in providers/, or oidc, oauth2 or dev)' : `cannot read it (${code ?? 'error'})`]);
  }
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new DefinitionError(file, doc.errors.map((e) => `YAML syntax error: ${e.message.split('\n')[0]}`));
  }
  return parseDefinition(file, doc.toJS());
}
