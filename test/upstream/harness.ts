import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { vi } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { providersSchema } from '../../src/config/providers.js';
import { browserId } from '../../src/http/browser-id.js';
import { errorHandler } from '../../src/http/errors.js';
import { MemoryStore, type Store } from '../../src/store/index.js';
import { UnitOfWork } from '../../src/store/unit-of-work.js';
import { createUpstream, type Upstream } from '../../src/upstream/index.js';
import type { LoginContext, LoginHandler } from '../../src/upstream/types.js';
import type { UserAgent } from '../support/user-agent.js';

export type FinishArgs = Parameters<LoginHandler['finish']>[1];
export type FailArgs = Parameters<LoginHandler['fail']>[1];

export interface Harness {
  issuer: string;
  store: Store;
  upstream: Upstream;
  finish: ReturnType<typeof vi.fn<(ctx: unknown, result: FinishArgs) => Promise<void>>>;
  fail: ReturnType<typeof vi.fn<(ctx: unknown, result: FailArgs) => Promise<void>>>;
  logs: { level: string; obj: object; msg: string }[];
  /** Starts a login in this browser; returns the provider URL it was sent to. */
  begin(browser: UserAgent, providerId: string, context?: LoginContext): Promise<URL>;
  close(): Promise<void>;
}

const DEFAULT_CONTEXT = JSON.stringify({ kind: 'authorize', interaction: 'i-1' });

/** The upstream router in a small Koa app of its own, with the browser-id and error middleware. */
export async function startHarness(
  entries: unknown[],
  options: { store?: Store; providersDir?: URL } = {},
): Promise<Harness> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const store = options.store ?? new MemoryStore({ prefix: 'test:' });
  const finish = vi.fn(async (ctx: unknown, _result: FinishArgs) => {
    const k = ctx as Koa.Context;
    k.status = 303;
    k.set('Location', '/done');
  });
  const fail = vi.fn(async (ctx: unknown, _result: FailArgs) => {
    const k = ctx as Koa.Context;
    k.status = 303;
    k.set('Location', '/failed');
  });
  const logs: Harness['logs'] = [];
  const log = {
    info: (obj: object, msg: string) => logs.push({ level: 'info', obj, msg }),
    warn: (obj: object, msg: string) => logs.push({ level: 'warn', obj, msg }),
  };
  const upstream = createUpstream({
    config: { issuer, providers: providersSchema.parse(entries) },
    store,
    log,
    ...(options.providersDir ? { providersDir: options.providersDir } : {}),
  });
  const app = new Koa();
  app.silent = true;
  app.use(errorHandler(({ status, error, description }) => `<p>${status} ${error}: ${description}</p>`));
  app.use(browserId({ https: false, path: '/' }));
  const start = new Router();
  start.get('/start/:id', async (ctx) => {
    const context = JSON.parse(String(ctx.query.context ?? DEFAULT_CONTEXT)) as LoginContext;
    const work = new UnitOfWork(store);
    const url = await upstream.login.begin(ctx, { providerId: ctx.params.id!, context, work });
    await work.commit();
    ctx.status = 303;
    ctx.set('Location', url);
  });
  app.use(start.routes());
  // Every kind of login goes to the same two mocks, which record what they were handed.
  const handler = { finish, fail } as unknown as LoginHandler<never>;
  const callbacks = upstream.router({ authorize: handler, link: handler, account: handler, device: handler });
  app.use(callbacks.routes());
  app.use(callbacks.allowedMethods());
  server.on('request', app.callback());
  return {
    issuer,
    store,
    upstream,
    finish,
    fail,
    logs,
    async begin(browser, providerId, context) {
      const q = context ? `?context=${encodeURIComponent(JSON.stringify(context))}` : '';
      const response = await browser.fetch(`${issuer}/start/${providerId}${q}`);
      if (response.status !== 303) throw new Error(`begin answered ${response.status}: ${await response.text()}`);
      return new URL(response.headers.get('location')!);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An RSA signing key with its public JWKS, for ID tokens. */
export interface SigningKey {
  privateKey: CryptoKey;
  jwk: JWK;
  sign(claims: Record<string, unknown>, options?: { alg?: string; kid?: string }): Promise<string>;
}

export async function signingKey(kid = 'k1'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    privateKey,
    jwk,
    sign: (claims, options = {}) =>
      new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? kid }).sign(privateKey),
  };
}

/** An unsigned `alg: none` JWT (RFC 7519 §6). */
export function unsecuredJwt(claims: Record<string, unknown>): string {
  const enc = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc(claims)}.`;
}

export function nowS(): number {
  return Math.floor(Date.now() / 1000);
}
