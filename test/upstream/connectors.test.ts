import { generateKeyPairSync } from 'node:crypto';
import { importSPKI, jwtVerify } from 'jose';
import * as client from 'openid-client';
import { afterEach, describe, expect, it } from 'vitest';
import { providersSchema } from '../../src/config/providers.js';
import { providerClient } from '../../src/upstream/client.js';
import { connectProvider } from '../../src/upstream/connect.js';
import { classify } from '../../src/upstream/errors.js';
import { resolveDefinition } from '../../src/upstream/resolve.js';
import { startApp, type RunningApp } from '../support/app.js';
import { PASSWORD_CLIENTS, TRUSTED_SECRET } from '../support/password.js';
import { fakeProvider, idToken } from './fake-provider.js';
import { startHarness, type Harness } from './harness.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * The definition → client → connector steps, each usable on its own: a token request carries the
 * client authentication it needs whatever came before it, and the password connector talks to its
 * provider through the broker's upstream fetch like every other request.
 */

const BROKER = 'http://127.0.0.1:4000';
const appleKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const APPLE = {
  team_id: 'TEAM123456',
  key_id: 'KEY1234567',
  private_key: appleKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
};
const appleEntry = (apple = APPLE) =>
  providersSchema.parse([{ id: 'apple', use: 'apple', client_id: 'cid', apple }])[0]!;

describe('client authentication is made by each token request (no earlier step needed)', () => {
  it("a grant made with the client's configuration alone carries Apple's minted secret", async () => {
    const fake = await fakeProvider('https://appleid.apple.com');
    const config = await providerClient(
      resolveDefinition(appleEntry(), 0, { brokerIssuer: BROKER }),
      fake.fetch,
    ).configuration();
    await expect(client.genericGrantRequest(config, 'client_credentials', {})).rejects.toThrow();
    const [token] = fake.tokenRequests();
    expect(token!.body.get('client_id')).toBe('cid');
    const publicKey = await importSPKI(appleKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'ES256');
    const { payload, protectedHeader } = await jwtVerify(token!.body.get('client_secret')!, publicKey, {
      issuer: APPLE.team_id,
      subject: 'cid',
      audience: 'https://appleid.apple.com',
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: APPLE.key_id });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(24 * 3600);
  });

  it('a secret that cannot be made: server_error, and nothing reaches the token endpoint', async () => {
    const fake = await fakeProvider('https://appleid.apple.com');
    const broken = { ...APPLE, private_key: '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n' };
    const { login } = connectProvider(appleEntry(broken), 0, { brokerIssuer: BROKER, fetch: fake.fetch });
    const { secrets } = await login.authorizationUrl({ state: 's' });
    const finished = login.finish({ params: new URLSearchParams({ code: 'c', state: 's' }), state: 's', secrets });
    const failure = classify(await finished.catch((err: unknown) => err));
    expect(failure).toMatchObject({ code: 'server_error', description: 'the client secret could not be made' });
    expect(fake.tokenRequests()).toHaveLength(0);
  });
});

describe('the password connector', () => {
  let app: RunningApp | undefined;
  afterEach(() => app?.close());

  it('talks to its provider through the injected upstream fetch (RFC 6749 §4.3)', async () => {
    const fake = await fakeProvider();
    fake.tokenAnswer = async (body) => {
      if (body.get('password') !== 'pw-of-kim') return [400, { error: 'invalid_grant' }];
      const id_token = await idToken(fake, 'broker', { sub: 'u-kim', email: 'kim@idp.test', email_verified: true });
      return [200, { access_token: 'upstream-at', token_type: 'Bearer', expires_in: 300, id_token }];
    };
    const corp = {
      id: 'corp',
      use: 'oidc',
      issuer: fake.issuer,
      client_id: 'broker',
      client_secret: 's3cret',
      password_grant: true,
    };
    app = await startApp({ clients: PASSWORD_CLIENTS, providers: [corp] }, { upstreamFetch: fake.fetch });
    const grant = (password: string) =>
      fetch(`${app!.url}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`trusted:${TRUSTED_SECRET}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'password',
          username: 'kim',
          password,
          provider: 'corp',
          scope: 'openid',
        }),
      });
    const refused = await grant('wrong');
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });
    const accepted = await grant('pw-of-kim');
    expect(accepted.status).toBe(200);
    const [first] = fake.tokenRequests();
    expect(Object.fromEntries(first!.body)).toMatchObject({
      grant_type: 'password',
      username: 'kim',
      scope: 'openid email profile',
    });
    expect(first!.headers.get('authorization')).toBe(`Basic ${Buffer.from('broker:s3cret').toString('base64')}`);
  });
});

describe('the code-flow connector', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('a repeated error parameter in the answer ends in fail(access_denied) (RFC 6749 §3.1)', async () => {
    h = await startHarness([{ id: 'gh', use: 'github', client_id: 'cid', client_secret: 's' }]);
    const browser = new UserAgent();
    const state = (await h.begin(browser, 'gh')).searchParams.get('state')!;
    await browser.fetch(`${h.issuer}/callback/gh?state=${state}&error=access_denied&error=server_error`);
    expect(h.finish).not.toHaveBeenCalled();
    expect(h.fail.mock.calls[0]![1]).toMatchObject({
      error: 'access_denied',
      description: 'error is repeated (RFC 6749 section 3.1)',
    });
  });
});
