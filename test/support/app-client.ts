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
