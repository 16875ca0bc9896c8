import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_KINDS } from '../../src/app.js';
import { routeKindOf } from '../../src/http/route-kind.js';
import { BASE_CONFIG, CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { startApp, type RunningApp } from '../support/app.js';

/**
 * Every route of the app, with the methods it answers and what kind of client it answers: an
 * `api` answers errors as JSON in the RFC 6749 §5.2 shape whatever Accept says, a `page` as
 * HTML, an `asset` as the client prefers.
 */
const ROUTES: { path: string; methods: string[]; kind: 'api' | 'page' | 'asset' }[] = [
  { path: '/healthz', methods: ['GET', 'HEAD'], kind: 'api' },
  { path: '/readyz', methods: ['GET', 'HEAD'], kind: 'api' },
  { path: '/static/broker.css', methods: ['GET', 'HEAD'], kind: 'asset' },
  { path: '/static/providers.css', methods: ['GET', 'HEAD'], kind: 'asset' },
  { path: '/.well-known/openid-configuration', methods: ['GET', 'HEAD'], kind: 'api' },
  { path: '/.well-known/oauth-authorization-server', methods: ['GET', 'HEAD'], kind: 'api' },
  { path: '/jwks', methods: ['GET', 'HEAD'], kind: 'api' },
  { path: '/token', methods: ['POST'], kind: 'api' },
  { path: '/introspect', methods: ['POST'], kind: 'api' },
  { path: '/revoke', methods: ['POST'], kind: 'api' },
  { path: '/userinfo', methods: ['GET', 'HEAD', 'POST'], kind: 'api' },
  { path: '/authorize', methods: ['GET', 'HEAD', 'POST'], kind: 'page' },
  { path: '/interaction/abc', methods: ['GET', 'HEAD'], kind: 'page' },
  { path: '/interaction/abc/consent', methods: ['GET', 'HEAD', 'POST'], kind: 'page' },
  { path: '/interaction/abc/login', methods: ['POST'], kind: 'page' },
  { path: '/logout', methods: ['GET', 'HEAD', 'POST'], kind: 'page' },
  { path: '/upstream/dev/login', methods: ['GET', 'HEAD'], kind: 'page' },
  { path: '/callback/dev', methods: ['GET', 'HEAD', 'POST'], kind: 'page' },
  { path: '/account', methods: ['GET', 'HEAD'], kind: 'page' },
  { path: '/account/login', methods: ['POST'], kind: 'page' },
  { path: '/account/link/dev', methods: ['POST'], kind: 'page' },
  { path: '/account/unlink', methods: ['POST'], kind: 'page' },
  { path: '/demo', methods: ['GET', 'HEAD'], kind: 'page' },
  { path: '/demo/login', methods: ['GET', 'HEAD'], kind: 'page' },
  { path: '/demo/callback', methods: ['GET', 'HEAD'], kind: 'page' },
];

/** Paths no route serves; those under an API path answer JSON whatever Accept says. */
const UNKNOWN: { path: string; kind?: 'api' }[] = [
  { path: '/nope' },
  { path: '/interaction' },
  { path: '/register', kind: 'api' },
  { path: '/.well-known/webfinger', kind: 'api' },
  { path: '/token/extra', kind: 'api' },
  { path: '/userinfo/me', kind: 'api' },
];

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];
// Methods @koa/router does not implement: its allowedMethods() answered them 501.
METHODS.push('PROPFIND', 'TRACE', 'SEARCH', 'QUERY', 'LOCK', 'PURGE', 'MKCOL');
const ACCEPTS = [undefined, 'text/html', 'text/html,application/xhtml+xml,*/*;q=0.8', 'application/json'];

interface Answer {
  status: number;
  type: string;
  allow: string | undefined;
  body: string;
}

let running: RunningApp;
beforeAll(async () => {
  const web = CLIENTS[0]!;
  running = await startApp((issuer) => ({
    ...BASE_CONFIG,
    clients: [
      { ...web, redirect_uris: [...(web.redirect_uris ?? []), `${issuer}/demo/callback`] },
      ...CLIENTS.slice(1),
    ],
    demo: { client_id: 'web' },
  }));
});
afterAll(() => running.close());

