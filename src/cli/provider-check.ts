import { secureUrlProblem } from '../config/urls.js';
import { tokenAuthMethod } from '../upstream/client-auth.js';
import type { ProviderConnectors } from '../upstream/connect.js';
import { usesDiscovery } from '../upstream/definition.js';
import { isObject } from '../upstream/quirks/types.js';
import type { ProviderDefinition } from '../upstream/resolve.js';
import { credentialsVerdict, probeRequest } from './credentials-probe.js';
import { printable, reason, type Finding, type Level } from './findings.js';

/**
 * `providers check`: what can be checked about one configured provider without a user. Discovery
 * (OIDC Discovery §4.3: the issuer must match exactly), the endpoints, PKCE (RFC 7636 §4.3
 * S256), the pinned ID-token algorithm and its keys, and the client credentials: a token request
 * with a made-up code is refused with `invalid_grant` once the client is authenticated, and with
 * `invalid_client` when it is not (RFC 6749 §5.2). Nothing secret is printed.
 */

export type { Finding, Level } from './findings.js';

type Metadata = Record<string, unknown>;

const KEY_TYPES: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' };

class Checker {
  readonly findings: Finding[] = [];
  constructor(
    private readonly provider: ProviderDefinition,
    private readonly fetch: typeof globalThis.fetch,
  ) {}

  add(level: Level, text: string): void {
    this.findings.push({ level, text });
  }

  request(url: string, init: RequestInit = {}): Promise<Response> {
    const signal = AbortSignal.timeout(this.provider.entry.timeout_ms);
    return this.fetch(url, { redirect: 'manual', ...init, signal });
  }

  async json(url: string, what: string): Promise<Metadata | undefined> {
    let response: Response;
    try {
      response = await this.request(url, { headers: { accept: 'application/json' } });
    } catch (err) {
      this.add('fail', `${what}: ${url} cannot be reached (${reason(err)})`);
      return undefined;
    }
    if (response.status !== 200) {
      this.add('fail', `${what}: ${url} answered ${response.status}`);
      return undefined;
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (!isObject(body)) this.add('fail', `${what}: ${url} did not answer a JSON object`);
    return isObject(body) ? body : undefined;
  }

  /** OIDC Discovery 1.0 §4: fetch and check the provider's metadata. */
  async discovery(): Promise<Metadata | undefined> {
    const def = this.provider.definition;
    const issuer = def.issuer!;
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const meta = await this.json(url, 'discovery');
    if (!meta) return undefined;
    const problems: string[] = [];
    // §4.3: exactly the issuer used to fetch it; Entra's multi-tenant document holds a template.
    const template = def.quirks.includes('entra-tenant-issuer') && String(meta.issuer).includes('{tenantid}');
    if (meta.issuer !== issuer && !template) {
      problems.push(`issuer is "${printable(meta.issuer)}", expected "${issuer}" (compared exactly)`);
    }
    for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
      const value = meta[key];
      const problem = typeof value === 'string' ? secureUrlProblem(value) : 'is missing';
      if (problem) problems.push(`${key} ${problem}`);
    }
    const list = (key: string) => (Array.isArray(meta[key]) ? (meta[key] as unknown[]) : undefined);
    if (!list('response_types_supported')?.includes('code')) problems.push('response type "code" is not supported');
    const algs = list('id_token_signing_alg_values_supported');
    if (!algs?.includes(def.id_token_alg)) {
      const advertised = printable(algs?.join(', ') ?? 'none');
      problems.push(`ID tokens are not signed with ${def.id_token_alg} (advertised: ${advertised})`);
    }
    const authMethods = list('token_endpoint_auth_methods_supported');
    const tokenAuth = tokenAuthMethod(this.provider);
    if (authMethods && !authMethods.includes(tokenAuth)) {
      problems.push(`token_endpoint_auth_methods_supported does not list ${tokenAuth}`);
    }
    const pkce = list('code_challenge_methods_supported');
    if (def.pkce === 'S256' && pkce && !pkce.includes('S256')) problems.push('PKCE S256 is not supported');
    if (problems.length) {
      for (const problem of problems) this.add('fail', `discovery: ${problem}`);
    } else {
      const s256 = def.pkce === 'S256' ? (pkce ? ', S256' : '') : '';
      this.add('ok', `discovery: issuer matches, endpoints ok, ${def.id_token_alg}${s256}`);
    }
    if (def.pkce === 'S256' && !pkce) this.add('warn', 'discovery: PKCE methods not advertised (S256 is sent anyway)');
    return meta;
  }

