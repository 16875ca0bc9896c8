import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { providersCommand, type CatalogueEntry } from '../../src/cli/providers.js';
import { ensureBuilt, MAIN, ROOT } from '../support/built.js';
import { startUpstreamIdp, type UpstreamIdp } from '../support/upstream-idp.js';

const dir = mkdtempSync(join(tmpdir(), 'lb-providers-'));
let n = 0;
function configFile(providers: unknown[]): string {
  const file = join(dir, `broker-${++n}.yaml`);
  writeFileSync(file, JSON.stringify({ issuer: 'https://login.example.com', providers }));
  return file;
}

async function run(argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const status = await providersCommand(argv, out, err);
  return { status, stdout, stderr };
}

const shipped = readdirSync(new URL('../../providers/', import.meta.url)).filter((f) => f.endsWith('.yaml'));

describe('login-broker providers list', () => {
  it('prints the whole catalogue: id, name, kind, PKCE, the email-verified source, quirks', async () => {
    const { status, stdout } = await run(['list']);
    expect(status).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+KIND\s+PKCE\s+EMAIL VERIFIED FROM\s+QUIRKS$/);
    expect(lines).toHaveLength(shipped.length + 1);
    const github = /^github\s+GitHub\s+oauth2\s+S256\s+verified primary of \/user\/emails\s+github-200-errors/m;
    expect(stdout).toMatch(github);
    expect(stdout).toMatch(/^microsoft\s+Microsoft\s+oidc\s+S256\s+xms_edov\s+entra-tenant-issuer$/m);
    expect(stdout).toMatch(/^strava\s+Strava\s+oauth2\s+none\s+never \(no email\)\s+-$/m);
  });

  it('--json gives the same catalogue as data', async () => {
    const { status, stdout } = await run(['list', '--json']);
    expect(status).toBe(0);
    const entries = JSON.parse(stdout) as CatalogueEntry[];
    expect(entries.map((e) => `${e.id}.yaml`)).toEqual([...shipped].sort());
    expect(entries.find((e) => e.id === 'dropbox')).toEqual({
      id: 'dropbox',
      name: 'Dropbox',
      kind: 'oauth2',
      pkce: 'S256',
      email_verified: 'email_verified',
      quirks: ['dropbox-rpc-post'],
    });
    expect(entries.find((e) => e.id === 'apple')?.email_verified).toBe('email_verified (true or "true")');
  });

  it('usage errors exit 2 with the usage', async () => {
    const wrong = [[], ['lsit'], ['list', 'x'], ['list', '--nope'], ['list', '-c', 'x.yaml'], ['check', '--json']];
    for (const argv of wrong) {
      const { status, stderr } = await run(argv);
      expect(status, argv.join(' ')).toBe(2);
      expect(stderr).toContain('Usage: login-broker providers');
    }
  });
});

