/// <reference lib="dom" />
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { startApp, type RunningApp } from '../support/app.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET as UPSTREAM_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * Real Chromium on the account page: signing in at a provider with store_tokens keeps its
 * tokens; the page lists them and the apps that may read them; "forget" deletes them.
 * docs/security.md S-VAULT-04.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const run = chromiumAvailable() && redisServerAvailable();

describe.skipIf(!run)('stored provider tokens on the account page, in a real browser', () => {
  let redis: RedisServer;
  let store: Store;
  let idp: UpstreamIdp;
  let broker: RunningApp;
  let browser: Browser;

  beforeAll(async () => {
    redis = await startRedisServer();
    store = await openRedisStore(redis.url);
    idp = await startUpstreamIdp({
      redirectUri: () => `${broker.url}/callback/corp`,
      brokerClient: { grant_types: ['authorization_code', 'refresh_token'] },
      settings: {
        issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(type: string): boolean }) =>
          client.grantTypeAllowed('refresh_token'),
      },
    });
    const idpIssuer = idp.issuer;
    broker = await startApp(
      {
        providers: [
          {
            id: 'corp',
            use: 'oidc',
            issuer: idpIssuer,
            client_id: 'broker',
            client_secret: UPSTREAM_SECRET,
            name: 'Corp SSO',
            scopes: ['openid', 'email', 'profile', 'offline_access'],
            store_tokens: true,
          },
        ],
        clients: [
          {
            client_id: 'reader',
            client_name: 'Calendar Sync',
            client_secret: 'reader-secret-0123456789abcdef',
            grant_types: [EXCHANGE],
            upstream_tokens: ['corp'],
            first_party: true,
          },
        ],
        token_vault: { keys: [{ id: 'k1', secret: Buffer.alloc(32, 7).toString('base64url') }] },
      },
      { store },
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await idp?.close();
    await redis?.stop();
  });

  async function corpLogin(page: Page, login: string) {
    await page.waitForSelector('input[name=login]');
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'anything');
    await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
    const consent = page.locator('button.login-submit', { hasText: 'Continue' });
    if (await consent.count()) await Promise.all([page.waitForLoadState(), consent.click()]);
  }

  /** The vault entries in Redis, by key. */
  const vaultKeys = async () => {
    const redisClient = new Redis(redis.url);
    try {
      return await redisClient.keys('*vault:{*');
    } finally {
      redisClient.disconnect();
    }
  };

  it('lists the stored Corp SSO tokens with the app that may read them, and forgets them', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${broker.url}/account`);
    await Promise.all([page.waitForLoadState(), page.click('text=Continue with Corp SSO')]);
    await corpLogin(page, 'uma');
    await page.waitForURL(`${broker.url}/account`);
    await page.waitForSelector('text=Stored provider tokens');
    expect(await page.textContent('body')).toContain('Apps that may use it: Calendar Sync');
    const userId = (await page.textContent('code'))!;
    expect(await vaultKeys()).toEqual([expect.stringContaining(`vault:{${userId}}:`)]);

    await Promise.all([page.waitForURL(/notice=forgotten/), page.click('text=Forget Corp SSO tokens')]);
    expect(await page.textContent('body')).toContain('The stored tokens were forgotten');
    expect(await page.locator('text=Stored provider tokens').count()).toBe(0);
    expect(await vaultKeys()).toEqual([]);
  });
});
