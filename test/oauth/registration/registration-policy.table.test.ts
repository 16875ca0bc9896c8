import { describe, expect, it } from 'vitest';
import { BrokerError } from '../../../src/http/broker-error.js';
import { clientMetadata, registeredClient } from '../../../src/oauth/registration/metadata.js';
import type { RegistrationAccess } from '../../../src/oauth/registration/policy.js';

/**
 * RFC 7591 §2 metadata → a client validated by the config's client schema, then the registration
 * policy (docs/security.md S-REG-01); refusals are RFC 7591 §3.2.2 errors naming the field.
 */

const BASE = { redirect_uris: ['https://app.example/cb'] };
let minted = 0;
const register = (body: unknown, access: Exclude<RegistrationAccess, 'document'> = 'open', pairwiseSalt = false) =>
  registeredClient(body, {
    access,
    clientId: 'dyn-1',
    mintSecret: () => `minted-secret-${++minted}-0123456789abcdef`,
    pairwiseSalt,
  }).client;

function refusal(body: unknown, access: Exclude<RegistrationAccess, 'document'> = 'open'): BrokerError {
  try {
    register(body, access);
  } catch (err) {
    if (err instanceof BrokerError) return err;
    throw err;
  }
  throw new Error('registered');
}

interface Refused {
  name: string;
  body: Record<string, unknown>;
  access?: Exclude<RegistrationAccess, 'document'>;
  error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  /** The start of error_description: the field named first (RFC 7591 §3.2.2). */
  field: string;
}

