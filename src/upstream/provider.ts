import * as client from 'openid-client';
import type { ProviderEntry } from '../config/providers.js';
import { ConfigError } from '../config/load.js';
import type { BrokerMetrics, UpstreamStep } from '../http/metrics.js';
import { isLoopbackHost, secureUrlProblem } from '../config/urls.js';
import { DefinitionError, loadDefinition, parseDefinition, PROVIDERS_DIR, type Definition } from './definition.js';
import { QUIRKS, type Quirk } from './quirks/index.js';

export type Fetch = typeof globalThis.fetch;

/** One configured provider, ready to log in with. */
export interface Provider {
  id: string;
  kind: 'oidc' | 'oauth2' | 'dev';
  entry: ProviderEntry;
  /** The definition with the deployment's overrides applied and placeholders filled. */
  definition: Definition;
  quirks: Quirk[];
  label: string;
  color?: string;
  redirectUri: string;
  /** The openid-client Configuration (discovered once, then cached; retried after a failure). */
  configuration(): Promise<client.Configuration>;
  /** Readies what the token request needs (a freshly minted client secret where a quirk says so). */
  prepareExchange(): Promise<void>;
}

function fill(template: string, vars: Record<string, string | undefined>, where: string, problems: string[]): string {
  return template.replace(/\{([a-z_]+)\}/g, (match, name: string) => {
    const value = vars[name];
    if (value === undefined) {
      problems.push(`${where}: needs "${name}" in the provider entry`);
      return match;
    }
    return value;
  });
}

function genericDefinition(entry: ProviderEntry, file: string): Definition {
  const raw: Record<string, unknown> = {
    name: entry.name ?? entry.id,
    kind: entry.use,
    issuer: entry.issuer,
    scopes: entry.scopes ?? (entry.use === 'oidc' ? ['openid', 'email', 'profile'] : undefined),
  };
  for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'token_auth', 'pkce', 'profile', 'mapping'] as const) {
    if (entry[key] !== undefined) raw[key] = entry[key];
  }
  if (entry.use === 'oidc' && entry.authorization_endpoint && entry.token_endpoint && entry.jwks_uri) raw.discovery = false;
  return parseDefinition(file, raw);
}

const TEMPLATED = ['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri'] as const;

/**
 * Resolves a deployment entry into a provider: loads its file (or builds the generic one),
 * applies overrides, fills placeholders, checks quirks. Throws ConfigError/DefinitionError at
 * start, naming the entry or file, the key and the reason.
 */
