import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { loadDefinition } from '../../src/upstream/definition.js';

/**
 * One provider schema (src/config/provider-definition.ts) for a provider file and a deployment
 * entry's inline definition, with one way of reporting problems: the configuration's.
 */

function configProblems(providers: unknown[]): string[] {
  try {
    parseConfig('broker.yaml', JSON.stringify({ issuer: 'https://login.example.com', providers }), {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

function fileProblems(text: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'lb-schema-'));
  writeFileSync(join(dir, 'bad.yaml'), text);
  try {
    loadDefinition('bad', pathToFileURL(`${dir}/`));
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const acme = {
  id: 'acme',
  use: 'oauth2',
  issuer: 'https://acme.example',
  scopes: ['profile'],
  client_id: 'a',
  client_secret: 'b',
  authorization_endpoint: 'https://acme.example/a',
  token_endpoint: 'https://acme.example/t',
  profile: { url: 'https://acme.example/me' },
};

describe('an inline mapping is the provider schema’s mapping', () => {
  it('is checked when the configuration is read, like a provider file’s', () => {
    expect(configProblems([{ ...acme, mapping: { subject: 'id', emial: 'mail' } }])).toEqual([
      'providers[0].mapping: unknown key "emial"',
    ]);
    expect(configProblems([{ ...acme, mapping: { subject: 'id', email_verified_strings: 'yes' } }])).toEqual([
      'providers[0].mapping.email_verified_strings: Invalid input: expected boolean, received string',
    ]);
    expect(fileProblems('name: X\nkind: oidc\nscopes: [openid]\nmapping: { emial: mail }\n')).toEqual([
      'mapping: unknown key "emial"',
    ]);
    expect(configProblems([{ ...acme, mapping: { subject: 'id', email: 'mail' } }])).toEqual([]);
  });
});

describe('a provider file’s problems are reported as the configuration’s are', () => {
  it('a YAML syntax error names its line and column', () => {
    expect(fileProblems('name: X\nkind: [unclosed\n')).toEqual([
      expect.stringMatching(/^YAML syntax error at line \d+, column \d+: /),
    ]);
  });
  it('several unknown keys are named together', () => {
    expect(fileProblems('name: X\nkind: oidc\nscopes: [openid]\nscope: x\ncolour: y\n')).toEqual([
      'unknown keys "scope", "colour"',
    ]);
  });
});
