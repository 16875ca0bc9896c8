import { ConfigError } from '../config/load.js';
import { INLINE_DEFINITION_KEYS, type ProviderEntry } from '../config/providers.js';
import { secureUrlProblem } from '../config/urls.js';
import { loadDefinition, parseDefinition, PROVIDERS_DIR, type Definition } from './definition.js';
import { QUIRKS, type Quirk } from './quirks/index.js';

/**
 * The definition step (definition → client → connector): a deployment entry and its provider
 * file, or the generic definition its inline keys make, become one provider's data. The entry's
 * overrides are applied, placeholders filled, quirks looked up and checked. No network and no
 * openid-client here; a problem throws ConfigError or DefinitionError at start, naming the entry
 * or file, the key and the reason.
 */

export interface DefinitionOptions {
  /** The broker's own issuer: callback URLs are under it. */
  brokerIssuer: string;
  /** Where provider files live; the shipped providers/ directory otherwise. */
  providersDir?: URL;
  /** The configuration file's name, for start-up errors. */
  configFile?: string;
}

/** One configured upstream provider, as data. */
export interface ProviderDefinition {
  id: string;
  entry: ProviderEntry;
  /** The definition with the deployment's overrides applied and placeholders filled. */
  definition: Definition;
  quirks: Quirk[];
  label: string;
  color?: string;
  /** Our callback URL, which the provider redirects to (RFC 6749 §3.1.2). */
  redirectUri: string;
}

/** Our callback for a provider id: where its answers arrive. */
export function callbackUrl(brokerIssuer: string, id: string): string {
  return `${brokerIssuer}/callback/${id}`;
}

/** The place in the configuration an entry's problems are reported under. */
export function entryPath(index: number): string {
  return `providers[${index}]`;
}

export function resolveDefinition(entry: ProviderEntry, index: number, options: DefinitionOptions): ProviderDefinition {
  const where = entryPath(index);
  const generic = entry.use === 'oidc' || entry.use === 'oauth2';
  const file = generic ? `${where} (use: ${entry.use})` : `providers/${entry.use}.yaml`;
  const base = generic
    ? genericDefinition(entry, file)
    : loadDefinition(entry.use, options.providersDir ?? PROVIDERS_DIR);
  const definition = withOverrides(base, entry, generic);
  const problems = fillPlaceholders(definition, entry, `${where} (${file})`);
  const quirks = definition.quirks.map((name) => QUIRKS.get(name)!);
  problems.push(...deploymentProblems(definition, entry, quirks, where, file));
  if (problems.length) throw new ConfigError(options.configFile ?? 'configuration', problems);
  return {
    id: entry.id,
    entry,
    definition,
    quirks,
    label: definition.name,
    ...(definition.color ? { color: definition.color } : {}),
    redirectUri: callbackUrl(options.brokerIssuer, entry.id),
  };
}

/** `use: oidc` / `use: oauth2`: the definition the entry's inline keys describe. */
function genericDefinition(entry: ProviderEntry, file: string): Definition {
  const raw: Record<string, unknown> = {
    name: entry.name ?? entry.id,
    kind: entry.use,
    issuer: entry.issuer,
    scopes: entry.scopes ?? (entry.use === 'oidc' ? ['openid', 'email', 'profile'] : undefined),
  };
  for (const key of INLINE_DEFINITION_KEYS) if (entry[key] !== undefined) raw[key] = entry[key];
  if (entry.use === 'oidc' && entry.authorization_endpoint && entry.token_endpoint && entry.jwks_uri) {
    raw.discovery = false;
  }
  return parseDefinition(file, raw);
}

/** What a deployment may change in a provider file: issuer, scopes, label and colour. */
function withOverrides(definition: Definition, entry: ProviderEntry, generic: boolean): Definition {
  return {
    ...definition,
    ...(entry.issuer && !generic ? { issuer: entry.issuer } : {}),
    ...(entry.scopes ? { scopes: entry.scopes } : {}),
    ...(entry.name ? { name: entry.name } : {}),
    ...(entry.color ? { color: entry.color } : {}),
  };
}

const TEMPLATED = ['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri'] as const;

/** Fills {tenant} and {client_id} in the URLs and profile headers; returns what could not be filled. */
function fillPlaceholders(definition: Definition, entry: ProviderEntry, where: string): string[] {
  const problems: string[] = [];
  const vars: Record<string, string | undefined> = { tenant: entry.tenant ?? 'common', client_id: entry.client_id };
  const fill = (template: string, key: string) =>
    template.replace(/\{([a-z_]+)\}/g, (match, name: string) => {
      const value = vars[name];
      if (value !== undefined) return value;
      problems.push(`${where} ${key}: needs "${name}" in the provider entry`);
      return match;
    });
  for (const key of TEMPLATED) {
    const value = definition[key];
    if (value === undefined) continue;
    definition[key] = fill(value, key);
    const problem = secureUrlProblem(definition[key]);
    if (problem && !problems.length) problems.push(`${where} ${key}: ${problem}`);
  }
  const profile = definition.profile;
  if (profile) {
    const headers = Object.entries(profile.headers ?? {}).map(([k, v]) => [k, fill(v, `profile.headers.${k}`)]);
    definition.profile = {
      ...profile,
      url: fill(profile.url, 'profile.url'),
      ...(profile.headers ? { headers: Object.fromEntries(headers) } : {}),
    };
  }
  return problems;
}

/** What the entry must give for this definition: an issuer left open, a secret, each quirk's needs. */
function deploymentProblems(
  definition: Definition,
  entry: ProviderEntry,
  quirks: Quirk[],
  where: string,
  file: string,
) {
  const problems: string[] = [];
  if (definition.kind === 'oidc' && !definition.issuer) {
    const example = 'e.g. https://your-tenant.example.com';
    problems.push(`${where}.issuer: ${file} leaves the issuer to the deployment: set issuer (${example})`);
  }
  const secretMinted = quirks.some((quirk) => quirk.clientSecret);
  if (definition.token_auth !== 'none' && !entry.client_secret && !secretMinted) {
    problems.push(`${where}.client_secret: is required (${file} uses ${definition.token_auth})`);
  }
  for (const quirk of quirks) {
    for (const problem of quirk.check?.(entry, definition) ?? []) problems.push(`${where} (${quirk.name}): ${problem}`);
  }
  return problems;
}
