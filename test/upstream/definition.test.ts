import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { providersSchema } from '../../src/config/providers.js';
import { DefinitionError, loadDefinition, PROVIDERS_DIR } from '../../src/upstream/definition.js';
import { effectiveMapping, lookup, mapIdentity, resolve } from '../../src/upstream/mapping.js';
import { resolveDefinition } from '../../src/upstream/resolve.js';

const shipped = readdirSync(PROVIDERS_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.slice(0, -5));

function tempDir(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'lb-providers-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return pathToFileURL(`${dir}/`);
}

function configProblems(providers: unknown[]): string[] {
  try {
    parseConfig('broker.yaml', JSON.stringify({ issuer: 'https://login.example.com', providers }), {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('shipped provider files', () => {
  for (const name of shipped) {
    it(`${name}.yaml validates and says what its docs say about the id and the email`, () => {
      const def = loadDefinition(name);
      expect(def.name.length).toBeGreaterThan(0);
      const text = readFileSync(new URL(`${name}.yaml`, PROVIDERS_DIR), 'utf8');
      expect(text).toMatch(/^# .*stable id/im);
      expect(text).toMatch(/^# .*email/im);
      if (def.kind === 'oauth2') expect(effectiveMapping(def).subject).toBeTruthy();
    });
  }
  it('a standards OIDC provider is about ten lines', () => {
    const text = readFileSync(new URL('keycloak.yaml', PROVIDERS_DIR), 'utf8');
    expect(text.split('\n').filter((l) => l.trim() && !l.startsWith('#')).length).toBeLessThanOrEqual(10);
  });
});

describe('a bad provider file fails at start, naming file, key and reason', () => {
  it('unknown key', () => {
    const dir = tempDir({
      'bad.yaml': 'name: Bad\nkind: oidc\nissuer: https://idp.example\nscopes: [openid]\nscope: [x]\n',
    });
    expect(() => loadDefinition('bad', dir)).toThrow(DefinitionError);
    expect(() => loadDefinition('bad', dir)).toThrow(/providers\/bad\.yaml[\s\S]*unknown key "scope"/);
  });
  it('wrong kind, unknown quirk, http endpoint off loopback', () => {
    const dir = tempDir({
      'bad.yaml': 'name: Bad\nkind: saml\nscopes: [x]\nquirks: [teleport]\ntoken_endpoint: http://idp.example/token\n',
    });
    const message = (() => {
      try {
        loadDefinition('bad', dir);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toMatch(/kind:/);
    expect(message).toMatch(/quirks\[0\]:/);
    expect(message).toMatch(/token_endpoint: must use https/);
  });
  it('oauth2 without a subject mapping', () => {
    const dir = tempDir({
      'bad.yaml':
        'name: Bad\nkind: oauth2\nissuer: https://x.example\nauthorization_endpoint: ' +
        'https://x.example/a\ntoken_endpoint: https://x.example/t\nscopes: [x]\n' +
        'profile: { url: https://x.example/me }\n',
    });
    expect(() => loadDefinition('bad', dir)).toThrow(/mapping\.subject: is required/);
  });
  it('YAML syntax and a missing file', () => {
    const dir = tempDir({ 'bad.yaml': 'name: [unclosed\n' });
    expect(() => loadDefinition('bad', dir)).toThrow(/providers\/bad\.yaml[\s\S]*YAML syntax error/);
    expect(() => loadDefinition('nope', dir)).toThrow(/providers\/nope\.yaml[\s\S]*no such provider file/);
  });
  it('a quirk check fails at start: facebook without a secret', () => {
    const [entry] = providersSchema.parse([{ id: 'fb', use: 'facebook', client_id: 'x' }]);
    const resolve = () => resolveDefinition(entry!, 0, { brokerIssuer: 'https://login.example.com' });
    expect(resolve).toThrow(/providers\[0\]\.client_secret: is required/);
  });
  it('okta without an issuer fails at start', () => {
    const [entry] = providersSchema.parse([{ id: 'okta', use: 'okta', client_id: 'x', client_secret: 'y' }]);
    const resolve = () => resolveDefinition(entry!, 0, { brokerIssuer: 'https://login.example.com' });
    expect(resolve).toThrow(/providers\[0\]\.issuer/);
  });
});

describe('deployment entries (config providers:)', () => {
  it("accepts the issue's example", () => {
    expect(
      configProblems([
        { id: 'github', use: 'github', client_id: 'a', client_secret: 'b', scopes: ['read:user', 'user:email'] },
        {
          id: 'corp',
          use: 'oidc',
          issuer: 'https://idp.example.com',
          client_id: 'broker',
          client_secret: 'c',
          name: 'Corp SSO',
        },
      ]),
    ).toEqual([]);
  });
  it('unknown keys name their path', () => {
    expect(configProblems([{ id: 'g', use: 'google', client_id: 'a', client_secret: 'b', secret: 'x' }])).toEqual([
      'providers[0]: unknown key "secret"',
    ]);
  });
  it('ids must be URL-safe and unique', () => {
    expect(configProblems([{ id: 'Bad Id', use: 'google', client_id: 'a', client_secret: 'b' }]).join()).toMatch(
      /providers\[0\]\.id/,
    );
    expect(
      configProblems([
        { id: 'g', use: 'google', client_id: 'a', client_secret: 'b' },
        { id: 'g', use: 'github', client_id: 'a', client_secret: 'b' },
      ]),
    ).toEqual(['providers[1].id: "g" is used twice; ids must be unique']);
  });
  it("issuers are kept exactly as written (Auth0's trailing slash), without query or fragment", () => {
    expect(
      configProblems([
        { id: 'a', use: 'auth0', issuer: 'https://tenant.auth0.com/', client_id: 'a', client_secret: 'b' },
      ]),
    ).toEqual([]);
    expect(
      configProblems([
        { id: 'a', use: 'oidc', issuer: 'https://idp.example.com/?x=1', client_id: 'a', client_secret: 'b' },
      ]).join(),
    ).toMatch(/query or fragment/);
  });
  it('http issuers only for loopback hosts', () => {
    expect(
      configProblems([
        { id: 'c', use: 'oidc', issuer: 'http://idp.example.com', client_id: 'a', client_secret: 'b' },
      ]).join(),
    ).toMatch(/providers\[0\]\.issuer: must use https/);
    expect(
      configProblems([{ id: 'c', use: 'oidc', issuer: 'http://127.0.0.1:9000', client_id: 'a', client_secret: 'b' }]),
    ).toEqual([]);
  });
  it('oidc needs an issuer; oauth2 needs endpoints and a mapping; inline keys only for generic kinds', () => {
    expect(configProblems([{ id: 'c', use: 'oidc', client_id: 'a' }]).join()).toMatch(
      /providers\[0\]\.issuer: is required/,
    );
    const oauth2 = configProblems([{ id: 'c', use: 'oauth2', client_id: 'a' }]).join('\n');
    for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'scopes', 'profile', 'mapping'])
      expect(oauth2).toContain(`providers[0].${key}: is required`);
    expect(
      configProblems([
        { id: 'g', use: 'github', client_id: 'a', client_secret: 'b', token_endpoint: 'https://evil.example/t' },
      ]).join(),
    ).toMatch(/providers\[0\]\.token_endpoint: is only for use: oauth2 or oidc/);
    expect(configProblems([{ id: 'g', use: 'github' }]).join()).toMatch(/providers\[0\]\.client_id: is required/);
  });
  it('a generic oauth2 entry resolves into a working definition', () => {
    const [entry] = providersSchema.parse([
      {
        id: 'acme',
        use: 'oauth2',
        issuer: 'https://acme.example',
        scopes: ['profile'],
        client_id: 'a',
        client_secret: 'b',
        authorization_endpoint: 'https://acme.example/a',
        token_endpoint: 'https://acme.example/t',
        profile: { url: 'https://acme.example/me' },
        mapping: { subject: 'id', email: 'mail' },
      },
    ]);
    const provider = resolveDefinition(entry!, 0, { brokerIssuer: 'https://login.example.com' });
    expect(provider.redirectUri).toBe('https://login.example.com/callback/acme');
    expect(provider.definition).toMatchObject({ kind: 'oauth2', pkce: 'S256', token_auth: 'client_secret_basic' });
  });
});

describe('mapping', () => {
  it('reads dotted paths, keys holding dots, and templates', () => {
    const source = { data: { id: 7, list: [{ url: 'u' }] }, 'https://slack.com/team_id': 'T1', sub: 'U1' };
    expect(lookup(source, 'data.id')).toBe(7);
    expect(lookup(source, 'data.list.0.url')).toBe('u');
    expect(resolve([source], '{https://slack.com/team_id}:{sub}')).toBe('T1:U1');
    expect(resolve([source], '{missing}:{sub}')).toBeUndefined();
  });
  it('email_verified is true only for a boolean true from the same source as the email (L-02)', () => {
    const def = { kind: 'oidc' as const, mapping: {} };
    const map = (sources: Record<string, unknown>[]) => mapIdentity(def, sources, 'p', 'https://i', {});
    expect(map([{ sub: 's', email: 'a@x', email_verified: true }]).email_verified).toBe(true);
    expect(map([{ sub: 's', email: 'a@x', email_verified: 'true' }]).email_verified).toBe(false);
    expect(map([{ sub: 's', email: 'a@x' }]).email_verified).toBe(false);
    // A verified flag in one answer does not vouch for an address from another.
    expect(
      map([
        { sub: 's', email_verified: true },
        { email: 'b@x', email_verified: false },
      ]),
    ).toMatchObject({ email: 'b@x', email_verified: false });
  });
  it('a missing or non-scalar subject is refused', () => {
    const def = { kind: 'oauth2' as const, mapping: { subject: 'id' } };
    expect(() => mapIdentity(def, [{ id: { nested: 1 } }], 'p', 'https://i', {})).toThrow(/user id/);
    expect(() => mapIdentity(def, [{}], 'p', 'https://i', {})).toThrow(/user id/);
    expect(mapIdentity(def, [{ id: 42 }], 'p', 'https://i', {}).subject).toBe('42');
  });
});
