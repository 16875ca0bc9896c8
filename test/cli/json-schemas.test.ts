import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { jsonSchemaFiles, SCHEMA_DIR } from '../../src/cli/json-schemas.js';
import { QUIRK_NAMES } from '../../src/upstream/quirks/names.js';
import { validate } from '../support/json-schema-validate.js';
import { ROOT } from '../support/built.js';

const generated = jsonSchemaFiles();
const committed = (name: string) => readFileSync(new URL(name, SCHEMA_DIR), 'utf8');
const schema = (name: string) => JSON.parse(generated[name]!) as Record<string, unknown>;
const yamlFiles = (dir: string) =>
  readdirSync(`${ROOT}${dir}`)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `${dir}/${f}`);

/** Every YAML file the project ships, and the schema it names. */
const REFERENCES: [string, string][] = [
  ...yamlFiles('providers').map((f): [string, string] => [f, 'provider.schema.json']),
  ...yamlFiles('config').map((f): [string, string] => [f, 'broker-config.schema.json']),
];

describe('schema/ (JSON Schemas generated from the zod schemas)', () => {
  it('the committed files are what the code generates (regenerate with: npm run schemas)', () => {
    expect(
      readdirSync(SCHEMA_DIR)
        .filter((name) => name.endsWith('.json'))
        .sort(),
    ).toEqual(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated)) expect(committed(name), `schema/${name}`).toBe(text);
  });

  it('lists every quirk, and the input shape (keys with defaults are optional)', () => {
    const provider = schema('provider.schema.json');
    const properties = provider.properties as Record<string, Record<string, unknown>>;
    expect((properties.quirks!.items as { enum: string[] }).enum).toEqual([...QUIRK_NAMES]);
    expect(provider.required).toEqual(['name', 'kind', 'scopes']);
    expect(provider.additionalProperties).toBe(false);
  });

  it.each(REFERENCES)('%s names %s on its first line', (file, name) => {
    const first = readFileSync(`${ROOT}${file}`, 'utf8').split('\n')[0];
    expect(first).toBe(`# yaml-language-server: $schema=../schema/${name}`);
  });

  it.each(REFERENCES)('%s is valid against %s', (file, name) => {
    expect(validate(schema(name), parse(readFileSync(`${ROOT}${file}`, 'utf8')))).toEqual([]);
  });

  it('refuses what the broker refuses: an unknown key, a bad enum, a missing key', () => {
    const provider = schema('provider.schema.json');
    const base = { name: 'X', kind: 'oidc', scopes: ['openid'] };
    expect(validate(provider, base)).toEqual([]);
    expect(validate(provider, { ...base, scope: ['openid'] })).toEqual(['scope: unknown key']);
    expect(validate(provider, { ...base, pkce: 'plain' })).toEqual(['pkce: not one of the allowed values']);
    expect(validate(provider, { ...base, quirks: ['nope'] })).toEqual(['quirks[0]: not one of the allowed values']);
    expect(validate(provider, { name: 'X', kind: 'oidc' })).toEqual(['(root): scopes is required']);
    const config = schema('broker-config.schema.json');
    const badPort = { issuer: 'https://a.example', listen: { port: 'eighty' } };
    expect(validate(config, badPort)).toEqual(['listen.port: matches no alternative']);
  });

  it('takes ${VAR} references where the configuration is interpolated before validation', () => {
    const config = schema('broker-config.schema.json');
    const raw = {
      issuer: 'https://a.example',
      listen: { port: '${PORT:-4000}' },
      store: { redis: '${REDIS_URL}' },
      log: { level: '${LEVEL}' },
    };
    expect(validate(config, raw)).toEqual([]);
    const badRedis = { ...raw, store: { redis: 'http://nope' } };
    expect(validate(config, badRedis)).toEqual(['store.redis: matches no alternative']);
  });
});
