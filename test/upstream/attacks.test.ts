import { createHash } from 'node:crypto';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { UnitOfWork } from '../../src/store/unit-of-work.js';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { nowS, signingKey, startHarness, unsecuredJwt, type Harness, type SigningKey } from './harness.js';
import { UserAgent } from '../support/user-agent.js';

/**
 * The callback under attack (the C- and J- entries of docs/security.md): each case must end in fail() or a 400 page,
 * and never in finish().
 */

const IDP = 'https://idp.example.com';
const ENTRIES = [
  { id: 'corp', use: 'oidc', issuer: IDP, client_id: 'cid', client_secret: 'secret', timeout_ms: 300 },
  { id: 'github', use: 'github', client_id: 'gh-cid', client_secret: 'gh-secret' },
  { id: 'slowgh', use: 'github', client_id: 'gh-cid', client_secret: 'gh-secret', timeout_ms: 300 },
];

let key: SigningKey;
let otherKey: SigningKey;
let esKey: CryptoKey;
let h: Harness;
let advertiseIss = false;

beforeAll(async () => {
  key = await signingKey();
  // Made ahead: key generation inside a reply would eat the 300 ms token timeout.
  otherKey = await signingKey('k1');
  esKey = (await generateKeyPair('ES256')).privateKey;
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterAll(() => nock.enableNetConnect());
beforeEach(async () => {
  advertiseIss = false;
  h = await startHarness(ENTRIES);
});
afterEach(async () => {
  nock.cleanAll();
  vi.restoreAllMocks();
  await h.close();
});

function discovery(): void {
  nock(IDP)
    .get('/.well-known/openid-configuration')
    .reply(200, () => ({
      issuer: IDP,
      authorization_endpoint: `${IDP}/authorize`,
      token_endpoint: `${IDP}/token`,
      jwks_uri: `${IDP}/jwks`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
      ...(advertiseIss ? { authorization_response_iss_parameter_supported: true } : {}),
    }));
  nock(IDP)
    .get('/jwks')
    .optionally()
    .times(2)
    .reply(200, { keys: [key.jwk] });
}

/** Token endpoint answering with an ID token built from the nonce the login sent. */
function tokenEndpoint(idToken: (nonce: string) => Promise<string>, nonceRef: { value: string }) {
  return nock(IDP)
    .post('/token')
    .reply(async () => [200, { access_token: 'at', token_type: 'Bearer', id_token: await idToken(nonceRef.value) }]);
}

async function start(browser: UserAgent, provider = 'corp') {
  if (provider === 'corp') discovery();
  const url = await h.begin(browser, provider);
  return { state: url.searchParams.get('state')!, nonce: { value: url.searchParams.get('nonce') ?? '' }, url };
}

function good(nonce: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: IDP, aud: 'cid', sub: 'user-1', nonce, iat: nowS(), exp: nowS() + 300, ...extra };
}

async function expectRejectedPage(response: Response): Promise<void> {
  expect(response.status).toBe(400);
  expect(response.headers.get('location')).toBeNull();
  expect(await response.text()).not.toMatch(/at \w+ \(|node_modules/); // no stack
  expect(h.finish).not.toHaveBeenCalled();
}

async function expectFailed(error: string, contains?: string): Promise<void> {
  expect(h.finish).not.toHaveBeenCalled();
  expect(h.fail).toHaveBeenCalledTimes(1);
  expect(h.fail.mock.calls[0]![1].error).toBe(error);
  if (contains) expect(h.fail.mock.calls[0]![1].description).toContain(contains);
}

describe('state (RFC 6749 §10.12, docs/security.md "State and login CSRF")', () => {
  it('a callback without state is a 400 page (C-CSRF-01)', async () => {
    await expectRejectedPage(await new UserAgent().fetch(`${h.issuer}/callback/corp?code=abc`));
    expect(h.fail).not.toHaveBeenCalled();
  });

  it('an unknown state is a 400 page', async () => {
    await expectRejectedPage(
      await new UserAgent().fetch(`${h.issuer}/callback/corp?code=abc&state=made-up-state-value`),
    );
  });

  it('a repeated state parameter is a 400 page (RFC 6749 §3.1)', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    await expectRejectedPage(await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}&state=${state}`));
  });

  it('a state from another browser is a 400 page: login CSRF (C-CSRF-02, C-CSRF-05)', async () => {
    const attacker = new UserAgent();
    const { state } = await start(attacker);
    const victim = new UserAgent();
    await victim.fetch(`${h.issuer}/callback/corp?x=1`); // the victim has its own browser cookie
    await expectRejectedPage(await victim.fetch(`${h.issuer}/callback/corp?code=attackers-code&state=${state}`));
    expect(h.fail).not.toHaveBeenCalled();
  });

  it('a replayed callback is a 400 page; only the first one counts (C-REF-02, C-CSRF-03)', async () => {
    const browser = new UserAgent();
    const { state, nonce } = await start(browser);
    tokenEndpoint(async (n) => key.sign(good(n)), nonce);
    const first = await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    expect(first.status).toBe(303);
    expect(h.finish).toHaveBeenCalledTimes(1);
    const again = await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    expect(again.status).toBe(400);
    expect(h.finish).toHaveBeenCalledTimes(1);
  });

  it('concurrent callbacks with one state: exactly one proceeds (atomic take)', async () => {
    const browser = new UserAgent();
    const { state, nonce } = await start(browser);
    tokenEndpoint(async (n) => key.sign(good(n)), nonce);
    const answers = await Promise.all(
      [1, 2, 3].map(() => browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`)),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([303, 400, 400]);
    expect(h.finish).toHaveBeenCalledTimes(1);
  });

  it('a state past its 10-minute TTL is a 400 page (C-CSRF-04)', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + 601_000);
    await expectRejectedPage(await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`));
  });
});

describe('mix-up (RFC 9700 §4.4, RFC 9207)', () => {
  it('a corp login answered on /callback/github fails, and no token endpoint is called (C-MIX-04)', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    const github = nock('https://github.com').post('/login/oauth/access_token').reply(200, { access_token: 'x' });
    const corp = nock(IDP).post('/token').reply(200, { access_token: 'x' });
    const response = await browser.fetch(`${h.issuer}/callback/github?code=abc&state=${state}`);
    expect(response.status).toBe(303);
    await expectFailed('access_denied', 'another provider');
    expect(h.fail.mock.calls[0]![1].provider).toBe('corp');
    expect(github.isDone()).toBe(false);
    expect(corp.isDone()).toBe(false);
  });

  it('an iss parameter naming another issuer fails (RFC 9207 §2.4)', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    const token = nock(IDP).post('/token').reply(200, {});
    await browser.fetch(
      `${h.issuer}/callback/corp?code=abc&state=${state}&iss=${encodeURIComponent('https://evil.example.com')}`,
    );
    await expectFailed('access_denied');
    expect(token.isDone()).toBe(false);
  });

  it('an iss parameter differing by a trailing slash fails (C-MIX-03)', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}&iss=${encodeURIComponent(`${IDP}/`)}`);
    await expectFailed('access_denied');
  });

  it('an advertised iss parameter that is missing fails (C-MIX-02)', async () => {
    advertiseIss = true;
    const browser = new UserAgent();
    const { state } = await start(browser);
    const token = nock(IDP).post('/token').reply(200, {});
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    await expectFailed('access_denied');
    expect(token.isDone()).toBe(false);
  });

  it('an advertised iss parameter that matches passes', async () => {
    advertiseIss = true;
    const browser = new UserAgent();
    const { state, nonce } = await start(browser);
    tokenEndpoint(async (n) => key.sign(good(n)), nonce);
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}&iss=${encodeURIComponent(IDP)}`);
    expect(h.finish).toHaveBeenCalledTimes(1);
  });
});

describe('ID token verification (OIDC Core §3.1.3.7, docs/security.md "JWT")', () => {
  const cases: [string, (nonce: string) => Promise<string>][] = [
    ['wrong nonce (C-INJ-03)', (n) => key.sign(good(n, { nonce: 'not-the-nonce' }))],
    ['no nonce', (n) => key.sign(good(n, { nonce: undefined }))],
    ['wrong aud (C-AUD-02)', (n) => key.sign(good(n, { aud: 'someone-else' }))],
    ['extra aud without azp (J-06)', (n) => key.sign(good(n, { aud: ['cid', 'other'] }))],
    ['wrong iss (C-MIX-05)', (n) => key.sign(good(n, { iss: 'https://evil.example.com' }))],
    ['iss with a trailing slash (L-04)', (n) => key.sign(good(n, { iss: `${IDP}/` }))],
    ['expired (J-07)', (n) => key.sign(good(n, { iat: nowS() - 7200, exp: nowS() - 3600 }))],
    ['alg none (J-01)', async (n) => unsecuredJwt(good(n))],
    [
      'bad signature (J-05)',
      async (n) => {
        const jwt = await key.sign(good(n));
        const [head, body] = jwt.split('.');
        return `${head}.${body}.${Buffer.alloc(256, 7).toString('base64url')}`;
      },
    ],
    ['signed by another key with the same kid', (n) => otherKey.sign(good(n))],
    [
      'HS256 keyed with the public key (J-02)',
      async (n) => {
        const secret = new TextEncoder().encode(JSON.stringify(key.jwk));
        return new SignJWT(good(n)).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
      },
    ],
    [
      'ES256 although RS256 is pinned',
      (n) => new SignJWT(good(n)).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(esKey),
    ],
  ];
  // Why each one is refused, as openid-client reports it: proves the check that fired.
  const REASONS: Record<string, RegExp> = {
    'wrong nonce': /"nonce" claim value/,
    'no nonce': /"nonce" \(nonce\) claim missing/,
    'wrong aud': /"aud" \(audience\)/,
    'extra aud without azp': /additional untrusted audiences/,
    'wrong iss': /"iss" \(issuer\)/,
    'iss with a trailing slash': /"iss" \(issuer\)/,
    expired: /"exp"/,
    'alg none': /"alg" header/,
    'bad signature': /signature verification failed/,
    'signed by another key with the same kid': /signature verification failed/,
    'HS256 keyed with the public key': /"alg" header/,
    'ES256 although RS256 is pinned': /"alg" header/,
  };
  for (const [name, idToken] of cases) {
    it(`${name}: fail(), never finish()`, async () => {
      const browser = new UserAgent();
      const { state, nonce } = await start(browser);
      tokenEndpoint(idToken, nonce);
      const response = await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
      expect(response.status).toBe(303);
      await expectFailed('access_denied');
      expect(h.fail.mock.calls[0]![1].description).toMatch(REASONS[name.split(' (')[0]!]!);
      expect(JSON.stringify(h.logs)).not.toContain('eyJ');
    });
  }

  it('an unknown kid fails after a JWKS refetch (J-03)', async () => {
    const browser = new UserAgent();
    const { state, nonce } = await start(browser);
    tokenEndpoint((n) => otherKey.sign(good(n), { kid: 'rotated-away' }), nonce);
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    await expectFailed('access_denied');
  });

  it(
    'the token request carries the verifier of this login: S256 of it is the challenge sent (RFC ' + '7636 §4.6)',
    async () => {
      const browser = new UserAgent();
      const { state, nonce, url } = await start(browser);
      let verifier = '';
      nock(IDP)
        .post('/token', (body: Record<string, string>) => {
          verifier = body.code_verifier ?? '';
          return true;
        })
        .reply(async () => [
          200,
          { access_token: 'at', token_type: 'Bearer', id_token: await key.sign(good(nonce.value)) },
        ]);
      await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
      expect(h.finish).toHaveBeenCalledTimes(1);
      expect(createHash('sha256').update(verifier).digest('base64url')).toBe(url.searchParams.get('code_challenge'));
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    },
  );

  it('no ID token at all from an OIDC provider fails', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    nock(IDP).post('/token').reply(200, { access_token: 'at', token_type: 'Bearer' });
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    await expectFailed('access_denied');
  });
});

describe('upstream failures end in fail(), bounded in time', () => {
  it('a token endpoint that never answers: temporarily_unavailable after timeout_ms', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    nock(IDP).post('/token').delay(5_000).reply(200, {});
    const started = Date.now();
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expectFailed('temporarily_unavailable');
  });

  it('a token endpoint 400 invalid_grant: access_denied', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    nock(IDP).post('/token').reply(400, { error: 'invalid_grant' });
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    await expectFailed('access_denied', 'invalid_grant');
  });

  it('malformed JSON from the token endpoint: fail(), and the body is not quoted anywhere', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    nock(IDP)
      .post('/token')
      .reply(200, '{"access_token": "leaky-token-value", oops', { 'content-type': 'application/json' });
    await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${state}`);
    expect(h.fail).toHaveBeenCalledTimes(1);
    expect(h.finish).not.toHaveBeenCalled();
    expect(JSON.stringify([h.logs, h.fail.mock.calls[0]![1]])).not.toContain('leaky-token-value');
  });

  it('a profile API that never answers: temporarily_unavailable after timeout_ms', async () => {
    const browser = new UserAgent();
    const url = await h.begin(browser, 'slowgh');
    nock('https://github.com')
      .post('/login/oauth/access_token')
      .reply(200, { access_token: 'gho_x', token_type: 'bearer' });
    nock('https://api.github.com').get('/user').delay(5_000).reply(200, { id: 1 });
    const started = Date.now();
    await browser.fetch(`${h.issuer}/callback/slowgh?code=abc&state=${url.searchParams.get('state')}`);
    expect(Date.now() - started).toBeLessThan(3_000);
    await expectFailed('temporarily_unavailable');
  });

  it("the provider's error text is not passed on to fail(), only its code", async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    const text = encodeURIComponent('Call +1 555 0100 to unlock');
    await browser.fetch(`${h.issuer}/callback/corp?error=invalid_scope&error_description=${text}&state=${state}`);
    await expectFailed('access_denied');
    expect(h.fail.mock.calls[0]![1].description).not.toContain('555');
  });

  it('the provider unreachable at begin: a 503 page, no transaction written', async () => {
    nock(IDP).get('/.well-known/openid-configuration').reply(503);
    const before = h.store.roundTrips;
    const response = await new UserAgent().fetch(`${h.issuer}/start/corp`);
    expect(response.status).toBe(503);
    expect(h.store.roundTrips).toBe(before);
  });

  it('the user cancels (error=access_denied): fail(access_denied) with the context', async () => {
    const browser = new UserAgent();
    const { state } = await start(browser);
    await browser.fetch(`${h.issuer}/callback/corp?error=access_denied&state=${state}`);
    await expectFailed('access_denied');
    expect(h.fail.mock.calls[0]![1].context).toEqual({ kind: 'authorize', interaction: 'i-1' });
  });
});