export function resolveProvider(
  entry: ProviderEntry,
  index: number,
  options: { brokerIssuer: string; fetch?: Fetch; providersDir?: URL; configFile?: string; metrics?: BrokerMetrics },
): Provider {
  const configFile = options.configFile ?? 'configuration';
  const where = `providers[${index}]`;
  const redirectUri = `${options.brokerIssuer}/callback/${entry.id}`;
  if (entry.use === 'dev') {
    if (!isLoopbackHost(new URL(options.brokerIssuer).hostname)) {
      throw new ConfigError(configFile, [`${where}.use: dev is for development only: the broker issuer must be a loopback URL`]);
    }
    const definition = parseDefinition(`${where} (dev)`, { name: entry.name ?? 'Development login', kind: 'oauth2', issuer: `${options.brokerIssuer}/upstream/${entry.id}`, authorization_endpoint: `${options.brokerIssuer}/upstream/${entry.id}/login`, token_endpoint: redirectUri, profile: { url: redirectUri }, scopes: ['dev'], mapping: { subject: 'sub' } });
    return {
      id: entry.id,
      kind: 'dev',
      entry,
      definition,
      quirks: [],
      label: definition.name,
      ...(entry.color ? { color: entry.color } : {}),
      redirectUri,
      configuration: () => Promise.reject(new Error('the dev provider has no openid-client configuration')),
      prepareExchange: () => Promise.resolve(),
    };
  }

  const generic = entry.use === 'oidc' || entry.use === 'oauth2';
  const file = generic ? `${where} (use: ${entry.use})` : `providers/${entry.use}.yaml`;
  let definition = generic ? genericDefinition(entry, file) : loadDefinition(entry.use, options.providersDir ?? PROVIDERS_DIR);

  // Deployment overrides.
  definition = {
    ...definition,
    ...(entry.issuer && !generic ? { issuer: entry.issuer } : {}),
    ...(entry.scopes ? { scopes: entry.scopes } : {}),
    ...(entry.name ? { name: entry.name } : {}),
    ...(entry.color ? { color: entry.color } : {}),
  };
  const problems: string[] = [];
  const vars: Record<string, string | undefined> = {
    tenant: entry.tenant ?? 'common',
    client_id: entry.client_id,
  };
  for (const key of TEMPLATED) {
    const value = definition[key];
    if (value === undefined) continue;
    const filled = fill(value, vars, `${where} (${file}) ${key}`, problems);
    const problem = secureUrlProblem(filled);
    if (problem && !problems.length) problems.push(`${where} (${file}) ${key}: ${problem}`);
    definition[key] = filled;
  }
  if (definition.profile) {
    definition.profile = {
      ...definition.profile,
      url: fill(definition.profile.url, vars, `${where} (${file}) profile.url`, problems),
      ...(definition.profile.headers
        ? { headers: Object.fromEntries(Object.entries(definition.profile.headers).map(([k, v]) => [k, fill(v, vars, `${where} profile.headers.${k}`, problems)])) }
        : {}),
    };
  }
  if (definition.kind === 'oidc' && !definition.issuer) {
    problems.push(`${where}.issuer: ${file} leaves the issuer to the deployment: set issuer (e.g. https://your-tenant.example.com)`);
  }
  if (definition.token_auth !== 'none' && !entry.client_secret && !definition.quirks.includes('apple-client-secret')) {
    problems.push(`${where}.client_secret: is required (${file} uses ${definition.token_auth})`);
  }
  const quirks = definition.quirks.map((name) => QUIRKS.get(name)!);
  for (const quirk of quirks) {
    for (const problem of quirk.check?.(entry, definition) ?? []) problems.push(`${where} (${quirk.name}): ${problem}`);
  }
  if (problems.length) throw new ConfigError(configFile, problems);

  const baseFetch = options.fetch;
  const timeoutMs = entry.timeout_ms;
  const tokenEndpoint = () => cachedConfig?.serverMetadata().token_endpoint;
  let cachedConfig: client.Configuration | undefined;
  let pending: Promise<client.Configuration> | undefined;

  const metrics = options.metrics;
  /** Which step of a login a request is, for its duration metric: before the configuration, discovery. */
  const stepOf = (url: string): UpstreamStep => {
    const meta = cachedConfig?.serverMetadata();
    if (!meta) return 'discovery';
    if (url === meta.token_endpoint) return 'token';
    if (url === meta.userinfo_endpoint) return 'userinfo';
    if (url === meta.jwks_uri) return 'jwks';
    return 'api';
  };

  /** Every request to this provider: bounded by the timeout, token and API answers passed through the quirks. */
  const boundedFetch: client.CustomFetch = async (url, init) => {
    const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    const isToken = url === tokenEndpoint();
    let request = { ...init, signal } as RequestInit;
    if (isToken) for (const quirk of quirks) if (quirk.tokenRequest) request = quirk.tokenRequest(request);
    const started = performance.now();
    let response: Response;
    try {
      response = await (baseFetch ?? globalThis.fetch)(url, request);
    } finally {
      metrics?.upstreamRequest(entry.id, stepOf(url), (performance.now() - started) / 1000);
    }
    if (isToken) {
      let out = response;
      for (const quirk of quirks) if (quirk.tokenResponse) out = await quirk.tokenResponse(out);
      return out;
    }
    return response;
  };

  const insecure = [definition.issuer, definition.authorization_endpoint, definition.token_endpoint, definition.userinfo_endpoint, definition.jwks_uri, definition.profile?.url].some(
    (value) => value?.startsWith('http:'),
  );
  const secretQuirk = quirks.find((quirk) => quirk.clientSecret);
  let mintedSecret = '';
  const clientAuth = (): client.ClientAuth => {
    if (secretQuirk) {
      // The secret is minted before each exchange (prepareExchange); client_secret_post.
      return (_as, clientMetadata, body) => {
        body.set('client_id', clientMetadata.client_id);
        body.set('client_secret', mintedSecret);
      };
    }
    switch (definition.token_auth) {
      case 'client_secret_post':
        return client.ClientSecretPost(entry.client_secret);
      case 'none':
        return client.None();
      default:
        return client.ClientSecretBasic(entry.client_secret);
    }
  };
  const metadata: Partial<client.ClientMetadata> = {
    ...(entry.client_secret ? { client_secret: entry.client_secret } : {}),
    ...(definition.kind === 'oidc' ? { id_token_signed_response_alg: definition.id_token_alg } : {}),
  };

  const build = async (): Promise<client.Configuration> => {
    let config: client.Configuration;
    if (definition.kind === 'oidc' && definition.discovery && !(definition.authorization_endpoint && definition.token_endpoint && definition.jwks_uri)) {
      config = await client.discovery(new URL(definition.issuer!), entry.client_id!, metadata, clientAuth(), {
        execute: insecure ? [client.allowInsecureRequests] : [],
        [client.customFetch]: boundedFetch,
        timeout: Math.ceil(timeoutMs / 1000),
      });
    } else {
      config = new client.Configuration(
        {
          issuer: definition.issuer!,
          authorization_endpoint: definition.authorization_endpoint!,
          token_endpoint: definition.token_endpoint!,
          ...(definition.userinfo_endpoint ? { userinfo_endpoint: definition.userinfo_endpoint } : {}),
          ...(definition.jwks_uri ? { jwks_uri: definition.jwks_uri } : {}),
          ...(definition.iss_parameter ? { authorization_response_iss_parameter_supported: true } : {}),
        },
        entry.client_id!,
        metadata,
        clientAuth(),
      );
      if (insecure) client.allowInsecureRequests(config);
    }
    config[client.customFetch] = boundedFetch;
    config.timeout = Math.ceil(timeoutMs / 1000);
    // Token-endpoint ID tokens are signature-checked only with this (OIDC Core §3.1.3.7 step 6 allows skipping; we don't).
    if (definition.kind === 'oidc') client.enableNonRepudiationChecks(config);
    return config;
  };

  return {
    id: entry.id,
    kind: definition.kind,
    entry,
    definition,
    quirks,
    label: definition.name,
    ...(definition.color ? { color: definition.color } : {}),
    redirectUri,
    async prepareExchange() {
      if (secretQuirk?.clientSecret) mintedSecret = await secretQuirk.clientSecret(entry);
    },
    configuration() {
      if (cachedConfig) return Promise.resolve(cachedConfig);
      pending ??= build().then(
        (config) => {
          cachedConfig = config;
          return config;
        },
        (err: unknown) => {
          pending = undefined;
          throw err;
        },
      );
      return pending;
    },
  };
}

export { DefinitionError };
