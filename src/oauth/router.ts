import Router from '@koa/router';
import { formBody } from '../http/form-body.js';
import { authorizeEndpoint } from './authorize.js';
import type { OAuthContext } from './context.js';
import { discoveryDocument } from './discovery.js';
import { chooseProvider, showChooser } from './interaction/chooser.js';
import { decideConsent, showConsent } from './interaction/consent-page.js';
import { introspectionEndpoint, revocationEndpoint } from './introspect-revoke.js';
import { logoutEndpoint } from './logout.js';
import { tokenEndpoint } from './token.js';
import { userinfoEndpoint } from './userinfo.js';
import { deviceAuthorizationEndpoint } from './device/authorization-endpoint.js';
import { deviceVerification } from './device/verification.js';
import { RegistrationEndpoint } from './registration/endpoint.js';
import { registrationEnabled } from './registration/enabled.js';

/** The authorization server's routes; paths are a public contract (advertised by discovery). */
export function oauthRouter(oauth: OAuthContext): Router {
  const router = new Router();
  const form = formBody({ required: true });
  const optionalForm = formBody();

  router.get('/.well-known/openid-configuration', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = discoveryDocument(oauth);
  });
  router.get('/.well-known/oauth-authorization-server', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = discoveryDocument(oauth);
  });
  router.get('/jwks', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = 'application/jwk-set+json';
    ctx.body = JSON.stringify(oauth.keys.jwks());
  });

  const authorize = authorizeEndpoint(oauth);
  router.get('/authorize', optionalForm, authorize);
  router.post('/authorize', form, authorize);
  // Pages and API routes render their errors by the route kinds declared in app.ts.
  router.get('/interaction/:id', (ctx) => showChooser(ctx, oauth));
  router.get('/interaction/:id/consent', (ctx) => showConsent(ctx, oauth));
  router.post('/interaction/:id/consent', form, (ctx) => decideConsent(ctx, oauth));
  router.post('/interaction/:id/login', form, (ctx) => chooseProvider(ctx, oauth));

  router.post('/token', form, tokenEndpoint(oauth));
  const userinfo = userinfoEndpoint(oauth);
  router.get('/userinfo', userinfo);
  router.post('/userinfo', optionalForm, userinfo);
  router.post('/introspect', form, introspectionEndpoint(oauth));
  router.post('/revoke', form, revocationEndpoint(oauth));

  // The device authorization grant (RFC 8628): the device's endpoint and the user's page.
  router.post('/device_authorization', form, deviceAuthorizationEndpoint(oauth));
  const device = deviceVerification(oauth);
  router.get('/device', device.page);
  router.post('/device', form, device.enter);
  router.post('/device/login', form, device.login);
  router.post('/device/decide', form, device.decide);

  // Dynamic client registration (RFC 7591) and management (RFC 7592): only when enabled.
  if (registrationEnabled(oauth.config.registration)) {
    router.use(new RegistrationEndpoint(oauth, oauth.clientStore, oauth.registrationLimit).routes().routes());
  }

  const logout = logoutEndpoint(oauth);
  router.get('/logout', logout);
  router.post('/logout', optionalForm, logout);
  return router;
}

/**
 * RFC 8414 §3.1: for an issuer with a path (`https://host/auth`) the metadata lives at the host's
 * root, the path inserted after the well-known prefix: `/.well-known/oauth-authorization-server/auth`.
 * This router has no prefix; it serves nothing when the issuer has no path.
 */
export function hostRootMetadataRouter(oauth: OAuthContext, base: string): Router {
  const router = new Router();
  if (!base) return router;
  router.get(`${HOST_ROOT_METADATA}${base}`, (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = discoveryDocument(oauth);
  });
  return router;
}

export const HOST_ROOT_METADATA = '/.well-known/oauth-authorization-server';
