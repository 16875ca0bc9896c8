import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { pkceAuthorization } from '../support/app-client.js';
import { CLIENTS, useBroker } from '../support/broker-fixture.js';
import { loginWithDev } from '../support/dev-login.js';
import { location, UserAgent } from '../support/user-agent.js';

/**
 * Pairwise subjects (OIDC Core §8, §8.1): one user, different `sub`s at clients of different
 * sectors and the same `sub` at clients of one sector, in ID tokens, access tokens, userinfo
 * and introspection.
 */

const SALT = 'pairwise-salt-0123456789abcdef-0123456789';
const SECRET = 'pairwise-secret-0123456789abcdef';

/** The loopback server of the sector_identifier_uri documents. */
const sectorServer: Server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/sector.json') res.end(JSON.stringify(['https://c.example/cb', 'https://d.example/cb']));
  else if (req.url === '/partial.json') res.end(JSON.stringify(['https://e.example/cb']));
  else {
    res.statusCode = 500;
    res.end('{}');
  }
});
await new Promise<void>((resolve) => sectorServer.listen(0, '127.0.0.1', resolve));
const sectorBase = `http://127.0.0.1:${(sectorServer.address() as AddressInfo).port}`;

const pairwise = (client_id: string, redirect_uris: string[], extra: Record<string, unknown> = {}) => ({
  client_id,
  client_secret: SECRET,
  redirect_uris,
  first_party: true,
  subject_type: 'pairwise',
  ...extra,
});
const PAIRWISE_CLIENTS = [
  pairwise('a1', ['https://a.example/cb1']),
  pairwise('a2', ['https://a.example/cb2']),
  pairwise('b', ['https://b.example/cb']),
  pairwise('cd', ['https://c.example/cb', 'https://d.example/cb'], {
    sector_identifier_uri: `${sectorBase}/sector.json`,
  }),
  pairwise('partial', ['https://e.example/cb', 'https://f.example/cb'], {
    sector_identifier_uri: `${sectorBase}/partial.json`,
  }),
  pairwise('down', ['https://g.example/cb'], { sector_identifier_uri: `${sectorBase}/down.json` }),
];
const PUBLIC_WEB = { ...CLIENTS[0], client_secret: SECRET, redirect_uris: ['https://web.example/cb'] };

