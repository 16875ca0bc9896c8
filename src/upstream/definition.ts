import { readFileSync } from 'node:fs';
import { ConfigError, parseYamlText, validate } from '../config/load.js';
import { definitionSchema, type Definition } from '../config/provider-definition.js';

/**
 * Provider files, `providers/<name>.yaml`: read and checked against the one provider schema
 * (src/config/provider-definition.ts), with the configuration's error formatting.
 */

export type { Definition, Mapping } from '../config/provider-definition.js';

/**
 * A provider file that does not validate: the message names the file, the key and the reason.
 * A ConfigError, so the CLI stops with the same exit status as for a bad configuration.
 */
export class DefinitionError extends ConfigError {}

export function parseDefinition(file: string, raw: unknown): Definition {
  return validate(definitionSchema, file, raw, DefinitionError);
}

/** The shipped provider files, next to src/ and dist/ alike. */
export const PROVIDERS_DIR = new URL('../../providers/', import.meta.url);

const NO_FILE = 'no such provider file (use: names a file in providers/, or oidc, oauth2 or dev)';

export function loadDefinition(name: string, dir: URL = PROVIDERS_DIR): Definition {
  const file = `providers/${name}.yaml`;
  let text: string;
  try {
    text = readFileSync(new URL(`${name}.yaml`, dir), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DefinitionError(file, [code === 'ENOENT' ? NO_FILE : `cannot read it (${code ?? 'error'})`]);
  }
  return parseDefinition(file, parseYamlText(file, text, DefinitionError));
}

/** An oidc provider whose endpoints are not all given is found through discovery (OIDC Discovery §4). */
export function usesDiscovery(definition: Definition): boolean {
  const { kind, discovery, authorization_endpoint, token_endpoint, jwks_uri } = definition;
  return kind === 'oidc' && discovery && !(authorization_endpoint && token_endpoint && jwks_uri);
}
