import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to its addresses (injectable: tests answer with any address). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Why a fetch was refused or failed; the message is safe to show (it names no secret). */
export class FetchRefused extends Error {
  override readonly name = 'FetchRefused';
  /**
   * What may be told to whoever chose the URL: the message, unless it tells how a host name
   * resolves in the broker's network (an anonymous party could map internal names with it).
   */
  readonly shown: string;
  constructor(message: string, shown?: string) {
    super(message);
    this.shown = shown ?? message;
  }
}

export interface SafeFetchOptions {
  maxBytes: number;
  timeoutMs: number;
  /** Loopback addresses (and http to them) are allowed: only when the broker's issuer is loopback (tests). */
  allowLoopback: boolean;
  resolve?: Resolver;
}

export interface FetchedJson {
  body: unknown;
  headers: IncomingHttpHeaders;
}

// IPv4-compatible IPv6 (::a.b.c.d, RFC 4291 §2.5.5.1, deprecated): npm:ipaddr.js calls it unicast.
const IPV4_COMPATIBLE = ipaddr.parseCIDR('::/96');

/**
 * Why the broker must not connect to this address, or undefined: only global unicast addresses
 * pass (npm:ipaddr.js classifies by the IANA special-purpose registries: private, loopback,
 * link-local, CGNAT, multicast, unspecified, reserved, documentation, 6to4, Teredo, NAT64 and the
 * rest are refused), IPv4-mapped IPv6 judged as the IPv4 address it maps. Loopback passes only
 * when allowed (a loopback issuer, for tests).
 */
export function addressProblem(address: string, allowLoopback: boolean): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const ip = ipaddr.process(address);
  const range = ip.range();
  if (range === 'unicast') {
    return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).match(IPV4_COMPATIBLE)
      ? 'an IPv4-compatible IPv6 address'
      : undefined;
  }
  if (range === 'loopback' && allowLoopback) return undefined;
  return `a ${range} address`;
}

const unusableHost = (host: string) => `${host} does not resolve to public addresses only`;

/**
 * GET a JSON document from a URL an outsider chose (SSRF-safe, docs/security.md S-REG-04):
 * https only (http only to loopback addresses when loopback is allowed); the host is resolved
 * here and every address it resolves to must be a global unicast one; the connection goes to
 * the checked address (a pinned lookup: no second resolution a rebinding DNS could answer
 * differently); no redirect is followed; the body is read to `maxBytes` at most and the whole
 * exchange ends within `timeoutMs`.
 */
export async function fetchJson(target: string, options: SafeFetchOptions): Promise<FetchedJson> {
  if (!URL.canParse(target)) throw new FetchRefused('not an absolute URL');
  const url = new URL(target);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = ipaddr.isValid(host);
  const https = url.protocol === 'https:';
  // http only to loopback, and only when loopback is allowed (checked again on the resolved addresses).
  if (!https && !(url.protocol === 'http:' && options.allowLoopback)) throw new FetchRefused('must be an https URL');
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const timedOut = new Promise<never>((_, reject) => {
    deadline.addEventListener('abort', () => reject(new FetchRefused(`no answer within ${options.timeoutMs} ms`)), {
      once: true,
    });
  });
  timedOut.catch(() => undefined);

  let addresses: { address: string; family: number }[];
  if (literal) {
    addresses = [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }];
  } else {
    try {
      addresses = await Promise.race([(options.resolve ?? systemResolver)(host), timedOut]);
    } catch (err) {
      if (err instanceof FetchRefused) throw err;
      throw new FetchRefused(`${host} does not resolve`, unusableHost(host));
    }
    if (addresses.length === 0) throw new FetchRefused(`${host} does not resolve`, unusableHost(host));
  }
  for (const { address } of addresses) {
    const problem = addressProblem(address, options.allowLoopback);
    if (problem) throw new FetchRefused(`${host} resolves to ${problem}`, literal ? undefined : unusableHost(host));
    if (!https && ipaddr.process(address).range() !== 'loopback') throw new FetchRefused('must be an https URL');
  }
  const pinned = addresses[0]!;
  const family = pinned.family === 6 ? 6 : 4;
  // The connection asks this lookup, never DNS: it answers the address checked above.
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all)
      (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: pinned.address, family },
      ]);
    else callback(null, pinned.address, family);
  };
  const request = https ? httpsRequest : httpRequest;
  return new Promise<FetchedJson>((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      agent: false,
      lookup,
      headers: { accept: 'application/json', 'user-agent': 'login-broker' },
      signal: deadline,
    });
    const fail = (err: unknown) => {
      req.destroy();
      reject(
        err instanceof FetchRefused
          ? err
          : deadline.aborted
            ? new FetchRefused(`no answer within ${options.timeoutMs} ms`)
            : new FetchRefused('could not be fetched'),
      );
    };
    req.on('error', fail);
    req.on('response', (res) => {
      res.on('error', fail);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400)
        return fail(new FetchRefused(`answered a redirect (${status}); redirects are not followed`));
      if (status !== 200) return fail(new FetchRefused(`answered ${status}`));
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        return fail(new FetchRefused(`is larger than ${options.maxBytes} bytes`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) return fail(new FetchRefused(`is larger than ${options.maxBytes} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => {
        if (size > options.maxBytes) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return fail(new FetchRefused('is not JSON'));
        }
        resolve({ body, headers: res.headers });
      });
    });
    req.end();
  });
}