/** node:http, not fetch: fetch refuses TRACE and some other methods. */
function send(method: string, path: string, accept: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = accept ? { accept } : {};
    const req = request(`${running.url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type'] ?? ''),
          allow: res.headers.allow,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function expectKind(answer: Answer, kind: 'api' | 'page' | 'asset' | undefined, method: string, accept?: string) {
  if (method === 'HEAD') return;
  if (kind === 'api') {
    expect(answer.type).toContain('application/json');
    const body = JSON.parse(answer.body) as { error?: unknown; error_description?: unknown };
    expect(typeof body.error).toBe('string');
    expect(typeof body.error_description).toBe('string');
  } else if (kind === 'page') {
    expect(answer.type).toContain('text/html');
  } else {
    expect(answer.type).toContain(accept?.startsWith('text/html') ? 'text/html' : 'application/json');
  }
  expect(answer.body).not.toMatch(/\bat .*\.[jt]s:\d+/);
}

const allowed = (answer: Answer) =>
  (answer.allow ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean)
    .sort();

describe('every route × every method', () => {
  for (const route of ROUTES) {
    it(`${route.path} (${route.kind}): the right methods, 405 + Allow otherwise, never a 5xx`, async () => {
      for (const method of METHODS) {
        for (const accept of ACCEPTS) {
          const answer = await send(method, route.path, accept);
          const what = `${method} ${route.path} (Accept: ${accept ?? 'none'}) answered ${answer.status}`;
          expect(answer.status, what).toBeLessThan(500);
          if (route.methods.includes(method)) {
            expect(answer.status, what).not.toBe(405);
            if (answer.status >= 400 && route.kind !== 'asset') expectKind(answer, route.kind, method, accept);
          } else if (method === 'OPTIONS') {
            expect(answer.status, what).toBe(204);
            expect(allowed(answer), what).toEqual([...route.methods].sort());
          } else {
            expect(answer.status, what).toBe(405);
            expect(allowed(answer), what).toEqual([...route.methods].sort());
            expectKind(answer, route.kind, method, accept);
          }
        }
      }
    });
  }

  for (const { path, kind } of UNKNOWN) {
    it(`${path}: 404 for every method${kind ? ', as JSON' : ''}, never a 5xx`, async () => {
      for (const method of METHODS) {
        for (const accept of ACCEPTS) {
          const answer = await send(method, path, accept);
          const what = `${method} ${path} (Accept: ${accept ?? 'none'}) answered ${answer.status}`;
          expect(answer.status, what).toBe(404);
          expect(answer.allow, what).toBeUndefined();
          expectKind(answer, kind ?? 'asset', method, accept);
        }
      }
    });
  }
});

describe('API errors whatever Accept says (RFC 6749 §5.2, RFC 6750 §3)', () => {
  const browser = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
  const form = { ...browser, 'content-type': 'application/x-www-form-urlencoded' };

  it.each([
    ['/token', 'no client', 'grant_type=authorization_code', 401],
    ['/token', 'a bad client', 'grant_type=nope&client_id=web&client_secret=x', 401],
    ['/token', 'a repeated parameter', `grant_type=a&grant_type=b&client_id=web&client_secret=${SECRETS.web}`, 400],
    ['/introspect', 'no client', 'token=abc', 401],
    ['/revoke', 'no client', 'token=abc', 401],
    ['/token', 'a body over the limit', `a=${'x'.repeat(70 * 1024)}`, 413],
  ])('POST %s with %s from a browser answers JSON', async (path, _what, body, status) => {
    const res = await fetch(`${running.url}${path}`, { method: 'POST', headers: form, body });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ error: expect.any(String), error_description: expect.any(String) });
  });

  it('POST /token with a wrong content type from a browser answers 400 JSON', async () => {
    const headers = { ...browser, 'content-type': 'text/plain' };
    const res = await fetch(`${running.url}/token`, { method: 'POST', headers, body: 'x' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('GET /userinfo from a browser without a token: 401 JSON, a Bearer challenge (RFC 6750 §3.1)', async () => {
    const res = await fetch(`${running.url}/userinfo`, { headers: browser });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="login-broker"');
    expect(res.headers.get('content-type')).toContain('application/json');
  });

  it('GET /userinfo from a browser with a bad token answers 401 invalid_token JSON', async () => {
    const headers = { ...browser, authorization: 'Bearer abc.def.ghi' };
    const res = await fetch(`${running.url}/userinfo`, { headers });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('a browser route still answers its errors as a page to a client that prefers JSON', async () => {
    const res = await fetch(`${running.url}/authorize?client_id=nobody`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
  });
});

describe('under an issuer path', () => {
  let nested: RunningApp;
  beforeAll(async () => {
    nested = await startApp((issuer) => ({ ...BASE_CONFIG, issuer: `${issuer}/auth` }));
  });
  afterAll(() => nested.close());
  const at = (method: string, path: string) =>
    fetch(`${nested.url}${path}`, { method, headers: { accept: 'text/html' } });

  it('knows its routes by their full path: 405 + Allow there, 404 outside it', async () => {
    const api = await at('PUT', '/auth/token');
    expect(api.status).toBe(405);
    expect(api.headers.get('allow')).toBe('POST');
    expect(api.headers.get('content-type')).toContain('application/json');
    const page = await at('PATCH', '/auth/authorize');
    expect(page.status).toBe(405);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect((await at('PUT', '/token')).status).toBe(404);
    // Routes match whatever the case, and so do their kinds.
    const shouted = await at('PUT', '/auth/TOKEN');
    expect(shouted.status).toBe(405);
    expect(shouted.headers.get('content-type')).toContain('application/json');
    const unknownApi = await at('GET', '/auth/register');
    expect(unknownApi.status).toBe(404);
    expect(unknownApi.headers.get('content-type')).toContain('application/json');
  });
});

describe('route kinds', () => {
  const kindOf = routeKindOf(ROUTE_KINDS, '/auth');

  it('match a declared path and what lies under it, not a longer name', () => {
    expect(kindOf('/auth/account')).toBe('page');
    expect(kindOf('/auth/account/link/dev')).toBe('page');
    expect(kindOf('/auth/accounts')).toBeUndefined();
    expect(kindOf('/auth/token')).toBe('api');
    expect(kindOf('/AUTH/Token')).toBe('api');
    expect(kindOf('/auth/tokens')).toBeUndefined();
    expect(kindOf('/auth/.well-known/anything')).toBe('api');
    expect(kindOf('/token')).toBeUndefined();
    expect(kindOf('/authorize')).toBeUndefined();
  });
});
