import type { ProviderEntry } from '../config/providers.js';
import type { BrokerMetrics, UpstreamStep } from '../http/metrics.js';
import { providerClient, type Fetch, type ProviderClient } from './client.js';
import { codeFlowConnector } from './code-flow.js';
import type { CallbackConnector, PasswordConnector } from './connector.js';
import { devConnector } from './dev.js';
import { passwordConnector } from './password-grant.js';
import { callbackUrl, resolveDefinition, type DefinitionOptions, type ProviderDefinition } from './resolve.js';

/**
 * A deployment entry becomes its connectors in three steps: definition (resolve.ts: data, at
 * start, no network) → client (client.ts: openid-client, made at the first login) → connectors.
 * The one place that looks at the kind of entry: `use: dev` is the development form; anything
 * else is a provider file or a generic kind, logged in with the code flow, and with the password
 * grant as well where the entry enables it.
 */

export interface ConnectOptions extends DefinitionOptions {
  /** The fetch used for every request to providers (tests inject one); global fetch otherwise. */
  fetch?: Fetch;
  /** Where each request to a provider is timed, by step. */
  metrics?: BrokerMetrics;
}

export interface ProviderConnectors {
  id: string;
  /** Our callback URL for this provider. */
  redirectUri: string;
  login: CallbackConnector;
  password?: PasswordConnector;
  /** The provider the connectors talk to, resolved; none for the development form, which talks to none. */
  definition?: ProviderDefinition;
  /** The openid-client side of the provider (token refresh and revocation for the vault); none for dev. */
  client?: ProviderClient;
}

export function connectProvider(entry: ProviderEntry, index: number, options: ConnectOptions): ProviderConnectors {
  const redirectUri = callbackUrl(options.brokerIssuer, entry.id);
  if (entry.use === 'dev') return { id: entry.id, redirectUri, login: devConnector(entry, index, options) };
  const definition = resolveDefinition(entry, index, options);
  const { metrics } = options;
  const observe = metrics && ((step: UpstreamStep, s: number) => metrics.upstreamRequest(entry.id, step, s));
  const upstream = providerClient(definition, options.fetch, observe);
  return {
    id: entry.id,
    redirectUri,
    definition,
    client: upstream,
    login: codeFlowConnector(definition, upstream),
    ...(entry.password_grant ? { password: passwordConnector(definition, upstream) } : {}),
  };
}