  /** The signing keys: at least one of the type the pinned algorithm needs (RFC 7517, RFC 7518 §3.1). */
  async jwks(url: string): Promise<void> {
    const alg = this.provider.definition.id_token_alg;
    const body = await this.json(url, 'jwks');
    if (!body) return;
    const keys = Array.isArray(body.keys) ? body.keys.filter(isObject) : [];
    const kty = KEY_TYPES[alg.slice(0, 2)];
    const usable = keys.filter((k) => k.kty === kty && (k.alg === undefined || k.alg === alg) && k.use !== 'enc');
    if (usable.length) this.add('ok', `jwks: ${usable.length} ${kty} key${usable.length > 1 ? 's' : ''} for ${alg}`);
    else this.add('fail', `jwks: no ${kty} key for ${alg} among ${keys.length}`);
  }

  /** An endpoint answers at all (a 4xx for a bare request is fine; a 5xx or no answer is not). */
  async reachable(what: string, url: string): Promise<void> {
    try {
      const response = await this.request(url);
      await response.body?.cancel();
      if (response.status >= 500) this.add('fail', `${what}: ${url} answered ${response.status}`);
      else this.add('ok', `${what} answers (${response.status})`);
    } catch (err) {
      this.add('fail', `${what}: ${url} cannot be reached (${reason(err)})`);
    }
  }

  /** The client-credentials probe (credentials-probe.ts). */
  async credentials(tokenEndpoint: string): Promise<void> {
    let init: RequestInit;
    try {
      init = await probeRequest(this.provider, tokenEndpoint);
    } catch (err) {
      this.add('fail', `client secret: cannot be made (${reason(err)})`);
      return;
    }
    let response: Response;
    try {
      response = await this.request(tokenEndpoint, init);
      for (const quirk of this.provider.quirks) if (quirk.tokenResponse) response = await quirk.tokenResponse(response);
    } catch (err) {
      this.add('fail', `token endpoint: ${tokenEndpoint} cannot be reached (${reason(err)})`);
      return;
    }
    const answer: unknown = await response.json().catch(() => undefined);
    this.findings.push(credentialsVerdict(this.provider, response, answer));
  }
}

/** Every check for one configured provider, in order; the callback URL first. */
export async function checkProvider(
  connected: Pick<ProviderConnectors, 'redirectUri' | 'definition'>,
  fetch: typeof globalThis.fetch = globalThis.fetch,
): Promise<Finding[]> {
  const findings: Finding[] = [{ level: 'info', text: `callback URL to register: ${connected.redirectUri}` }];
  const provider = connected.definition;
  if (!provider) return [...findings, { level: 'info', text: 'development provider: nothing upstream to check' }];
  const checker = new Checker(provider, fetch);
  checker.findings.push(...findings);
  const def = provider.definition;
  let endpoints: Metadata = {
    authorization_endpoint: def.authorization_endpoint,
    token_endpoint: def.token_endpoint,
    jwks_uri: def.jwks_uri,
  };
  if (usesDiscovery(def)) {
    const meta = await checker.discovery();
    if (!meta) return checker.findings;
    endpoints = meta;
  }
  if (def.kind === 'oidc' && typeof endpoints.jwks_uri === 'string') await checker.jwks(endpoints.jwks_uri);
  if (typeof endpoints.authorization_endpoint === 'string') {
    await checker.reachable('authorization endpoint', endpoints.authorization_endpoint);
  }
  if (def.profile) await checker.reachable('profile endpoint', def.profile.url);
  if (typeof endpoints.token_endpoint === 'string') await checker.credentials(endpoints.token_endpoint);
  return checker.findings;
}