describe('the transaction', () => {
  it(
    "begin adds the transaction to the caller's unit of work: one round trip with its writes; the " + 'callback one',
    async () => {
      discovery();
      const browser = new UserAgent();
      await browser.fetch(`${h.issuer}/callback/corp?warm=1`); // gets the browser cookie
      const url = await h.begin(browser, 'corp'); // discovery is cached after this
      const before = h.store.roundTrips;
      const ctx = { state: { browserBinding: 'b' } } as unknown as Parameters<typeof h.upstream.login.begin>[0];
      const work = new UnitOfWork(h.store);
      work.add({ op: 'put', key: 'side', value: 'v', ttl: 60 });
      await h.upstream.login.begin(ctx, { providerId: 'corp', context: { kind: 'authorize', interaction: 'x' }, work });
      expect(h.store.roundTrips - before).toBe(0);
      await work.commit();
      expect(h.store.roundTrips - before).toBe(1);
      expect(await h.store.get('side')).toBe('v');

      const { nonce } = { nonce: { value: url.searchParams.get('nonce')! } };
      tokenEndpoint(async (n) => key.sign(good(n)), nonce);
      const beforeCallback = h.store.roundTrips;
      await browser.fetch(`${h.issuer}/callback/corp?code=abc&state=${url.searchParams.get('state')}`);
      expect(h.finish).toHaveBeenCalledTimes(1);
      expect(h.store.roundTrips - beforeCallback).toBe(1);
    },
  );

  it('state, nonce and verifier are fresh per attempt and not stored in the clear', async () => {
    const browser = new UserAgent();
    const a = await start(browser);
    const b = await start(browser);
    expect(a.state).not.toBe(b.state);
    expect(a.nonce.value).not.toBe(b.nonce.value);
    expect(a.url.searchParams.get('code_challenge')).not.toBe(b.url.searchParams.get('code_challenge'));
    expect(await h.store.get(`txn:${a.state}`)).toBeNull();
  });

  it('buttons() lists the configured providers with their labels; has() knows them', () => {
    expect(h.upstream.login.buttons()).toEqual([
      { id: 'corp', label: 'corp' },
      { id: 'github', label: 'GitHub', color: '#24292F' },
      { id: 'slowgh', label: 'GitHub', color: '#24292F' },
    ]);
    expect(h.upstream.login.has('github')).toBe(true);
    expect(h.upstream.login.has('nope')).toBe(false);
  });

  it('begin with an unknown provider is a 400 page', async () => {
    const ctx = { state: { browserBinding: 'b' } } as unknown as Parameters<typeof h.upstream.login.begin>[0];
    const work = new UnitOfWork(h.store);
    await expect(
      h.upstream.login.begin(ctx, { providerId: 'nope', context: { kind: 'account' }, work }),
    ).rejects.toMatchObject({ status: 400, error: 'invalid_request' });
  });

  it('an unknown provider in the callback path is a 404 page', async () => {
    const response = await new UserAgent().fetch(`${h.issuer}/callback/nope?code=a&state=b`);
    expect(response.status).toBe(404);
    expect(h.finish).not.toHaveBeenCalled();
  });

  it('a form_post answer is re-issued as a same-site GET; the POST itself consumes nothing', async () => {
    const browser = new UserAgent();
    const { state, nonce } = await start(browser);
    const post = await fetch(`${h.issuer}/callback/corp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ code: 'abc', state, evil: 'x' }).toString(),
      redirect: 'manual',
    });
    expect(post.status).toBe(303);
    const location = new URL(post.headers.get('location')!);
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.has('evil')).toBe(false);
    expect(h.finish).not.toHaveBeenCalled();
    tokenEndpoint(async (n) => key.sign(good(n)), nonce);
    const get = await browser.fetch(location.href);
    expect(get.status).toBe(303);
    expect(h.finish).toHaveBeenCalledTimes(1);
    // Without the browser cookie (a cross-site attacker replaying the GET) it would be refused.
    const replay = await fetch(location.href, { redirect: 'manual' });
    expect(replay.status).toBe(400);
  });
});