const REFUSED: Refused[] = [
  { name: 'no redirect URI', body: {}, error: 'invalid_redirect_uri', field: 'redirect_uris:' },
  {
    name: 'redirect URI not a list',
    body: { redirect_uris: 'https://a.example/cb' },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris:',
  },
  {
    name: 'plain http redirect',
    body: { redirect_uris: ['http://app.example/cb'] },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris.0:',
  },
  {
    name: 'wildcard redirect',
    body: { redirect_uris: ['https://*.example/cb'] },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris.0:',
  },
  {
    name: 'fragment in redirect',
    body: { redirect_uris: ['https://a.example/cb#x'] },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris.0:',
  },
  {
    name: 'custom scheme redirect',
    body: { redirect_uris: ['com.example.app:/cb'] },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris.0:',
  },
  // The config allows http://localhost; an open registration only literal loopback IPs (RFC 8252 §8.3).
  {
    name: 'localhost redirect (open)',
    body: { redirect_uris: ['http://localhost:3000/cb'] },
    error: 'invalid_redirect_uri',
    field: 'redirect_uris:',
  },
  {
    name: 'http post-logout URI',
    body: { ...BASE, post_logout_redirect_uris: ['http://localhost/'] },
    error: 'invalid_client_metadata',
    field: 'post_logout_redirect_uris:',
  },
  {
    name: 'client_credentials',
    body: { ...BASE, grant_types: ['authorization_code', 'client_credentials'] },
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'client_credentials (trusted, public)',
    body: { ...BASE, token_endpoint_auth_method: 'none', grant_types: ['client_credentials'] },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'password',
    body: { ...BASE, grant_types: ['password'] },
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'password (trusted)',
    body: { ...BASE, grant_types: ['authorization_code', 'password'] },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'implicit grant name',
    body: { ...BASE, grant_types: ['implicit'] },
    error: 'invalid_client_metadata',
    field: 'grant_types.0:',
  },
  {
    name: 'implicit response type',
    body: { ...BASE, response_types: ['code', 'id_token token'] },
    error: 'invalid_client_metadata',
    field: 'response_types:',
  },
  {
    name: 'implicit response type (trusted)',
    body: { ...BASE, response_types: ['id_token'] },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'response_types:',
  },
  {
    name: 'device code (open)',
    body: { ...BASE, grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'] },
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'token exchange',
    body: { ...BASE, grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange'] },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'refresh only',
    body: { ...BASE, grant_types: ['refresh_token'] },
    error: 'invalid_client_metadata',
    field: 'grant_types:',
  },
  {
    name: 'first_party',
    body: { ...BASE, first_party: true },
    error: 'invalid_client_metadata',
    field: 'first_party:',
  },
  {
    name: 'first_party (trusted)',
    body: { ...BASE, first_party: true },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'first_party:',
  },
  {
    name: 'upstream tokens',
    body: { ...BASE, upstream_tokens: ['github'] },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'upstream_tokens:',
  },
  {
    name: 'confidential (open)',
    body: { ...BASE, token_endpoint_auth_method: 'client_secret_basic' },
    error: 'invalid_client_metadata',
    field: 'token_endpoint_auth_method:',
  },
  {
    name: 'private_key_jwt (open)',
    body: { ...BASE, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC' }] } },
    error: 'invalid_client_metadata',
    field: 'token_endpoint_auth_method:',
  },
  // The broker's fetches of these make no address check: not even a trusted registrant sets them (S-REG-01).
  ...(['jwks_uri', 'sector_identifier_uri', 'backchannel_logout_uri'] as const).map((key) => ({
    name: `${key} (trusted)`,
    body: {
      ...BASE,
      ...(key === 'jwks_uri' ? { token_endpoint_auth_method: 'private_key_jwt' } : {}),
      [key]: 'https://a.example/internal',
    },
    access: 'trusted' as const,
    error: 'invalid_client_metadata' as const,
    field: `${key}:`,
  })),
  {
    name: 'unknown auth method',
    body: { ...BASE, token_endpoint_auth_method: 'client_secret_jwt' },
    error: 'invalid_client_metadata',
    field: 'token_endpoint_auth_method:',
  },
  {
    name: 'pkce optional',
    body: { ...BASE, pkce: 'optional' },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'pkce:',
  },
  {
    name: 'non-standard scope (open)',
    body: { ...BASE, scope: 'openid admin' },
    error: 'invalid_client_metadata',
    field: 'scope:',
  },
  {
    name: 'malformed scope',
    body: { ...BASE, scope: 'openid  "x"' },
    error: 'invalid_client_metadata',
    field: 'scope:',
  },
  {
    name: 'back-channel logout URI (open: SSRF)',
    body: { ...BASE, backchannel_logout_uri: 'https://a.example/bcl' },
    error: 'invalid_client_metadata',
    field: 'backchannel_logout_uri:',
  },
  {
    name: 'resources (open)',
    body: { ...BASE, resources: ['https://api.example/'] },
    error: 'invalid_client_metadata',
    field: 'resources:',
  },
  {
    name: 'pairwise without a salt',
    body: { ...BASE, subject_type: 'pairwise' },
    error: 'invalid_client_metadata',
    field: 'subject_type:',
  },
  {
    name: 'client_name too long',
    body: { ...BASE, client_name: 'x'.repeat(101) },
    error: 'invalid_client_metadata',
    field: 'client_name:',
  },
  {
    name: 'client_name not a string',
    body: { ...BASE, client_name: 7 },
    error: 'invalid_client_metadata',
    field: 'client_name:',
  },
  {
    name: 'private key in jwks (trusted)',
    body: { ...BASE, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
    access: 'trusted',
    error: 'invalid_client_metadata',
    field: 'jwks.keys.0:',
  },
];

describe('registration policy: refusals (RFC 7591 §3.2.2)', () => {
  it.each(REFUSED)('$name → $error', ({ body, access, error, field }) => {
    const err = refusal(body, access);
    expect(err.status).toBe(400);
    expect(err.error).toBe(error);
    expect(err.error_description.startsWith(field)).toBe(true);
  });

  it.each([null, [], 'x', 3])('a body that is no JSON object (%j) → invalid_client_metadata', (body) => {
    expect(refusal(body).error).toBe('invalid_client_metadata');
  });
});

describe('registration policy: accepted', () => {
  it('open: a public code + PKCE client by default, with the broker-issued id', () => {
    const client = register({ ...BASE, client_name: 'Agent' });
    expect(client).toMatchObject({
      client_id: 'dyn-1',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      pkce: 'required',
      first_party: false,
    });
    expect(client.client_secret).toBeUndefined();
  });

  it('open: loopback IP redirect URIs (RFC 8252 §7.3) and https', () => {
    const redirect_uris = ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'https://a.example/cb'];
    expect(register({ redirect_uris }).redirect_uris).toEqual(redirect_uris);
  });

  it('ignores metadata it does not keep (RFC 7591 §2) and a client_id or secret the registrant sent', () => {
    const client = register({
      ...BASE,
      client_id: 'chosen',
      client_secret: 'chosen-secret-0123456789abcdef',
      logo_uri: 'https://a.example/logo.png',
      contacts: ['a@example.com'],
      software_id: 'x',
    });
    expect(client.client_id).toBe('dyn-1');
    expect(client.client_secret).toBeUndefined();
    expect(clientMetadata(client)).not.toHaveProperty('logo_uri');
  });

  it('trusted: RFC 7591 §2 default client_secret_basic, with a minted secret', () => {
    const client = register({ ...BASE }, 'trusted');
    expect(client.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(client.client_secret).toMatch(/^minted-secret-/);
  });

  it('trusted: client_credentials and any scope token', () => {
    const client = register(
      {
        ...BASE,
        grant_types: ['authorization_code', 'client_credentials'],
        scope: 'openid api:read',
        token_endpoint_auth_method: 'client_secret_post',
      },
      'trusted',
    );
    expect(client.auth_methods).toEqual(['client_secret_post']);
  });

  it('pairwise when the broker has a salt', () => {
    expect(register({ ...BASE, subject_type: 'pairwise' }, 'open', true).subject_type).toBe('pairwise');
  });

  it('clientMetadata: RFC 7591 names, no secret, none of the broker-only keys', () => {
    const metadata = clientMetadata(register({ ...BASE }, 'trusted'));
    expect(metadata).toMatchObject({
      client_id: 'dyn-1',
      redirect_uris: BASE.redirect_uris,
      token_endpoint_auth_method: 'client_secret_basic',
    });
    for (const key of ['client_secret', 'auth_methods', 'first_party', 'pkce', 'upstream_tokens']) {
      expect(metadata).not.toHaveProperty(key);
    }
  });
});
