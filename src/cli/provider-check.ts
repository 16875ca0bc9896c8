import { randomBytes } from 'node:crypto';
import { secureUrlProblem } from '../config/urls.js';
import type { Provider } from '../upstream/provider.js';
import { isObject } from '../upstream/quirks/types.js';

/**
 * `providers check`: what can be checked about one configured provider without a user. Discovery
 * (OIDC Discovery §4.3: the issuer must match exactly), the endpoints, PKCE (RFC 7636 §4.3
 * S256), the pinned ID-token algorithm and its keys, and the client credentials: a token request
 * with a made-up code is refused with `invalid_grant` once the client is authenticated, and with
 * `invalid_client` when it is not (RFC 6749 §5.2). Nothing secret is printed.
 */

export type Level = 'ok' | 'warn' | 'fail' | 'info';
export interface Finding {
  level: Level;
  text: string;
}

type Metadata = Record<string, unknown>;

/** Token error codes that say the client was authenticated and only the made-up code was refused. */
const CLIENT_ACCEPTED = new Set(['invalid_grant', 'bad_verification_code', 'invalid_code']);
/** ... and those that say the client itself was refused (GitHub's and Slack's spellings included). */
const CLIENT_REFUSED = new Set([
  'invalid_client',
  'unauthorized_client',
  'incorrect_client_credentials',
  'bad_client_secret',
  'invalid_client_id',
]);
const KEY_TYPES: Record<string, string> = { RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' };

function printable(text: unknown, max = 80): string {
  return String(text).replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time';
  return printable(e.cause?.code ?? e.cause?.message ?? e.message ?? 'error');
}

class Checker {
  readonly findings: Finding[] = [];
  constructor(
    private readonly provider: Provider,
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
    const tokenAuth = this.provider.quirks.some((q) => q.clientSecret) ? 'client_secret_post' : def.token_auth;
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

  /** The client-credentials probe: a token request with a made-up code (RFC 6749 §4.1.3, §5.2). */
  async credentials(tokenEndpoint: string): Promise<void> {
    const { entry, definition: def, quirks, redirectUri } = this.provider;
    const body = new URLSearchParams({
      grant_type: 'authorization_code',
      code: `login-broker-check-${randomBytes(12).toString('hex')}`,
      redirect_uri: redirectUri,
    });
    if (def.pkce === 'S256') body.set('code_verifier', randomBytes(32).toString('base64url'));
    for (const quirk of quirks) {
      for (const [k, v] of Object.entries(quirk.tokenParams?.(new URLSearchParams(), entry) ?? {})) body.set(k, v);
    }
    const headers: Record<string, string> = {
      accept: 'application/json',
      'content-type': 'application/x-www-form-urlencoded',
    };
    const secretQuirk = quirks.find((q) => q.clientSecret);
    let secret = entry.client_secret;
    try {
      if (secretQuirk) secret = await secretQuirk.clientSecret!(entry);
    } catch (err) {
      this.add('fail', `client secret: cannot be made (${reason(err)})`);
      return;
    }
    const clientId = entry.client_id ?? '';
    if (def.token_auth === 'client_secret_basic' && !secretQuirk) {
      // RFC 6749 §2.3.1: both parts form-encoded before the Basic encoding.
      const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(secret ?? '')}`;
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
    } else {
      body.set('client_id', clientId);
      if (def.token_auth !== 'none' || secretQuirk) body.set('client_secret', secret ?? '');
    }
    let init: RequestInit = { method: 'POST', headers, body };
    for (const quirk of quirks) if (quirk.tokenRequest) init = quirk.tokenRequest(init);
    let response: Response;
    try {
      response = await this.request(tokenEndpoint, init);
      for (const quirk of quirks) if (quirk.tokenResponse) response = await quirk.tokenResponse(response);
    } catch (err) {
      this.add('fail', `token endpoint: ${tokenEndpoint} cannot be reached (${reason(err)})`);
      return;
    }
    const answer: unknown = await response.json().catch(() => undefined);
    const error = isObject(answer) && typeof answer.error === 'string' ? answer.error : undefined;
    const status = response.status;
    if (status >= 500) return this.add('fail', `token endpoint answered ${status}`);
    if (error && CLIENT_REFUSED.has(error)) return this.add('fail', `client credentials refused (${printable(error)})`);
    if (error && CLIENT_ACCEPTED.has(error)) {
      return this.add('ok', `client credentials accepted (a made-up code got ${error})`);
    }
    if (response.ok && isObject(answer) && 'access_token' in answer) {
      return this.add('fail', 'token endpoint accepted a made-up code');
    }
    if (def.token_auth === 'none' && !secretQuirk) {
      return this.add('info', `token endpoint answers (${status}); public client: no credentials to check`);
    }
    const answered = `${status}${error ? ` ${printable(error)}` : ''}`;
    this.add('warn', `client credentials: inconclusive (token endpoint answered ${answered})`);
  }
}

/** Every check for one resolved provider, in order; the callback URL first. */
export async function checkProvider(
  provider: Provider,
  fetch: typeof globalThis.fetch = globalThis.fetch,
): Promise<Finding[]> {
  const checker = new Checker(provider, fetch);
  checker.add('info', `callback URL to register: ${provider.redirectUri}`);
  if (provider.kind === 'dev') {
    checker.add('info', 'development provider: nothing upstream to check');
    return checker.findings;
  }
  const def = provider.definition;
  let endpoints: Metadata = {
    authorization_endpoint: def.authorization_endpoint,
    token_endpoint: def.token_endpoint,
    jwks_uri: def.jwks_uri,
  };
  if (def.kind === 'oidc' && def.discovery && !(def.authorization_endpoint && def.token_endpoint && def.jwks_uri)) {
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