describe('login-broker providers check, against nock', () => {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => nock.cleanAll());
  afterAll(() => nock.enableNetConnect());

  const googleDiscovery = {
    issuer: 'https://accounts.google.com',
    authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
    token_endpoint: 'https://oauth2.googleapis.com/token',
    jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
    response_types_supported: ['code', 'token', 'id_token'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    code_challenge_methods_supported: ['plain', 'S256'],
  };
  const rsaKey = { kty: 'RSA', alg: 'RS256', use: 'sig', kid: 'k1', n: 'AQAB', e: 'AQAB' };

  function google(discovery: Record<string, unknown>, tokenAnswer: [number, object]) {
    nock('https://accounts.google.com').get('/.well-known/openid-configuration').reply(200, discovery);
    nock('https://www.googleapis.com')
      .get('/oauth2/v3/certs')
      .optionally()
      .reply(200, { keys: [rsaKey] });
    nock('https://accounts.google.com').get('/o/oauth2/v2/auth').optionally().reply(400, 'Missing required parameter');
    let body: URLSearchParams | undefined;
    nock('https://oauth2.googleapis.com')
      .post('/token', (raw: Record<string, string>) => {
        body = new URLSearchParams(raw);
        return true;
      })
      .optionally()
      .reply(...tokenAnswer);
    return () => body;
  }

  it('a good OIDC provider: callback URL, discovery, keys, endpoints, client accepted; exit 0', async () => {
    const tokenBody = google(googleDiscovery, [400, { error: 'invalid_grant', error_description: 'Bad Request' }]);
    const file = configFile([{ id: 'google', use: 'google', client_id: 'cid', client_secret: 'top-secret-value' }]);
    const { status, stdout } = await run(['check', '--config', file]);
    expect(stdout).toBe(
      [
        'google (use: google): ok',
        '       callback URL to register: https://login.example.com/callback/google',
        '  ok   discovery: issuer matches, endpoints ok, RS256, S256',
        '  ok   jwks: 1 RSA key for RS256',
        '  ok   authorization endpoint answers (400)',
        '  ok   client credentials accepted (a made-up code got invalid_grant)',
        '1 provider checked, 0 failed',
        '',
      ].join('\n'),
    );
    expect(status).toBe(0);
    // The probe: a made-up code, the exact redirect URI, a PKCE verifier, the file's client auth.
    const body = tokenBody()!;
    expect(body.get('grant_type')).toBe('authorization_code');
    expect(body.get('code')).toMatch(/^login-broker-check-[0-9a-f]{24}$/);
    expect(body.get('redirect_uri')).toBe('https://login.example.com/callback/google');
    expect(body.get('code_verifier')!.length).toBeGreaterThanOrEqual(43);
    expect(body.get('client_secret')).toBe('top-secret-value');
    expect(stdout).not.toContain('top-secret-value');
  });

  it('fails on a foreign issuer, a missing alg and no S256, naming each; exit 1', async () => {
    google(
      {
        ...googleDiscovery,
        issuer: 'https://evil.example',
        id_token_signing_alg_values_supported: ['HS256'],
        code_challenge_methods_supported: ['plain'],
      },
      [400, { error: 'invalid_grant' }],
    );
    const file = configFile([{ id: 'google', use: 'google', client_id: 'cid', client_secret: 's' }]);
    const { status, stdout } = await run(['check', '--config', file]);
    expect(status).toBe(1);
    expect(stdout).toContain('google (use: google): FAIL 3 problems');
    expect(stdout).toContain(
      '  FAIL discovery: issuer is "https://evil.example", expected "https://accounts.google.com" (compared exactly)',
    );
    expect(stdout).toContain('  FAIL discovery: ID tokens are not signed with RS256 (advertised: HS256)');
    expect(stdout).toContain('  FAIL discovery: PKCE S256 is not supported');
    expect(stdout).toContain('1 provider checked, 1 failed');
  });

  it('an unreachable discovery document is a failure, and the other providers are still checked', async () => {
    nock('https://accounts.google.com').get('/.well-known/openid-configuration').reply(503, 'down');
    nock('https://github.com').get('/login/oauth/authorize').reply(200, '<html>');
    nock('https://api.github.com').get('/user').reply(401, { message: 'Requires authentication' });
    nock('https://github.com').post('/login/oauth/access_token').reply(200, { error: 'bad_verification_code' });
    const file = configFile([
      { id: 'google', use: 'google', client_id: 'cid', client_secret: 's' },
      { id: 'github', use: 'github', client_id: 'cid', client_secret: 's' },
    ]);
    const { status, stdout } = await run(['check', '--config', file]);
    expect(status).toBe(1);
    expect(stdout).toContain('google (use: google): FAIL 1 problem\n');
    const discovery = 'https://accounts.google.com/.well-known/openid-configuration';
    expect(stdout).toContain(`  FAIL discovery: ${discovery} answered 503`);
    // GitHub: an OAuth 2 file; its HTTP 200 error goes through github-200-errors like a login's.
    expect(stdout).toContain('github (use: github): ok\n');
    expect(stdout).toContain('  ok   profile endpoint answers (401)');
    expect(stdout).toContain('  ok   client credentials accepted (a made-up code got bad_verification_code)');
    expect(stdout).toContain('2 providers checked, 1 failed');
  });

  it('refused credentials, a provider that cannot be resolved, and a public client', async () => {
    nock('https://github.com').get('/login/oauth/authorize').reply(200, '<html>');
    nock('https://api.github.com').get('/user').reply(401, {});
    let basic: string | undefined;
    nock('https://github.com')
      .post('/login/oauth/access_token')
      .reply(200, function () {
        basic = this.req.headers.authorization as string | undefined;
        return { error: 'incorrect_client_credentials' };
      });
    nock('https://id.vk.com').get('/authorize').reply(200, '<html>');
    nock('https://id.vk.com').get('/oauth2/user_info').reply(405, {});
    const vkError = { error: 'invalid_request', error_description: 'device_id is missing' };
    nock('https://id.vk.com').post('/oauth2/auth').reply(400, vkError);
    const file = configFile([
      { id: 'github', use: 'github', client_id: 'cid', client_secret: 'wrong' },
      { id: 'okta', use: 'okta', client_id: 'cid', client_secret: 's' },
      { id: 'vk', use: 'vk', client_id: 'cid' },
      { id: 'dev', use: 'dev' },
    ]);
    const { status, stdout } = await run(['check', '--config', file]);
    expect(status).toBe(1);
    expect(basic).toBeUndefined();
    expect(stdout).toContain('  FAIL client credentials refused (incorrect_client_credentials)');
    expect(stdout).toMatch(/okta \(use: okta\): FAIL 1 problem\n\s+FAIL providers\[1\]\.issuer: providers\/okta\.yaml/);
    expect(stdout).toContain('vk (use: vk): ok\n');
    expect(stdout).toContain('token endpoint answers (400); public client: no credentials to check');
    // The development provider is refused on a non-loopback broker, as at start.
    expect(stdout).toContain('dev (use: dev): FAIL 1 problem\n  FAIL providers[3].use: dev is for development only');
    expect(stdout).toContain('4 providers checked, 3 failed');
  });

  it('a configuration error exits 2; no --config and no BROKER_CONFIG is a usage error', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'issuer: https://login.example.com\nproviders: [{ id: x, use: github }]\n');
    const result = await run(['check', '--config', bad]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('providers[0].client_id: is required');
    const saved = process.env.BROKER_CONFIG;
    delete process.env.BROKER_CONFIG;
    try {
      expect((await run(['check'])).status).toBe(2);
    } finally {
      if (saved !== undefined) process.env.BROKER_CONFIG = saved;
    }
  });
});

