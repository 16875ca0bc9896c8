import Router from '@koa/router';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import { html, layout } from './html.js';

const COOKIE = 'lb_demo';

/**
 * The demo app at /demo (development only): a real OpenID Connect client, built with
 * openid-client like any app would be, that signs in through this broker with code + PKCE and
 * shows what it got. Its state (PKCE verifier, state, nonce) is in a signed HttpOnly cookie.
 */
export function demoRouter(options: { issuer: string; clientId: string; base: string }): Router {
  const router = new Router();
  const redirectUri = `${options.issuer}/demo/callback`;
  let configuration: Promise<oidc.Configuration> | undefined;
  const discover = () =>
    (configuration ??= oidc
      .discovery(new URL(options.issuer), options.clientId, undefined, oidc.None(), {
        execute: [oidc.allowInsecureRequests],
      })
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      }));

  const page = (ctx: Context, title: string, body: ReturnType<typeof html>) => {
    ctx.type = 'html';
    ctx.body = layout(title, body, options.base);
  };

  router.get('/demo', (ctx) =>
    page(
      ctx,
      'Demo app',
      html`<h1>Demo app</h1>
<p>This page plays an application that uses the broker: it signs in with the authorization code flow
and PKCE, as the client <code>${options.clientId}</code>, and shows the ID token claims and the userinfo answer.</p>
<a class="button" href="${options.base}/demo/login">Sign in</a>`,
    ),
  );

  router.get('/demo/login', async (ctx) => {
    const config = await discover();
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    ctx.cookies.set(COOKIE, JSON.stringify({ verifier, state, nonce }), {
      httpOnly: true,
      sameSite: 'lax',
      signed: true,
      maxAge: 600_000,
      path: `${options.base}/demo`,
    });
    ctx.status = 303;
    ctx.redirect(url.toString());
  });

  router.get('/demo/callback', async (ctx) => {
    const saved = ctx.cookies.get(COOKIE, { signed: true });
    ctx.cookies.set(COOKIE, '', { path: `${options.base}/demo`, expires: new Date(0) });
    if (!saved) {
      page(
        ctx,
        'Demo app',
        html`<h1>Demo app</h1><p>This sign-in was not started here, or it expired.</p>
<a class="button" href="${options.base}/demo/login">Sign in again</a>`,
      );
      ctx.status = 400;
      return;
    }
    const { verifier, state, nonce } = JSON.parse(saved) as { verifier: string; state: string; nonce: string };
    const config = await discover();
    const current = new URL(ctx.originalUrl, options.issuer);
    let body;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      body = html`<h1>Signed in</h1>
<p>Hello ${claims.name ?? claims.sub}. The broker's <code>sub</code> for you is <code>${claims.sub}</code>.</p>
<h2>ID token claims</h2>
<pre>${JSON.stringify(claims, null, 2)}</pre>
<h2>Userinfo</h2>
<pre>${JSON.stringify(userinfo, null, 2)}</pre>
<a class="button" href="${options.base}/demo/login">Sign in again</a>`;
    } catch (err) {
      const e = err as { error?: string; error_description?: string; message: string };
      ctx.status = 400;
      body = html`<h1>Sign-in failed</h1><p><code>${e.error ?? 'error'}</code>: ${e.error_description ?? e.message}</p>
<a class="button" href="${options.base}/demo/login">Try again</a>`;
    }
    page(ctx, 'Demo app', body);
  });
  return router;
}
