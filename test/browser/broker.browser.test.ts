/// <reference lib="dom" />
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { ROOT } from '../support/built.js';
import { chromiumAvailable, launchChromium } from '../support/chromium.js';
import { openRedisStore, redisServerAvailable, startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startUpstreamIdp, UPSTREAM_IDP_SECRET as UPSTREAM_SECRET, type UpstreamIdp } from '../support/upstream-idp.js';

/**
 * Real Chromium against the real broker on Redis, with oidc-provider as the upstream identity
 * provider ("Corp SSO") and the dev form as a second provider. The demo page plays app one; a
 * tiny page on another port plays app two (and the third-party app).
 */
const ARTIFACTS = `${ROOT}test-artifacts`;
const run = chromiumAvailable() && redisServerAvailable();

describe.skipIf(!run)('in a real browser', () => {
  let redis: RedisServer;
  let idp: UpstreamIdp;
  let appServer: Server;
  let broker: RunningApp;
  let browser: Browser;
  let appUrl: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    redis = await startRedisServer();
    const store = await openRedisStore(redis.url);
    idp = await startUpstreamIdp({ redirectUri: () => `${broker.url}/callback/corp` });
    const idpIssuer = idp.issuer;
    // App two: shows what arrived at its redirect URI.
    appServer = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      const arrived = new URL(req.url!, 'http://x').search.replace(/[<>&"]/g, '');
      res.end(
        `<!doctype html><title>app two</title><p id="arrived">${arrived}</p><a id="out" href="${idpIssuer}/">out</a>`,
      );
    });
    await new Promise<void>((r) => appServer.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`;

    broker = await startApp(
      (issuer) => ({
        providers: [
          {
            id: 'corp',
            use: 'oidc',
            issuer: idpIssuer,
            client_id: 'broker',
            client_secret: UPSTREAM_SECRET,
            name: 'Corp SSO',
            color: '#0B5FFF',
          },
          { id: 'dev', use: 'dev', name: 'Dev login' },
        ],
        clients: [
          {
            client_id: 'demo-app',
            client_name: 'Demo App',
            redirect_uris: [`${issuer}/demo/callback`],
            first_party: true,
          },
          { client_id: 'app-two', client_name: 'App Two', redirect_uris: [`${appUrl}/cb`], first_party: true },
          { client_id: 'partner', client_name: 'Partner App', redirect_uris: [`${appUrl}/partner`] },
        ],
        demo: { client_id: 'demo-app' },
      }),
      { store },
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await idp?.close();
    await new Promise<void>((r) => (appServer ? appServer.close(() => r()) : r()));
    await redis?.stop();
  });

  /** Logs in at oidc-provider's development pages (any login and password), then consents. */
  async function corpLogin(page: Page, login: string) {
    await page.waitForSelector('input[name=login]');
    await page.fill('input[name=login]', login);
    await page.fill('input[name=password]', 'anything');
    await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
    const consent = page.locator('button.login-submit', { hasText: 'Continue' });
    if (await consent.count()) await Promise.all([page.waitForLoadState(), consent.click()]);
  }

  async function devLogin(page: Page, username: string) {
    await page.waitForSelector('input[name=username]');
    await page.fill('input[name=username]', username);
    await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  }

  async function appTwoAuthorize(clientId = 'app-two', path = '/cb', extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = new URL(`${broker.url}/authorize`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: `${appUrl}${path}`,
      response_type: 'code',
      scope: 'openid profile',
      state: 'two',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    }).toString();
    return url.toString();
  }

  const subOf = async (page: Page) => /"sub": "([^"]+)"/.exec(await page.locator('pre').first().innerText())![1];

  let context: BrowserContext;
  let page: Page;
  let firstSub: string;

  it('chooses a provider, logs in upstream, and lands back at the app with claims', async () => {
    context = await browser.newContext();
    page = await context.newPage();
    await page.goto(`${broker.url}/demo`);
    await Promise.all([page.waitForLoadState(), page.click('text=Sign in')]);
    // The chooser: one button per provider, keyboard-reachable.
    await page.waitForSelector('button.provider');
    expect(await page.locator('button.provider').allInnerTexts()).toEqual([
      'Continue with Corp SSO',
      'Continue with Dev login',
    ]);
    // Brand colour from the provider entry, through the same-origin stylesheet (no inline style).
    expect(await page.locator('button.provider-corp').evaluate((b) => getComputedStyle(b).backgroundColor)).toBe(
      'rgb(11, 95, 255)',
    );
    await page.screenshot({ path: `${ARTIFACTS}/chooser.png`, fullPage: true });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Continue with Corp SSO');
    await Promise.all([page.waitForLoadState(), page.keyboard.press('Enter')]);
    await corpLogin(page, 'ada');
    await page.waitForURL(/\/demo\/callback/);
    expect(await page.textContent('h1')).toBe('Signed in');
    const claims = await page.locator('pre').first().innerText();
    expect(claims).toContain('"email": "ada@corp.example"');
    expect(claims).toContain('"email_verified": true');
    firstSub = (await subOf(page))!;
  });

  it('signs a second app in without any prompt (SSO)', async () => {
    await page.goto(await appTwoAuthorize());
    await page.waitForURL(new RegExp(`^${appUrl}/cb`));
    const arrived = await page.textContent('#arrived');
    expect(arrived).toMatch(/code=/);
    expect(arrived).toContain(`iss=${encodeURIComponent(broker.url)}`);
  });

  it('asks consent for a third-party app; deny sends access_denied, allow a code', async () => {
    await page.goto(await appTwoAuthorize('partner', '/partner'));
    await page.waitForSelector('text=Allow Partner App to access your account?');
    await Promise.all([page.waitForURL(new RegExp(`^${appUrl}/partner`)), page.click('button[value=deny]')]);
    expect(await page.textContent('#arrived')).toContain('error=access_denied');
    await page.goto(await appTwoAuthorize('partner', '/partner'));
    await Promise.all([page.waitForURL(new RegExp(`^${appUrl}/partner`)), page.click('button[value=allow]')]);
    expect(await page.textContent('#arrived')).toMatch(/code=/);
  });

  it('links a second provider on the account page; after logout that provider signs in as the same user', async () => {
    await page.goto(`${broker.url}/account`);
    await page.waitForSelector('text=Your account');
    await Promise.all([page.waitForLoadState(), page.click('text=Link Dev login')]);
    await devLogin(page, 'ada-dev');
    await page.waitForURL(/\/account\?notice=linked/);
    expect(await page.locator('li', { hasText: 'Dev login' }).count()).toBe(1);
    await page.screenshot({ path: `${ARTIFACTS}/account.png`, fullPage: true });

    await page.goto(`${broker.url}/logout`);
    await Promise.all([page.waitForLoadState(), page.click('button[value=yes]')]);
    expect(await page.textContent('h1')).toBe('You are signed out');

    await page.goto(`${broker.url}/demo`);
    await Promise.all([page.waitForLoadState(), page.click('text=Sign in')]);
    await Promise.all([page.waitForLoadState(), page.click('text=Continue with Dev login')]);
    await devLogin(page, 'ada-dev');
    await page.waitForURL(/\/demo\/callback/);
    expect(await subOf(page)).toBe(firstSub);
  });

  it('unlinks a provider right after signing in, and keeps the last one', async () => {
    await page.goto(`${broker.url}/account`);
    await Promise.all([page.waitForURL(/notice=unlinked/), page.click('text=Unlink Corp SSO')]);
    expect(await page.textContent('.notice')).toContain('removed');
    expect(await page.locator('button', { hasText: 'Unlink' }).count()).toBe(0);
  });

  it('cannot be framed by another site, and sends no Referer from its pages', async () => {
    const framer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><iframe id="f" src="${broker.url}/account"></iframe>`);
    });
    await new Promise<void>((r) => framer.listen(0, '127.0.0.1', r));
    const framePage = await context.newPage();
    const blocked: string[] = [];
    framePage.on('console', (m) => blocked.push(m.text()));
    await framePage.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`);
    await framePage.waitForTimeout(500);
    const frame = framePage.frames().find((f) => f !== framePage.mainFrame());
    const framedText = frame ? await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '') : '';
    expect(framedText).not.toContain('Your account');
    await new Promise<void>((r) => framer.close(() => r()));

    // The broker's pages carry Referrer-Policy: no-referrer: a navigation from them sends none.
    let referer: string | undefined = 'unset';
    appServer.once('request', (req) => (referer = req.headers.referer));
    await page.goto(`${broker.url}/account`);
    await page.evaluate((url) => {
      const a = document.createElement('a');
      a.href = url;
      a.id = 'probe';
      a.textContent = 'probe';
      document.body.append(a);
    }, `${appUrl}/referer-probe`);
    await Promise.all([page.waitForURL(/referer-probe/), page.click('#probe')]);
    expect(referer).toBeUndefined();
  });
});