describe('login-broker providers check, against a local oidc-provider', () => {
  let idp: UpstreamIdp;
  let issuer: string;
  beforeAll(async () => {
    idp = await startUpstreamIdp({
      redirectUri: () => 'https://login.example.com/callback/corp',
      clientSecret: 'broker-secret-broker-secret-0123',
      brokerClient: { token_endpoint_auth_method: 'client_secret_basic' },
    });
    issuer = idp.issuer;
  });
  afterAll(() => idp?.close());

  it('passes with the right secret and fails with a wrong one (invalid_client)', async () => {
    const file = configFile([
      { id: 'corp', use: 'oidc', issuer, client_id: 'broker', client_secret: 'broker-secret-broker-secret-0123' },
      { id: 'corp-wrong', use: 'oidc', issuer, client_id: 'broker', client_secret: 'not-the-secret' },
    ]);
    const { status, stdout } = await run(['check', '--config', file]);
    const [good, wrong] = stdout.split(/^(?=corp-wrong )/m);
    expect(good).toContain('corp (use: oidc): ok');
    expect(good).toContain('  ok   discovery: issuer matches, endpoints ok, RS256, S256');
    expect(good).toMatch(/ok {3}jwks: \d+ RSA keys? for RS256/);
    expect(good).toContain('  ok   client credentials accepted (a made-up code got invalid_grant)');
    expect(wrong).toContain('corp-wrong (use: oidc): FAIL 1 problem');
    expect(wrong).toContain('  FAIL client credentials refused (invalid_client)');
    expect(status).toBe(1);
  });
});

describe('the providers command through the built binary', () => {
  beforeAll(() => ensureBuilt());
  it('is wired into main: list exits 0, --help names both actions', () => {
    const run = (args: string[]) =>
      spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    const list = run(['providers', 'list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^zoom\s+Zoom\s+oauth2\s+S256/m);
    const help = run(['providers', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('login-broker providers check [--config FILE]');
  });
});
