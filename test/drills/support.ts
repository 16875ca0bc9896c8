import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisTarget } from '../../src/store/index.js';
import { MAIN, ROOT } from '../support/built.js';
import { CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { UserAgent } from '../support/user-agent.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET } from '../support/upstream-idp.js';

export const REDIRECT = 'http://127.0.0.1:5000/cb';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a drill saw, by answer class. `other5xx` must stay 0: a fault is a 503, never a 500. */
export class Tally {
  sent = 0;
  ok = 0;
  unavailable = 0;
  /** 502 from the balancer: the instance died under the request (the browser retries). */
  gateway = 0;
  client4xx = 0;
  other5xx = 0;
  logins = 0;
  restartedLogins = 0;
  slowest503Ms = 0;
  readonly problems: string[] = [];

  record(status: number, ms: number, what: string): void {
    this.sent++;
    if (status >= 200 && status < 400) this.ok++;
    else if (status === 503) {
      this.unavailable++;
      this.slowest503Ms = Math.max(this.slowest503Ms, ms);
    } else if (status === 502) this.gateway++;
    else if (status >= 400 && status < 500) {
      this.client4xx++;
      if (this.problems.length < 5) this.problems.push(`${status} ${what}`);
    } else {
      this.other5xx++;
      this.problems.push(`${status} ${what}`);
    }
  }

  summary(name: string, extra: Record<string, string | number> = {}): string {
    const parts = {
      sent: this.sent,
      '2xx/3xx': this.ok,
      503: this.unavailable,
      '502 (instance gone)': this.gateway,
      '4xx': this.client4xx,
      'other 5xx': this.other5xx,
      logins: this.logins,
      'logins restarted': this.restartedLogins,
      'slowest 503 ms': this.slowest503Ms,
      ...extra,
    };
    const line = `[drill] ${name}: ${Object.entries(parts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`;
    console.log(this.problems.length ? `${line}\n  first problems: ${this.problems.join('; ')}` : line);
    return line;
  }
}

/** An upstream OIDC provider (oidc-provider 8) that signs anyone in; `tokenDelayMs` slows its token endpoint. */
export function startIdp(brokerIssuer: () => string, options: { tokenDelayMs?: number } = {}) {
  return startUpstreamIdp({ redirectUri: () => `${brokerIssuer()}/callback/corp`, tokenDelayMs: options.tokenDelayMs });
}

/** The broker configuration of a drill, as JSON (which YAML reads). */
export function brokerConfig(issuer: string, idpIssuer: string, redis: RedisTarget, port = 0, drainMs = 0) {
  return {
    issuer,
    listen: { host: '127.0.0.1', port, drain_ms: drainMs },
    store: { redis, prefix: 'lb:', command_timeout_ms: 1000 },
    log: { level: 'warn' },
    clients: CLIENTS,
    providers: [
      { id: 'corp', use: 'oidc', issuer: idpIssuer, client_id: 'broker', client_secret: UPSTREAM_IDP_SECRET },
    ],
  };
}

export interface BrokerProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
}

/** Runs dist/main.js with a configuration file; resolves once it is ready (/readyz 200). */
export async function spawnBroker(
  dir: string,
  name: string,
  config: ReturnType<typeof brokerConfig>,
): Promise<BrokerProcess> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [MAIN, '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output = (output + d).slice(-20_000)));
  child.stderr!.on('data', (d) => (output = (output + d).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${config.listen.port}`;
  const deadline = Date.now() + 15_000;
  while (
    (await fetch(`${url}/readyz`).then(
      (r) => r.status,
      () => 0,
    )) !== 200
  ) {
    if (child.exitCode !== null) throw new Error(`broker exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`broker did not start: ${output}`);
    await sleep(50);
  }
  return { url, child, exited, output: () => output };
}

/**
 * One browser signing in to the app through the balancer, as a person would: a 503 or a 502
 * is retried after a short pause; a 4xx (a login step that cannot be repeated) starts the login
 * again. Returns true once the app holds tokens, false when `deadline` passes first.
 */
export async function browserLogin(
  lb: string,
  idp: string,
  tally: Tally,
  deadline: number,
  account = 'drill',
): Promise<boolean> {
  while (Date.now() < deadline) {
    const result = await attemptLogin(lb, idp, tally, deadline, account);
    if (result === 'done') {
      tally.logins++;
      return true;
    }
    if (result === 'restart') tally.restartedLogins++;
  }
  return false;
}

async function attemptLogin(lb: string, idp: string, tally: Tally, deadline: number, account: string) {
  const broker = new UserAgent();
  const upstream = new UserAgent();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const authorize = new URL(`${lb}/authorize`);
  for (const [k, v] of Object.entries({
    client_id: 'web',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    provider: 'corp',
    state: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(k, v);

  /** A broker call, retried on 502/503 until it answers otherwise. */
  const call = async (what: string, send: () => Promise<Response>): Promise<Response | undefined> => {
    while (Date.now() < deadline) {
      const started = Date.now();
      let res: Response;
      try {
        res = await send();
      } catch {
        await sleep(100);
        continue;
      }
      tally.record(res.status, Date.now() - started, what);
      if (res.status !== 502 && res.status !== 503) return res;
      await res.arrayBuffer();
      await sleep(100);
    }
    return undefined;
  };

  const started = await call('GET /authorize', () => broker.get(authorize));
  if (!started) return 'timeout';
  if (started.status !== 303) return 'restart';
  let url = new URL(started.headers.get('location')!);
  for (let step = 0; step < 10 && url.origin === idp; step++) {
    let res: Response;
    if (/^\/interaction\/[^/]+$/.test(url.pathname)) {
      const page = await (await upstream.get(url)).text();
      const prompt =
        /name="prompt" value="(\w+)"/.exec(page)?.[1] ?? (page.includes('name="login"') ? 'login' : 'consent');
      res = await upstream.postForm(url, prompt === 'login' ? { prompt, login: account, password: 'x' } : { prompt });
    } else {
      res = await upstream.get(url);
    }
    url = new URL(res.headers.get('location')!, url);
  }
  const back = await call('GET /callback/corp', () => broker.get(url));
  if (!back) return 'timeout';
  if (back.status !== 303) return 'restart';
  const code = new URL(back.headers.get('location')!).searchParams.get('code');
  if (!code) return 'restart';
  const basic = `Basic ${Buffer.from(`web:${SECRETS.web}`).toString('base64')}`;
  const token = await call('POST /token', () =>
    fetch(`${lb}/token`, {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    }),
  );
  if (!token) return 'timeout';
  await token.arrayBuffer();
  return token.status === 200 ? 'done' : 'restart';
}

/** Polls until `check` holds; returns the milliseconds it took. */
export async function timeUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - started > timeoutMs) throw new Error(`not recovered within ${timeoutMs} ms`);
    await sleep(50);
  }
  return Date.now() - started;
}

export const readyz = async (base: string) => (await fetch(`${base}/readyz`)).status;
