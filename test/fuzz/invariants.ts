import { claimOwner, linkKey, parseUser, userKey } from '../../src/identity/user-records.js';
import type { Store } from '../../src/store/index.js';
import type { RawRequest, RawResponse } from './send.js';

/** API routes answer JSON, errors included, whatever the Accept header says. */
const API_ROUTES = [
  '/token',
  '/introspect',
  '/revoke',
  '/userinfo',
  '/jwks',
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/healthz',
  '/readyz',
];

/** The route a path reaches as the router matches it (case-insensitive, one trailing slash). */
export function apiRoute(path: string, base: string): string | undefined {
  let p = path.split('?')[0]!.toLowerCase();
  if (base && p.startsWith(base.toLowerCase())) p = p.slice(base.length);
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return API_ROUTES.find((r) => r === p);
}

const STACK = [
  /\n\s+at [^\n]*:\d+:\d+/,
  /node_modules/,
  /file:\/\//,
  /\/(?:src|dist|test)\/[\w/-]+\.[tj]s/,
  /\bat (?:async )?\w+ \(/,
];

export interface Answer {
  request: RawRequest;
  response: RawResponse;
}

/**
 * What must hold for every answer: no 5xx (but the store's 503 while it is stopped), no stack
 * trace, no configured secret, JSON on API routes. Returns the broken rule, or undefined.
 */
export function broken(
  answer: Answer,
  context: { base: string; secrets: string[]; storeStopped: boolean },
): string | undefined {
  const { request, response } = answer;
  const { status, body } = response;
  if (status >= 500 && !(status === 503 && context.storeStopped)) return `answered ${status}`;
  for (const pattern of STACK) if (pattern.test(body)) return `the body looks like a stack trace (${pattern})`;
  for (const secret of context.secrets) if (body.includes(secret)) return 'the body holds a configured secret';
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----|"d":"[\w-]{20,}"/.test(body)) return 'the body holds private key material';
  const route = apiRoute(request.path, context.base);
  if (route && request.method !== 'HEAD' && body.length > 0) {
    const type = String(response.headers['content-type'] ?? '');
    if (!/^application\/(?:[\w.+-]+\+)?json/.test(type))
      return `the API route ${route} answered ${status} with ${type || 'no content type'}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
    } catch {
      return `the API route ${route} answered ${status} with a body that is not JSON`;
    }
    if (status >= 400 && typeof (parsed as { error?: unknown })?.error !== 'string')
      return `the API route ${route} answered ${status} without an error code`;
  }
  return undefined;
}

/** User ids from store keys (`user:{id}`, or `user:id` from before per-user hash tags). */
export function userIdsOf(keys: Iterable<string>, prefix: string): string[] {
  const ids: string[] = [];
  for (const key of keys) {
    if (!key.startsWith(`${prefix}user:`)) continue;
    const id = key.slice(prefix.length + 'user:'.length);
    ids.push(id.startsWith('{') && id.endsWith('}') ? id.slice(1, -1) : id);
  }
  return ids;
}

/** Nothing half-written: every identity a user lists is linked to that user. */
export async function storeBroken(store: Store, userIds: () => string[]): Promise<string | undefined> {
  for (const id of userIds()) {
    const text = await store.get(userKey(id));
    if (!text) continue;
    const user = parseUser(text);
    for (const identity of user.identities) {
      const owner = claimOwner(await store.get(linkKey(identity)));
      if (owner !== id) {
        const who = `${identity.provider}/${identity.subject}`;
        return `user ${id} lists the identity ${who} without its link (link → ${owner})`;
      }
    }
  }
  return undefined;
}
