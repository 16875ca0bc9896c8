import { createServer, type Server } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { setClock } from '../../../src/lib/clock.js';
import {
  cacheSeconds,
  documentClient,
  documentUrlProblem,
  MetadataDocumentProblem,
  MetadataDocuments,
} from '../../../src/oauth/registration/metadata-documents.js';
import { addressProblem, FetchRefused, fetchJson, type Resolver } from '../../../src/oauth/registration/safe-fetch.js';

/**
 * Client ID Metadata Documents fetched SSRF-safe (docs/security.md S-REG-04), against a loopback
 * HTTP server; address refusals through an injected resolver (nothing is ever connected to but
 * this loopback server).
 */

interface Route {
  status?: number;
  headers?: Record<string, string>;
  body?: string | ((url: string) => string);
  delayMs?: number;
}
const routes = new Map<string, Route>();
const hits = new Map<string, number>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const send = () => {
      const body = typeof route.body === 'function' ? route.body(`${base}${req.url}`) : (route.body ?? '');
      res.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...route.headers });
      res.end(body);
    };
    if (route.delayMs) setTimeout(send, route.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => setClock());

const LIMITS = { max_bytes: 5120, timeout_ms: 500, min_cache_s: 60, max_cache_s: 3600 };
const doc =
  (extra: Record<string, unknown> = {}) =>
  (url: string) =>
    JSON.stringify({ client_id: url, client_name: 'Agent', redirect_uris: ['http://127.0.0.1/cb'], ...extra });

const fetchOptions = { maxBytes: 5120, timeoutMs: 500, allowLoopback: true };

/** Runs `fn` with every socket connect refused and asserts none was tried (a regression fails, never reaches an address). */
async function noConnections(fn: () => Promise<void>): Promise<void> {
  const connect = vi.spyOn(Socket.prototype, 'connect').mockImplementation(() => {
    throw new Error('a connection was attempted');
  });
  try {
    await fn();
    expect(connect).not.toHaveBeenCalled();
  } finally {
    connect.mockRestore();
  }
}

/** What the documents say of a client they refused. */
async function documentProblem(cimd: MetadataDocuments, url: string): Promise<string> {
  expect(await cimd.client(url)).toBeUndefined();
  return cimd.problem(url) ?? 'no problem recorded';
}

async function refusedWith(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FetchRefused || err instanceof MetadataDocumentProblem) return err.message;
    throw err;
  }
  throw new Error('not refused');
}

