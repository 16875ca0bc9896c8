import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { UserAgent } from '../support/user-agent.js';
import { pkceAuthorization } from '../support/app-client.js';
import { idpHop, nextHop } from '../support/idp-hops.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * The whole chain on Redis: an app (openid-client) → the broker's /authorize?provider=corp →
 * oidc-provider 8 as the upstream `oidc` provider (its login and consent pages) → the broker's
 * callback → the app's redirect URI with a code → the broker's token endpoint → app tokens.
 */
const REDIRECT = 'http://127.0.0.1:5000/cb';
const available = redisServerAvailable();

describe.skipIf(!available)('app → broker → oidc-provider → broker → app tokens, on Redis', () => {
  let redis: RedisServer;
  let idp: UpstreamIdp;
  let idpIssuer: string;
  let broker: RunningApp;

  beforeAll(async () => {
    redis = await startRedisServer();
    const store = await openRedisStore(redis.url);
    idp = await startUpstreamIdp({ redirectUri: () => `${broker.url}/callback/corp` });
    idpIssuer = idp.issuer;
    broker = await startApp(
      {
        clients: CLIENTS,
        providers: [
          {
            id: 'corp',
            use: 'oidc',
            issuer: idpIssuer,
            client_id: 'broker',
            client_secret: UPSTREAM_IDP_SECRET,
            name: 'Corp SSO',
          },
        ],
      },
      { store },
    );
  });

  afterAll(async () => {
    await broker?.close();
    await idp?.close();
    await redis?.stop();
  });

  /** Follows the browser through both servers until it lands on the app's redirect URI. */
  async function walk(start: URL, account: string): Promise<{ callback: URL; hops: URL[] }> {
    const agents = new Map<string, UserAgent>([
      [new URL(broker.url).origin, new UserAgent()],
      [idpIssuer, new UserAgent()],
    ]);
    const hops: URL[] = [];
    let url = start;
    for (let step = 0; step < 20; step++) {
      hops.push(url);
      if (url.origin + url.pathname === REDIRECT) return { callback: url, hops };
      const ua = agents.get(url.origin);
      if (!ua) throw new Error(`unexpected hop to ${url.origin}`);
      url = await nextHop(await idpHop(ua, url, idpIssuer, account), url);
    }
    throw new Error('too many hops');
  }

  it('signs the app in with the upstream identity', async () => {
    const config = await oidc.discovery(new URL(broker.url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
      execute: [oidc.allowInsecureRequests],
    });
    const {
      url: authorize,
      verifier,
      state,
      nonce,
    } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid profile email', provider: 'corp' });
    const { callback, hops } = await walk(authorize, 'carol');
    // provider=corp went straight to the upstream, and the upstream answered our callback.
    expect(hops.some((u) => u.origin === idpIssuer)).toBe(true);
    expect(hops.some((u) => u.href.startsWith(`${broker.url}/callback/corp?`))).toBe(true);
    expect(idp.tokenRequests).toBe(1);

    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims()!;
    expect(claims.iss).toBe(broker.url);
    expect(claims.aud).toBe('web');
    expect(typeof claims.sub).toBe('string');
    expect(claims.sub).not.toBe('carol'); // the broker's own subject, not the upstream's
    // The upstream's tokens never reach the app.
    expect(JSON.stringify(tokens)).not.toContain(idpIssuer);

    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).toMatchObject({ email: 'carol@corp.example', name: 'Corp carol' });

    // The same upstream account again is the same broker user.
    const second = await walk(
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        provider: 'corp',
      }),
      'carol',
    );
    const again = await oidc.authorizationCodeGrant(config, second.callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    expect(again.claims()!.sub).toBe(claims.sub);
  });
});
