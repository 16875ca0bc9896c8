import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsServer } from '../../src/http/metrics-server.js';
import { startApp, type RunningApp } from '../support/app.js';
import { pkceAuthorization } from '../support/app-client.js';
import { CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { UserAgent } from '../support/user-agent.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET as UPSTREAM_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';
const DEV_AUTHORIZE = {
  client_id: 'web',
  redirect_uri: REDIRECT,
  response_type: 'code',
  scope: 'openid',
  provider: 'dev',
  code_challenge_method: 'S256',
};
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** One sample of the Prometheus text format: name{labels} → value (0 when absent). */
type Scrape = { text: string; value(name: string, labels?: Record<string, string>): number };

function parse(text: string): Scrape {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return {
    text,
    value(name, labels = {}) {
      const wanted = Object.entries(labels);
      let sum = 0;
      for (const [key, value] of samples) {
        const brace = key.indexOf('{');
        if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
        if (wanted.every(([k, v]) => key.includes(`${k}="${v}"`))) sum += value;
      }
      return sum;
    },
  };
}

describe('GET /metrics on its own listener, from the real app', () => {
  let broker: RunningApp;
  let metrics: Server;
  let metricsUrl: string;
  let idp: UpstreamIdp;
  let idpIssuer: string;

  beforeAll(async () => {
    idp = await startUpstreamIdp({ redirectUri: () => `${broker.url}/callback/corp` });
    idpIssuer = idp.issuer;
    broker = await startApp({
      clients: CLIENTS,
      providers: [
        { id: 'dev', use: 'dev' },
        { id: 'corp', use: 'oidc', issuer: idpIssuer, client_id: 'broker', client_secret: UPSTREAM_SECRET },
      ],
      metrics: { listen: { port: 0 } },
      rate_limits: { client_auth_failures: { limit: 3, window_s: 60 } },
    });
    metrics = metricsServer(broker.app.metrics!.registry);
    await new Promise<void>((resolve) => metrics.listen(0, '127.0.0.1', resolve));
    metricsUrl = `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`;
  });

  afterAll(async () => {
    await broker?.close();
    await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
    await idp?.close();
  });

  async function scrape(): Promise<Scrape> {
    const res = await fetch(metricsUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await res.text());
  }

  /** Follows the browser through the broker and the upstream until it reaches the app. */
  async function walkCorp(start: URL): Promise<URL> {
    const agents = new Map([
      [new URL(broker.url).origin, new UserAgent()],
      [idpIssuer, new UserAgent()],
    ]);
    let url = start;
    for (let step = 0; step < 20; step++) {
      if (url.origin + url.pathname === REDIRECT) return url;
      const ua = agents.get(url.origin)!;
      let res: Response;
      if (url.origin === idpIssuer && /^\/interaction\/[^/]+$/.test(url.pathname)) {
        const page = await (await ua.get(url)).text();
        const prompt =
          /name="prompt" value="(\w+)"/.exec(page)?.[1] ?? (page.includes('name="login"') ? 'login' : 'consent');
        res = await ua.postForm(url, prompt === 'login' ? { prompt, login: 'carol', password: 'any' } : { prompt });
      } else {
        res = await ua.get(url);
      }
      const next = res.headers.get('location');
      if (!next) throw new Error(`stopped at ${url.href} with ${res.status}`);
      url = new URL(next, url);
    }
    throw new Error('too many hops');
  }

  it('counts a brokered login, its upstream requests, its token and its store calls', async () => {
    const before = await scrape();
    const config = await oidc.discovery(new URL(broker.url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
      execute: [oidc.allowInsecureRequests],
    });
    const auth = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid email', provider: 'corp' });
    const callback = await walkCorp(auth.url);
    await oidc.authorizationCodeGrant(config, callback, auth.checks);
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);

    expect(moved('login_broker_logins_total', { provider: 'corp', outcome: 'success' })).toBe(1);
    expect(moved('login_broker_tokens_issued_total', { grant_type: 'authorization_code' })).toBe(1);
    for (const step of ['discovery', 'token', 'jwks', 'userinfo']) {
      expect(
        moved('login_broker_upstream_request_duration_seconds_count', { provider: 'corp', step }),
        step,
      ).toBeGreaterThanOrEqual(1);
    }
    // Routes are the router's patterns, never the raw path (which holds the provider id here).
    expect(
      moved('login_broker_http_requests_total', { route: '/callback/:provider', method: 'GET', status: '303' }),
    ).toBe(1);
    expect(moved('login_broker_http_requests_total', { route: '/token', method: 'POST', status: '200' })).toBe(1);
    expect(moved('login_broker_http_request_duration_seconds_count', { route: '/authorize' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(after.text).not.toContain('route="/callback/corp"');
    expect(moved('login_broker_store_round_trips_total')).toBeGreaterThan(0);
    expect(moved('login_broker_store_commands_total')).toBeGreaterThanOrEqual(
      moved('login_broker_store_round_trips_total'),
    );
    expect(after.value('login_broker_store_up')).toBe(1);
    // prom-client's default process metrics are there too.
    expect(after.value('process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('counts a denied dev login and the failure class of an upstream login', async () => {
    const before = await scrape();
    const url = new URL(`${broker.url}/authorize`);
    url.search = new URLSearchParams({
      ...DEV_AUTHORIZE,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    }).toString();
    // Arriving on the other provider's callback is a mix-up, whatever the answer says.
    const ua = new UserAgent();
    const upstream = new URL((await ua.get(url)).headers.get('location')!);
    const state = upstream.searchParams.get('state')!;
    await ua.get(`${broker.url}/callback/corp?state=${encodeURIComponent(state)}&error=access_denied`);
    const after = await scrape();
    expect(
      after.value('login_broker_logins_total', { provider: 'dev', outcome: 'mixup' }) -
        before.value('login_broker_logins_total', { provider: 'dev', outcome: 'mixup' }),
    ).toBe(1);
    expect(after.value('login_broker_upstream_errors_total', { provider: 'dev', kind: 'mixup' })).toBe(1);
  });

  it('labels unknown paths "unmatched" and counts token errors by endpoint and code', async () => {
    const before = await scrape();
    expect((await fetch(`${broker.url}/no/such/path-${Date.now()}`)).status).toBe(404);
    const bad = await fetch(`${broker.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('web', 'wrong') },
      body: 'grant_type=client_credentials',
    });
    expect(bad.status).toBe(401);
    const introspect = await fetch(`${broker.url}/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    });
    expect(introspect.status).toBe(401);
    const after = await scrape();
    const moved = (name: string, labels?: Record<string, string>) =>
      after.value(name, labels) - before.value(name, labels);
    expect(moved('login_broker_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(after.text).not.toMatch(/route="\/no\/such/);
    expect(moved('login_broker_token_errors_total', { endpoint: 'token', error: 'invalid_client' })).toBe(1);
    expect(moved('login_broker_token_errors_total', { endpoint: 'introspection', error: 'invalid_client' })).toBe(1);
  });

  it('counts rate-limited requests by limit', async () => {
    const before = await scrape();
    const attempt = () =>
      fetch(`${broker.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('machine', 'wrong') },
        body: 'grant_type=client_credentials',
      });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await attempt()).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    const after = await scrape();
    expect(
      after.value('login_broker_rate_limited_total', { limit: 'client_auth_failures' }) -
        before.value('login_broker_rate_limited_total', { limit: 'client_auth_failures' }),
    ).toBe(2);
  });

  it('serves nothing else: /metrics is not on the public port, other paths 404 here', async () => {
    expect((await fetch(`${broker.url}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(405);
  });

  it('a dev login counts as a success of the dev provider', async () => {
    const before = await scrape();
    const url = new URL(`${broker.url}/authorize`);
    url.search = new URLSearchParams({
      ...DEV_AUTHORIZE,
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
    }).toString();
    const back = await loginWithDev(new UserAgent(), url, { username: 'dora' });
    expect(back.searchParams.get('code')).toBeTruthy();
    const after = await scrape();
    expect(
      after.value('login_broker_logins_total', { provider: 'dev', outcome: 'success' }) -
        before.value('login_broker_logins_total', { provider: 'dev', outcome: 'success' }),
    ).toBe(1);
  });
});
