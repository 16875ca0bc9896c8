import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, type RedisTarget } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { pkceAuthorization } from '../support/app-client.js';
import { CLIENTS, SECRETS } from '../support/broker-fixture.js';
import { redisServerAvailable, waitUntilReady } from '../support/redis-server.js';
import { redisCliAvailable, startRedisCluster, startRedisSentinel } from '../support/redis-topologies.js';
import { startRoundRobin, type RoundRobin } from '../support/round-robin.js';
import { UserAgent } from '../support/user-agent.js';
import { idpHop, nextHop } from '../support/idp-hops.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET as UPSTREAM_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * The login suite with two broker instances behind a balancer that alternates requests, on a
 * Redis Cluster and on Sentinel: app (openid-client) → broker → oidc-provider upstream → broker
 * → app tokens, refresh, userinfo. No sticky sessions: consecutive requests of one login land
 * on different instances, so signing keys, cookie secrets and every login step must be shared
 * through the store.
 */
const REDIRECT = 'http://127.0.0.1:5000/cb';
const available = redisServerAvailable() && redisCliAvailable();

const topologies: { name: string; start: () => Promise<{ target: RedisTarget; stop(): Promise<void> }> }[] = [
  { name: 'Redis Cluster (3 masters, 3 replicas)', start: startRedisCluster },
  { name: 'Redis Sentinel (master, replica, 3 sentinels)', start: () => startRedisSentinel() },
];

for (const topology of topologies) {
  describe.runIf(available)(`two broker instances on ${topology.name}`, () => {
    let redis: { target: RedisTarget; stop(): Promise<void> };
    let idp: UpstreamIdp;
    let idpIssuer: string;
    let balancer: RoundRobin;
    const instances: RunningApp[] = [];

    beforeAll(async () => {
      redis = await topology.start();
      idp = await startUpstreamIdp({ redirectUri: () => `${balancer.url}/callback/corp` });
      idpIssuer = idp.issuer;
      balancer = await startRoundRobin([]);
      const config = {
        issuer: balancer.url,
        clients: CLIENTS,
        providers: [
          { id: 'corp', use: 'oidc', issuer: idpIssuer, client_id: 'broker', client_secret: UPSTREAM_SECRET },
        ],
      };
      // Started one after the other: the second finds the keys and secrets the first stored.
      for (let i = 0; i < 2; i++) {
        const store = await waitUntilReady(
          new RedisStore({ target: redis.target, prefix: 'lb:', commandTimeoutMs: 1000, refuseCrossSlot: true }),
        );
        instances.push(await startApp(config, { store }));
      }
      balancer.backends.push(...instances.map((app) => app.url));
      balancer.served.push(0, 0);
    }, 90_000);

    afterAll(async () => {
      await Promise.all(instances.map((app) => app.close()));
      await balancer?.close();
      await idp?.close();
      await redis?.stop();
    });

    /** Follows the browser through the balancer and the upstream to the app's redirect URI. */
    async function walk(start: URL, account: string): Promise<{ callback: URL; brokerHops: number }> {
      const agents = new Map([
        [new URL(balancer.url).origin, new UserAgent()],
        [idpIssuer, new UserAgent()],
      ]);
      let url = start;
      let brokerHops = 0;
      for (let step = 0; step < 20; step++) {
        if (url.origin + url.pathname === REDIRECT) return { callback: url, brokerHops };
        const ua = agents.get(url.origin);
        if (!ua) throw new Error(`unexpected hop to ${url.origin}`);
        if (url.origin === balancer.url) brokerHops++;
        url = await nextHop(await idpHop(ua, url, idpIssuer, account), url);
      }
      throw new Error('too many hops');
    }

    it('agrees across instances on signing keys and discovery (they live in the store)', async () => {
      const [a, b] = await Promise.all(instances.map(async (app) => (await fetch(`${app.url}/jwks`)).json()));
      expect(a).toEqual(b);
      expect((a as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    });

    it('signs the app in, refreshes and reads userinfo, with requests alternating between instances', async () => {
      const before = [...balancer.served];
      const config = await oidc.discovery(
        new URL(balancer.url),
        'web',
        SECRETS.web,
        oidc.ClientSecretBasic(SECRETS.web),
        {
          execute: [oidc.allowInsecureRequests],
        },
      );
      const scope = 'openid profile email offline_access';
      const { url, checks } = await pkceAuthorization(config, {
        redirect_uri: REDIRECT,
        scope,
        provider: 'corp',
        prompt: 'consent',
      });
      const { callback, brokerHops } = await walk(url, 'dana');
      expect(brokerHops).toBeGreaterThanOrEqual(2);
      const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
      const claims = tokens.claims()!;
      expect(claims.iss).toBe(balancer.url);
      expect(tokens.refresh_token).toEqual(expect.any(String));

      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(refreshed.access_token).not.toBe(tokens.access_token);
      const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token!);
      const userinfo = await oidc.fetchUserInfo(config, again.access_token, claims.sub);
      expect(userinfo).toMatchObject({ sub: claims.sub, email: 'dana@corp.example' });
      // The first refresh token was rotated away: a replay is refused, on whichever instance.
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      });

      // A second login of the same upstream account is the same broker user.
      const second = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid', provider: 'corp' });
      const back = await walk(second.url, 'dana');
      const secondTokens = await oidc.authorizationCodeGrant(config, back.callback, second.checks);
      expect(secondTokens.claims()!.sub).toBe(claims.sub);

      // Both instances took part, about evenly.
      const served = balancer.served.map((n, i) => n - before[i]!);
      expect(Math.min(...served)).toBeGreaterThanOrEqual(Math.floor((served[0]! + served[1]!) / 2) - 1);
    });
  });
}