describe('pairwise subjects', () => {
  const broker = useBroker('memory', {
    clients: [PUBLIC_WEB, ...PAIRWISE_CLIENTS],
    subjects: { pairwise_salt: SALT },
  });
  afterAll(() => new Promise<void>((resolve) => sectorServer.close(() => resolve())));

  const discover = (clientId: string) =>
    oidc.discovery(new URL(broker().url), clientId, SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    });

  /** Logs `username` in at `clientId` and collects every sub the client is shown. */
  async function subsAt(clientId: string, redirect: string, username = 'pairwise-user') {
    const config = await discover(clientId);
    const { url, checks } = await pkceAuthorization(config, {
      redirect_uri: redirect,
      scope: 'openid profile offline_access',
    });
    const ua = new UserAgent();
    const callback = await loginWithDev(ua, url, { username });
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    const idSub = tokens.claims()!.sub;
    const accessToken = decodeJwt(tokens.access_token);
    // fetchUserInfo checks that userinfo's sub is the ID token's (OIDC Core §5.3.2).
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idSub);
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    const refreshIntrospected = await oidc.tokenIntrospection(config, tokens.refresh_token!);
    return {
      ua,
      config,
      idToken: tokens.id_token!,
      accessToken,
      subs: [idSub, accessToken.sub, userinfo.sub, introspected.sub, refreshIntrospected.sub],
    };
  }

  it('is the same in every token and answer of one client, and in one sector; differs across sectors', async () => {
    const a1 = await subsAt('a1', 'https://a.example/cb1');
    const a2 = await subsAt('a2', 'https://a.example/cb2');
    const b = await subsAt('b', 'https://b.example/cb');
    const web = await subsAt('web', 'https://web.example/cb');
    for (const seen of [a1, a2, b, web]) expect(new Set(seen.subs).size).toBe(1);
    expect(a1.subs[0]).toBe(a2.subs[0]);
    expect(a1.subs[0]).not.toBe(b.subs[0]);
    expect(a1.subs[0]).not.toBe(web.subs[0]);
    expect(b.subs[0]).not.toBe(web.subs[0]);
    // The access token carries the user only sealed: the broker's user id is nowhere in it.
    const userId = web.subs[0]!;
    expect(JSON.stringify(a1.accessToken)).not.toContain(userId);
    expect(a1.accessToken.lb_user).toEqual(expect.any(String));
    expect(web.accessToken.lb_user).toBeUndefined();
    // Another user of the same sector gets another sub.
    const other = await subsAt('a1', 'https://a.example/cb1', 'someone-else');
    expect(other.subs[0]).not.toBe(a1.subs[0]);
  });

  it('uses the sector_identifier_uri host for a client with several redirect hosts, and checks its list', async () => {
    const c = await subsAt('cd', 'https://c.example/cb');
    const d = await subsAt('cd', 'https://d.example/cb');
    expect(c.subs[0]).toBe(d.subs[0]);
    expect(new Set([...c.subs, ...d.subs]).size).toBe(1);
  });

  it('refuses a client whose sector_identifier_uri misses one of its redirect URIs (OIDC Core section 8.1)', async () => {
    const config = await discover('partial');
    const { url } = await pkceAuthorization(config, { redirect_uri: 'https://e.example/cb', scope: 'openid' });
    const back = location(await new UserAgent().get(url));
    expect(back.origin).toBe('https://e.example');
    expect(back.searchParams.get('error')).toBe('invalid_request');
    expect(back.searchParams.get('error_description')).toContain('sector_identifier_uri');
  });

  it('answers temporarily_unavailable while a sector_identifier_uri cannot be read', async () => {
    const config = await discover('down');
    const { url } = await pkceAuthorization(config, { redirect_uri: 'https://g.example/cb', scope: 'openid' });
    const back = location(await new UserAgent().get(url));
    expect(back.searchParams.get('error')).toBe('temporarily_unavailable');
  });

  it('takes a pairwise ID token as id_token_hint at /authorize (prompt=none) and at /logout', async () => {
    const a1 = await subsAt('a1', 'https://a.example/cb1');
    const { url } = await pkceAuthorization(a1.config, {
      redirect_uri: 'https://a.example/cb1',
      scope: 'openid',
      prompt: 'none',
      id_token_hint: a1.idToken,
    });
    const back = location(await a1.ua.get(url));
    expect(back.searchParams.get('error')).toBeNull();
    expect(back.searchParams.get('code')).toBeTruthy();
    const logout = await a1.ua.get(`${broker().url}/logout?id_token_hint=${a1.idToken}`);
    expect(await logout.text()).not.toContain('another user');
    expect(logout.status).toBe(200);
  });

  it('discovery lists pairwise', async () => {
    const meta = (await (await fetch(`${broker().url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.subject_types_supported).toEqual(['public', 'pairwise']);
  });
});

describe('pairwise configuration', () => {
  const problems = (raw: Record<string, unknown>) => {
    const parsed = configSchema.safeParse({ issuer: 'https://login.example.com', ...raw });
    return parsed.success ? '' : JSON.stringify(parsed.error.issues);
  };

  it('needs a salt of 32 characters or more when a client is pairwise', () => {
    const clients = [pairwise('a', ['https://a.example/cb'])];
    expect(problems({ clients, subjects: { pairwise_salt: SALT } })).toBe('');
    expect(problems({ clients })).toContain('pairwise_salt');
    expect(problems({ clients, subjects: { pairwise_salt: 'short' } })).toContain('at least 32');
  });

  it('refuses several redirect hosts without a sector_identifier_uri, and that key on a public client', () => {
    const subjects = { pairwise_salt: SALT };
    const twoHosts = pairwise('a', ['https://a.example/cb', 'https://b.example/cb']);
    expect(problems({ clients: [twoHosts], subjects })).toContain('several hosts');
    const withSector = { ...twoHosts, sector_identifier_uri: 'https://a.example/sector.json' };
    expect(problems({ clients: [withSector], subjects })).toBe('');
    const publicWithSector = { ...withSector, subject_type: 'public' };
    expect(problems({ clients: [publicWithSector], subjects })).toContain('only used with subject_type: pairwise');
    expect(problems({ clients: [{ ...withSector, sector_identifier_uri: 'http://a.example/s' }], subjects })).toContain(
      'https',
    );
  });
});
