import { describe, expect, it } from 'vitest';
import { checkProvider } from '../../src/cli/provider-check.js';
import { providersSchema } from '../../src/config/providers.js';
import { connectProvider } from '../../src/upstream/connect.js';
import { fakeProvider } from '../upstream/fake-provider.js';

describe('providers check: the credentials probe', () => {
  it('authenticates exactly as a login does (RFC 6749 §2.3.1: both parts form-encoded)', async () => {
    const fake = await fakeProvider();
    const [entry] = providersSchema.parse([
      { id: 'kc', use: 'keycloak', issuer: fake.issuer, client_id: 'cid', client_secret: 'a b-c' },
    ]);
    const connected = connectProvider(entry!, 0, { brokerIssuer: 'https://login.example.com', fetch: fake.fetch });
    const findings = await checkProvider(connected, fake.fetch);
    expect(findings).toContainEqual({
      level: 'ok',
      text: 'client credentials accepted (a made-up code got invalid_grant)',
    });
    const { secrets } = await connected.login.authorizationUrl({ state: 's' });
    const params = new URLSearchParams({ code: 'c', state: 's' });
    await expect(connected.login.finish({ params, state: 's', secrets })).rejects.toThrow();
    const [probe, login] = fake.tokenRequests().map((request) => request.headers.get('authorization'));
    expect(probe).toBe(`Basic ${Buffer.from('cid:a+b%2Dc').toString('base64')}`);
    expect(probe).toBe(login);
  });
});
