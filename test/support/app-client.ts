import * as oidc from 'openid-client';
import { SECRETS } from './broker-fixture.js';

/** The app `web` of the test clients (client_secret_basic) as openid-client sees a broker at `issuer`. */
export function webApp(issuer: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
    execute: [oidc.allowInsecureRequests],
  });
}

/**
 * What an app does before sending the browser to /authorize: fresh PKCE verifier, state and
 * nonce, and the URL. `checks` are what the app passes to authorizationCodeGrant afterwards.
 */
export async function pkceAuthorization(config: oidc.Configuration, params: Record<string, string>) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  return {
    url,
    verifier,
    state,
    nonce,
    checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
  };
}

/**
 * A code request of the app `web` by hand (no app library): a fixed PKCE challenge (the example of
 * RFC 7636 Appendix B), for tests about the broker's side of /authorize, never about the code.
 */
export function webAuthorizeUrl(issuer: string, extra: Record<string, string> = {}): URL {
  const url = new URL(`${issuer}/authorize`);
  const params = {
    client_id: 'web',
    redirect_uri: 'http://127.0.0.1:5000/cb',
    response_type: 'code',
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}
