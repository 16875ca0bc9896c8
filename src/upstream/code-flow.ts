import * as client from 'openid-client';
import type { ProviderClient } from './client.js';
import type { CallbackConnector, LoginSecrets } from './connector.js';
import { classify, safeToken, UpstreamFailure } from './errors.js';
import { exchange } from './exchange.js';
import type { ProviderDefinition } from './resolve.js';
import type { LoginFailureCode } from './types.js';

/**
 * The connector of every provider file and of the generic oidc/oauth2 kinds: the authorization
 * code flow (RFC 6749 §4.1) with PKCE, and for oidc a nonce and a verified ID token.
 */
export function codeFlowConnector(provider: ProviderDefinition, upstream: ProviderClient): CallbackConnector {
  return {
    id: provider.id,
    label: provider.label,
    ...(provider.color ? { color: provider.color } : {}),
    answer: 'redirect',
    async authorizationUrl({ state, loginHint }) {
      const config = await upstream.configuration().catch((err: unknown) => {
        throw classify(err);
      });
      const secrets = freshSecrets(provider);
      const params = await authorizationParams(provider, state, secrets, loginHint);
      return { url: client.buildAuthorizationUrl(config, params).href, secrets };
    },
    async finish({ params, state, secrets }) {
      const refusal = providerRefusal(provider, params);
      if (refusal) throw refusal;
      return exchange(provider, await upstream.configuration(), { params, state, secrets });
    },
  };
}

/** What this attempt's callback will check: fresh for every attempt, never reused. */
function freshSecrets({ definition }: ProviderDefinition): LoginSecrets {
  return {
    // S256 always; never plain, never retried without (RFC 7636 §7.2).
    ...(definition.pkce === 'S256' ? { verifier: client.randomPKCECodeVerifier() } : {}),
    // OIDC Core §3.1.2.1: binds the ID token to this attempt.
    ...(definition.kind === 'oidc' ? { nonce: client.randomNonce() } : {}),
  };
}

/** The authorization request (RFC 6749 §4.1.1; RFC 7636 §4.3; OIDC Core §3.1.2.1). */
async function authorizationParams(
  provider: ProviderDefinition,
  state: string,
  secrets: LoginSecrets,
  loginHint: string | undefined,
): Promise<Record<string, string>> {
  const { definition, entry, quirks } = provider;
  const params: Record<string, string> = {
    ...(definition.authorization_params ?? {}),
    response_type: 'code',
    redirect_uri: provider.redirectUri,
    scope: definition.scopes.join(' '),
    state,
  };
  if (secrets.verifier) {
    params.code_challenge = await client.calculatePKCECodeChallenge(secrets.verifier);
    params.code_challenge_method = 'S256';
  }
  if (secrets.nonce) {
    params.nonce = secrets.nonce;
    if (loginHint) params.login_hint = loginHint;
  }
  if (definition.response_mode === 'form_post') params.response_mode = 'form_post';
  for (const quirk of quirks) Object.assign(params, quirk.authorizationParams?.(entry) ?? {});
  return params;
}

const FAIL_CODES = new Set(['access_denied', 'temporarily_unavailable', 'login_required']);

/** An error answer instead of a code (RFC 6749 §4.1.2.1; Facebook may send error_code/error_message). */
function providerRefusal(provider: ProviderDefinition, params: URLSearchParams): UpstreamFailure | undefined {
  const error = single(params, 'error');
  const errorCode = single(params, 'error_code');
  if ((!error && !errorCode) || params.has('code')) return undefined;
  // The provider's free text is not passed on (anyone can put text in this URL); it is logged, trimmed.
  const text = single(params, 'error_description') ?? single(params, 'error_message');
  const answered = `${provider.label} answered ${safeToken(error ?? `error_code ${errorCode}`)}`;
  return new UpstreamFailure(
    failureCode(error),
    answered,
    text ? { provider_description: safeToken(text, 200) } : undefined,
    error === 'access_denied' || error === 'login_required' ? 'denied' : 'provider_error',
  );
}

function failureCode(error: string | undefined): LoginFailureCode {
  if (!error) return 'server_error';
  if (FAIL_CODES.has(error)) return error as LoginFailureCode;
  return error === 'server_error' ? 'temporarily_unavailable' : 'access_denied';
}

/** One value at most (RFC 6749 §3.1); a repeated one ends the login. */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw new UpstreamFailure('access_denied', `${name} is repeated (RFC 6749 section 3.1)`);
  return values[0] || undefined;
}
