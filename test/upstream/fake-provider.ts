import { nowS, signingKey, type SigningKey } from './harness.js';

/** A request the fake provider received. */
export interface Seen {
  url: string;
  method: string;
  headers: Headers;
  body: URLSearchParams;
}

export interface FakeProvider {
  issuer: string;
  /** Pass as the broker's upstream fetch: it answers for this provider only, and records what it got. */
  fetch: typeof globalThis.fetch;
  seen: Seen[];
  /** The token endpoint's requests. */
  tokenRequests(): Seen[];
  key: SigningKey;
  /** What the token endpoint answers next (by default: invalid_grant). */
  tokenAnswer: (body: URLSearchParams) => Promise<[number, unknown]>;
}

/**
 * An OpenID provider as a fetch function (no network, no nock): discovery, JWKS and a token
 * endpoint. Anything else is refused as unreachable, as a provider that is not there would be.
 */
export async function fakeProvider(issuer = 'https://idp.test'): Promise<FakeProvider> {
  const key = await signingKey();
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const fake: FakeProvider = {
    issuer,
    seen: [],
    key,
    tokenRequests: () => fake.seen.filter((s) => s.url === `${issuer}/token`),
    tokenAnswer: async () => [400, { error: 'invalid_grant' }],
    fetch: async (input, init) => {
      const url = String(input);
      const body = new URLSearchParams(typeof init?.body === 'string' ? init.body : (init?.body as URLSearchParams));
      fake.seen.push({ url, method: init?.method ?? 'GET', headers: new Headers(init?.headers), body });
      if (url === `${issuer}/.well-known/openid-configuration`) {
        return json(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        });
      }
      if (url === `${issuer}/jwks`) return json(200, { keys: [key.jwk] });
      if (url === `${issuer}/token`) return json(...(await fake.tokenAnswer(body)));
      throw new TypeError('fetch failed');
    },
  };
  return fake;
}

/** A signed ID token from the fake provider for this audience. */
export function idToken(fake: FakeProvider, aud: string, claims: Record<string, unknown>): Promise<string> {
  return fake.key.sign({ iss: fake.issuer, aud, iat: nowS(), exp: nowS() + 300, ...claims });
}
