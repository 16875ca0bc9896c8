import * as client from 'openid-client';
import { UpstreamFailure } from './errors.js';
import type { ProviderDefinition } from './resolve.js';

/**
 * How the broker authenticates to a provider's token endpoint (RFC 6749 §2.3.1): the file's
 * token_auth with the entry's secret, or, where a quirk mints the secret (Apple's signed JWT),
 * client_secret_post with a secret asked of the quirk at each token request. Nothing has to be
 * readied before a request: each one builds its own authentication from the provider.
 */
export function clientAuthentication(provider: ProviderDefinition): client.ClientAuth {
  const { entry, definition, quirks } = provider;
  const minting = quirks.find((quirk) => quirk.clientSecret);
  if (minting?.clientSecret) return mintedSecretPost(() => minting.clientSecret!(entry));
  switch (definition.token_auth) {
    case 'client_secret_post':
      return client.ClientSecretPost(entry.client_secret);
    case 'none':
      return client.None();
    default:
      return client.ClientSecretBasic(entry.client_secret);
  }
}

/** The token endpoint authentication method in use, as discovery metadata names it. */
export function tokenAuthMethod(provider: ProviderDefinition): string {
  return provider.quirks.some((quirk) => quirk.clientSecret) ? 'client_secret_post' : provider.definition.token_auth;
}

/** client_secret_post with a secret made when the request is (openid-client awaits a ClientAuth). */
function mintedSecretPost(mint: () => Promise<string>): client.ClientAuth {
  return async (_server, clientMetadata, body) => {
    let secret: string;
    try {
      secret = await mint();
    } catch (err) {
      // Not the provider's answer: a server_error of ours. The reason stays out of the description.
      const failure = new UpstreamFailure('server_error', 'the client secret could not be made');
      failure.cause = err;
      throw failure;
    }
    body.set('client_id', clientMetadata.client_id);
    body.set('client_secret', secret);
  };
}