describe('addressProblem: only global unicast addresses', () => {
  it.each([
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['224.0.0.1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['::7f00:1', 'IPv4-compatible'],
  ])('%s is refused (%s)', (address, kind) => {
    expect(addressProblem(address, false)).toContain(kind);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('%s passes', (address) => {
    expect(addressProblem(address, false)).toBeUndefined();
  });

  it('loopback passes only when allowed (a loopback issuer)', () => {
    expect(addressProblem('127.0.0.1', true)).toBeUndefined();
    expect(addressProblem('::1', true)).toBeUndefined();
    expect(addressProblem('10.0.0.1', true)).toContain('private');
  });
});

describe('fetchJson: the SSRF-safe fetch', () => {
  it('reads a JSON document', async () => {
    routes.set('/ok', { body: '{"a":1}', headers: { 'cache-control': 'max-age=120' } });
    const fetched = await fetchJson(`${base}/ok`, fetchOptions);
    expect(fetched.body).toEqual({ a: 1 });
    expect(fetched.headers['cache-control']).toBe('max-age=120');
  });

  it('does not follow a redirect', async () => {
    routes.set('/redirect', { status: 302, headers: { location: `${base}/ok` } });
    hits.delete('/ok');
    expect(await refusedWith(fetchJson(`${base}/redirect`, fetchOptions))).toContain('redirect');
    expect(hits.get('/ok')).toBeUndefined();
  });

  it('refuses an oversize document, declared or streamed', async () => {
    routes.set('/big', { body: JSON.stringify({ pad: 'x'.repeat(6000) }) });
    expect(await refusedWith(fetchJson(`${base}/big`, fetchOptions))).toContain('larger than 5120 bytes');
    routes.set('/big-chunked', {
      body: JSON.stringify({ pad: 'x'.repeat(6000) }),
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(await refusedWith(fetchJson(`${base}/big-chunked`, fetchOptions))).toContain('larger than 5120 bytes');
  });

  it('gives up on a slow server', async () => {
    routes.set('/slow', { body: '{}', delayMs: 2000 });
    const started = Date.now();
    expect(await refusedWith(fetchJson(`${base}/slow`, fetchOptions))).toContain('no answer within 500 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses a body that is not JSON, and an error status', async () => {
    routes.set('/html', { body: '<html>hi</html>', headers: { 'content-type': 'text/html' } });
    expect(await refusedWith(fetchJson(`${base}/html`, fetchOptions))).toBe('is not JSON');
    routes.set('/gone', { status: 500, body: '{}' });
    expect(await refusedWith(fetchJson(`${base}/gone`, fetchOptions))).toBe('answered 500');
  });

  it('refuses http unless loopback is allowed, and loopback addresses unless allowed', async () => {
    expect(await refusedWith(fetchJson(`${base}/ok`, { ...fetchOptions, allowLoopback: false }))).toBe(
      'must be an https URL',
    );
    const resolve: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    await noConnections(async () => {
      const problem = await refusedWith(
        fetchJson('https://cimd.test/x', { ...fetchOptions, allowLoopback: false, resolve }),
      );
      expect(problem).toContain('loopback');
    });
  });

  it('refuses a host that resolves to a private, link-local or mapped address before connecting', async () => {
    await noConnections(async () => {
      for (const address of ['10.0.0.8', '169.254.169.254', '100.100.100.200', 'fd12::1', '::ffff:192.168.0.1']) {
        const resolve: Resolver = async () => [{ address, family: address.includes(':') ? 6 : 4 }];
        const problem = await refusedWith(
          fetchJson('https://metadata.test/doc', { ...fetchOptions, allowLoopback: false, resolve }),
        );
        expect(problem).toContain('metadata.test resolves to a');
      }
    });
  });

  it('refuses when any resolved address is bad (a public and a private answer mixed)', async () => {
    const resolve: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    await noConnections(async () => {
      const problem = await refusedWith(
        fetchJson('https://mixed.test/doc', { ...fetchOptions, allowLoopback: false, resolve }),
      );
      expect(problem).toContain('private');
    });
  });

  it('connects to the address it checked (pinned), asking DNS once', async () => {
    routes.set('/pinned', { body: '{"pinned":true}' });
    let asked = 0;
    // cimd.test resolves nowhere (RFC 6761 §6.2): the request reaches the server only through the pinned address.
    const resolve: Resolver = async () => {
      asked++;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const port = new URL(base).port;
    const fetched = await fetchJson(`http://cimd.test:${port}/pinned`, { ...fetchOptions, resolve });
    expect(fetched.body).toEqual({ pinned: true });
    expect(asked).toBe(1);
    await fetchJson(`http://127.0.0.1:${port}/pinned`, { ...fetchOptions, resolve });
    expect(asked).toBe(1); // an IP literal is not resolved at all
  });

  it('http only to loopback addresses', async () => {
    const resolve: Resolver = async () => [{ address: '93.184.216.34', family: 4 }];
    await noConnections(async () => {
      expect(await refusedWith(fetchJson('http://public.test/doc', { ...fetchOptions, resolve }))).toBe(
        'must be an https URL',
      );
    });
  });

  it('refuses a name that does not resolve, within the time limit', async () => {
    const resolve: Resolver = () => new Promise(() => undefined);
    expect(await refusedWith(fetchJson('https://never.test/doc', { ...fetchOptions, resolve }))).toContain('no answer');
    const failing: Resolver = async () => {
      throw new Error('ENOTFOUND');
    };
    expect(await refusedWith(fetchJson('https://none.test/doc', { ...fetchOptions, resolve: failing }))).toBe(
      'none.test does not resolve',
    );
  });
});

describe('documentUrlProblem (the CIMD draft §3)', () => {
  it.each([
    ['http://client.example/doc', 'https'],
    ['https://client.example', 'path'],
    ['https://client.example/', 'path'],
    ['https://user:pw@client.example/doc', 'user'],
    ['https://client.example/doc#x', 'fragment'],
    ['https://client.example/doc?v=1', 'query'],
    ['https://client.example/a/../doc', '".."'],
    ['https://client.example/./doc', '"."'],
    ['https://CLIENT.example/doc', 'normalised'],
    ['https://client.example:443/doc', 'normalised'],
    ['not a url', 'not a URL'],
    [`https://client.example/${'a'.repeat(600)}`, 'longer'],
  ])('%s is refused (%s)', (url, why) => {
    expect(documentUrlProblem(url, false)).toContain(why);
  });

  it('accepts an https URL with a path, and loopback http only when allowed', () => {
    expect(documentUrlProblem('https://client.example/oauth/client.json', false)).toBeUndefined();
    expect(documentUrlProblem('http://127.0.0.1:9/doc', false)).toContain('https');
    expect(documentUrlProblem('http://127.0.0.1:9/doc', true)).toBeUndefined();
  });
});

describe('documentClient: the document as a client', () => {
  const URL_ID = 'https://client.example/client.json';
  const good = { client_id: URL_ID, client_name: 'Agent', redirect_uris: ['https://client.example/cb'] };

  it('is a public, non-first-party, code + PKCE client whose id is the URL', () => {
    expect(documentClient(URL_ID, good)).toMatchObject({
      client_id: URL_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      pkce: 'required',
      first_party: false,
    });
  });

  it.each([
    ['a client_id that is not the URL', { ...good, client_id: 'https://client.example/other.json' }, 'not its URL'],
    ['a client_id differing in case', { ...good, client_id: URL_ID.toUpperCase() }, 'not its URL'],
    ['a secret', { ...good, client_secret: 'x'.repeat(20) }, 'client_secret'],
    [
      'a secret auth method',
      { ...good, token_endpoint_auth_method: 'client_secret_basic' },
      'token_endpoint_auth_method',
    ],
    ['first_party', { ...good, first_party: true }, 'first_party'],
    ['client_credentials', { ...good, grant_types: ['client_credentials'] }, 'grant_types'],
    ['an http redirect URI', { ...good, redirect_uris: ['http://client.example/cb'] }, 'redirect_uris'],
    ['no redirect URI', { ...good, redirect_uris: [] }, 'redirect_uris'],
    [
      'a back-channel logout URI',
      { ...good, backchannel_logout_uri: 'https://client.example/bcl' },
      'backchannel_logout_uri',
    ],
    ['an array', [good], 'not a JSON object'],
  ])('%s is refused', (_name, document, why) => {
    expect(() => documentClient(URL_ID, document)).toThrow(why);
  });
});

describe('cacheSeconds (RFC 9111 §5.2.2 max-age, within bounds)', () => {
  const bounds = { min: 60, max: 3600 };
  it.each([
    [undefined, 300],
    ['max-age=120', 120],
    ['public, max-age=10', 60],
    ['max-age=999999', 3600],
    ['no-store', 60],
    ['no-cache, max-age=600', 60],
    ['max-age=abc', 300],
  ])('%s → %d s', (header, seconds) => {
    expect(cacheSeconds(header, bounds)).toBe(seconds);
  });
});

describe('MetadataDocuments: fetch, validate, cache', () => {
  const documents = () => new MetadataDocuments({ limits: LIMITS, allowLoopback: true });

  it('fetches a document client once and serves it from the cache within its max-age', async () => {
    routes.set('/client-a.json', { body: doc(), headers: { 'cache-control': 'max-age=120' } });
    hits.delete('/client-a.json');
    const cimd = documents();
    const [a, b] = await Promise.all([cimd.client(`${base}/client-a.json`), cimd.client(`${base}/client-a.json`)]);
    expect(a?.client_id).toBe(`${base}/client-a.json`);
    expect(b).toBe(a);
    expect(hits.get('/client-a.json')).toBe(1);
    const start = Date.now();
    setClock(() => start + 119_000);
    await cimd.client(`${base}/client-a.json`);
    expect(hits.get('/client-a.json')).toBe(1);
    setClock(() => start + 121_000);
    await cimd.client(`${base}/client-a.json`);
    expect(hits.get('/client-a.json')).toBe(2);
  });

  it('refuses a wrong client_id, a redirect, an oversize and a slow document, naming why', async () => {
    routes.set('/wrong.json', {
      body: () => JSON.stringify({ client_id: 'https://x.example/c', redirect_uris: ['https://x.example/cb'] }),
    });
    routes.set('/moved.json', { status: 301, headers: { location: '/client-a.json' } });
    routes.set('/huge.json', { body: doc({ client_name: 'x'.repeat(90), pad: 'y'.repeat(6000) }) });
    routes.set('/slow.json', { body: doc(), delayMs: 2000 });
    const cimd = documents();
    expect(await documentProblem(cimd, `${base}/wrong.json`)).toContain('not its URL');
    expect(await documentProblem(cimd, `${base}/moved.json`)).toContain('redirect');
    expect(await documentProblem(cimd, `${base}/huge.json`)).toContain('larger than');
    expect(await documentProblem(cimd, `${base}/slow.json`)).toContain('no answer');
  });

  it('remembers a failure for 30 s (a flood of lookups costs one fetch)', async () => {
    routes.set('/broken.json', { body: 'not json' });
    hits.delete('/broken.json');
    const cimd = documents();
    for (let i = 0; i < 5; i++) expect(await documentProblem(cimd, `${base}/broken.json`)).toContain('not JSON');
    expect(hits.get('/broken.json')).toBe(1);
  });

  it('refuses a bad URL without fetching', async () => {
    const cimd = new MetadataDocuments({ limits: LIMITS, allowLoopback: false });
    hits.delete('/client-a.json');
    expect(await documentProblem(cimd, `${base}/client-a.json`)).toContain('https');
    expect(hits.get('/client-a.json')).toBeUndefined();
  });

  it('tells the party that chose the URL nothing of how a host name resolves in the broker network', async () => {
    const answers: Record<string, string[]> = { 'db.internal.test': ['10.1.2.3'], 'nowhere.test': [] };
    const resolve: Resolver = async (host) => (answers[host] ?? []).map((address) => ({ address, family: 4 }));
    const cimd = new MetadataDocuments({ limits: LIMITS, allowLoopback: false, resolve });
    const shown = await Promise.all(
      ['db.internal.test', 'nowhere.test'].map((host) => documentProblem(cimd, `https://${host}/client.json`)),
    );
    expect(shown).toEqual([
      'the client metadata document db.internal.test does not resolve to public addresses only',
      'the client metadata document nowhere.test does not resolve to public addresses only',
    ]);
    // A literal address is the caller's own words: its class may be named.
    expect(await documentProblem(cimd, 'https://10.9.9.9/client.json')).toContain('private');
  });
});
