import * as oidc from 'openid-client';
import { describe, expect, it } from 'vitest';
import { loginWithDev } from '../support/dev-login.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { UserAgent } from '../support/user-agent.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

for (const kind of STORE_KINDS) {
  describe(`/token bad input and replay (RFC 6749 §5.2), ${kind} store`, () => {
    const broker = useBroker(kind);

    const post = (form: Record<string, string> | string, headers: Record<string, string> = {}) =>
      fetch(`${broker().url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
      });
    const asWeb = { authorization: basic('web', SECRETS.web) };

    async function expectError(res: Response, status: number, error: string) {
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const body = (await res.json()) as { error: string; error_description: string };
      expect(body.error).toBe(error);
      expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
      return body;
    }

    /** A fresh code for `web`, with its verifier. */
    async function freshCode(scope = 'openid offline_access', clientId = 'web', redirect = REDIRECT) {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = new URL(`${broker().url}/authorize`);
      url.search = new URLSearchParams({
        client_id: clientId,
        redirect_uri: redirect,
        response_type: 'code',
        scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      const back = await loginWithDev(new UserAgent(), url, { username: 'tess' });
      return { code: back.searchParams.get('code')!, verifier };
    }
    const redeem = (
      code: string,
      verifier: string,
      headers: Record<string, string> = asWeb,
      extra: Record<string, string> = {},
    ) =>
      post(
        { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT, ...extra },
        headers,
      );

    it(
      'redeems a code once; a second use is invalid_grant and revokes what the first issued ' + '(S-CR-01/02)',
      async () => {
        const { code, verifier } = await freshCode();
        const first = await redeem(code, verifier);
        expect(first.status).toBe(200);
        expect(first.headers.get('cache-control')).toBe('no-store');
        // API answers set no cookie: the browser binding and the session are only for pages.
        expect(first.headers.get('set-cookie')).toBeNull();
        const tokens = (await first.json()) as { access_token: string; refresh_token: string };
        await expectError(await redeem(code, verifier), 400, 'invalid_grant');
        const userinfo = await fetch(`${broker().url}/userinfo`, {
          headers: { authorization: `Bearer ${tokens.access_token}` },
        });
        expect(userinfo.status).toBe(401);
        await expectError(
          await post({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, asWeb),
          400,
          'invalid_grant',
        );
      },
    );

    it('S-CR-03: of 20 concurrent redemptions exactly one succeeds', async () => {
      const { code, verifier } = await freshCode();
      const answers = await Promise.all(Array.from({ length: 20 }, () => redeem(code, verifier)));
      expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
      expect(answers.filter((r) => r.status === 400)).toHaveLength(19);
    });

    it('S-INJ-03/S-PKD-02: a wrong or missing verifier is invalid_grant', async () => {
      const a = await freshCode();
      await expectError(await redeem(a.code, oidc.randomPKCECodeVerifier()), 400, 'invalid_grant');
      const b = await freshCode();
      await expectError(
        await post({ grant_type: 'authorization_code', code: b.code, redirect_uri: REDIRECT }, asWeb),
        400,
        'invalid_grant',
      );
      const c = await freshCode();
      await expectError(await redeem(c.code, 'short'), 400, 'invalid_request');
      // A malformed verifier does not burn the code.
      expect((await redeem(c.code, c.verifier)).status).toBe(200);
    });

    it('S-INJ-04 / S-RU-05: another client, or another redirect_uri, is invalid_grant', async () => {
      const a = await freshCode();
      await expectError(
        await redeem(a.code, a.verifier, {}, { client_id: 'other', client_secret: SECRETS.other }),
        400,
        'invalid_grant',
      );
      const b = await freshCode();
      await expectError(
        await redeem(b.code, b.verifier, asWeb, { redirect_uri: 'https://app.example/cb' }),
        400,
        'invalid_grant',
      );
    });

    it('S-CA-01: bad Basic credentials → 401 invalid_client with WWW-Authenticate: Basic', async () => {
      const { code, verifier } = await freshCode();
      const res = await redeem(code, verifier, { authorization: basic('web', 'wrong-secret-wrong-secret') });
      await expectError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      await expectError(
        await redeem(code, verifier, { authorization: basic('ghost', 'whatever') }),
        401,
        'invalid_client',
      );
      await expectError(await redeem(code, verifier, { authorization: 'Basic !!!' }), 401, 'invalid_client');
    });

    it('S-CA-02/03/04: wrong post secret, two methods at once, or a method other than registered', async () => {
      const { code, verifier } = await freshCode();
      await expectError(
        await redeem(code, verifier, {}, { client_id: 'other', client_secret: 'nope-nope-nope-nope' }),
        401,
        'invalid_client',
      );
      await expectError(await redeem(code, verifier, asWeb, { client_secret: SECRETS.web }), 400, 'invalid_request');
      // other pinned client_secret_post: its secret in a Basic header is refused. (An unpinned
      // client such as web may use either secret method: test/oauth/client-compat.test.ts.)
      await expectError(
        await redeem(code, verifier, { authorization: basic('other', SECRETS.other) }),
        401,
        'invalid_client',
      );
      // A confidential client cannot pretend to be public.
      await expectError(await redeem(code, verifier, {}, { client_id: 'web' }), 401, 'invalid_client');
      await expectError(await redeem(code, verifier, {}), 401, 'invalid_client');
    });

    it('refuses anything but a form body, repeated or array-shaped parameters', async () => {
      const json = await fetch(`${broker().url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...asWeb },
        body: JSON.stringify({ grant_type: 'client_credentials' }),
      });
      await expectError(json, 400, 'invalid_request');
      await expectError(
        await post('grant_type=authorization_code&grant_type=refresh_token', asWeb),
        400,
        'invalid_request',
      );
      await expectError(await post('grant_type=authorization_code&code[]=x', asWeb), 400, 'invalid_request');
      await expectError(await post('grant_type=authorization_code&a.b=x', asWeb), 400, 'invalid_request');
      await expectError(
        await post({ grant_type: 'authorization_code', code: 'x'.repeat(5000) }, asWeb),
        400,
        'invalid_request',
      );
      await expectError(await post({}, asWeb), 400, 'invalid_request');
      const huge = await post(`grant_type=x&pad=${'a'.repeat(70 * 1024)}`, asWeb);
      expect(huge.status).toBe(413);
      const get = await fetch(`${broker().url}/token`);
      expect(get.status).toBe(405);
    });

    it('S-LEG-01 / unsupported and unauthorized grant types', async () => {
      await expectError(
        await post({ grant_type: 'password', username: 'a', password: 'b' }, asWeb),
        400,
        'unsupported_grant_type',
      );
      await expectError(
        await post({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, asWeb),
        400,
        'unsupported_grant_type',
      );
      await expectError(await post({ grant_type: 'client_credentials' }, asWeb), 400, 'unauthorized_client');
    });

    it('S-RT-02: ten parallel refreshes of one token → one live successor; a retired one revokes all', async () => {
      const { code, verifier } = await freshCode();
      const tokens = (await (await redeem(code, verifier)).json()) as { refresh_token: string };
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          post({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, asWeb),
        ),
      );
      // Within the retry window (refresh_token_reuse_grace_s, default 30 s) each presentation of a
      // token whose successor is unused gets a new pair and retires that successor (issue 19.2).
      // Strict rotation (one success, the rest invalid_grant) is tested in refresh-defects.test.ts.
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
      const issued = await Promise.all(
        answers.map(async (r) => ((await r.json()) as { refresh_token: string }).refresh_token),
      );
      const introspect = async (token: string) => {
        const res = await fetch(`${broker().url}/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...asWeb },
          body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }).toString(),
        });
        return ((await res.json()) as { active: boolean }).active;
      };
      const live: string[] = [];
      for (const token of issued) if (await introspect(token)) live.push(token);
      expect(live).toHaveLength(1);
      const retired = issued.find((token) => token !== live[0])!;
      const refresh = (token: string) => post({ grant_type: 'refresh_token', refresh_token: token }, asWeb);
      await expectError(await refresh(retired), 400, 'invalid_grant');
      await expectError(await refresh(live[0]!), 400, 'invalid_grant');
    });

    it('S-RT-03: a refresh token used by another client is invalid_grant', async () => {
      const { code, verifier } = await freshCode();
      const tokens = (await (await redeem(code, verifier)).json()) as { refresh_token: string };
      await expectError(
        await post({
          grant_type: 'refresh_token',
          refresh_token: tokens.refresh_token,
          client_id: 'other',
          client_secret: SECRETS.other,
        }),
        400,
        'invalid_grant',
      );
    });

    it('S-AUD-04: the store holds no code or token in clear', async () => {
      const { code, verifier } = await freshCode();
      const tokens = (await (await redeem(code, verifier)).json()) as { refresh_token: string; access_token: string };
      const store = broker().store;
      const { recordKeys, grantOf } = await import('../../src/oauth/record-keys.js');
      for (const secret of [code, tokens.refresh_token]) {
        expect(await store.get(`code:${secret}`)).toBeNull();
        expect(await store.get(`rt:${secret}`)).toBeNull();
        expect(await store.get(recordKeys.code(grantOf(secret)!, secret))).toBeNull();
        expect(await store.get(recordKeys.rt(grantOf(secret)!, secret))).toBeNull();
      }
      const { createHash } = await import('node:crypto');
      const hashed = createHash('sha256').update(tokens.refresh_token).digest('base64url');
      expect(await store.get(recordKeys.rt(grantOf(tokens.refresh_token)!, hashed))).toEqual(expect.any(String));
    });
  });
}

describe('refresh token grace window', () => {
  const broker = useBroker('memory', { tokens: { refresh_token_reuse_grace_s: 5 } });
  it('lets the immediately-previous token be retried within the window, retiring its unused successor', async () => {
    const post = (form: Record<string, string>) =>
      fetch(`${broker().url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('web', SECRETS.web) },
        body: new URLSearchParams(form).toString(),
      });
    const verifier = oidc.randomPKCECodeVerifier();
    const url = new URL(`${broker().url}/authorize`);
    url.search = new URLSearchParams({
      client_id: 'web',
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString();
    const back = await loginWithDev(new UserAgent(), url, { username: 'gwen' });
    const t0 = (await (
      await post({
        grant_type: 'authorization_code',
        code: back.searchParams.get('code')!,
        code_verifier: verifier,
        redirect_uri: REDIRECT,
      })
    ).json()) as {
      refresh_token: string;
    };
    const t1 = (await (await post({ grant_type: 'refresh_token', refresh_token: t0.refresh_token })).json()) as {
      refresh_token: string;
    };
    // rt1's answer was lost: rt0 is retried while rt1 is unused. That gets a new pair, and rt1 is
    // retired, so one successor chain at most stays alive (issue 19.2).
    const retry = await post({ grant_type: 'refresh_token', refresh_token: t0.refresh_token });
    expect(retry.status).toBe(200);
    const t1b = (await retry.json()) as { refresh_token: string };
    expect(t1b.refresh_token).not.toBe(t1.refresh_token);
    const next = await post({ grant_type: 'refresh_token', refresh_token: t1b.refresh_token });
    const t2 = (await next.json()) as { refresh_token: string };
    expect(t2.refresh_token).toEqual(expect.any(String));
    // Now rt0's successor was used: reuse → the family is revoked.
    const stale = await post({ grant_type: 'refresh_token', refresh_token: t0.refresh_token });
    expect(stale.status).toBe(400);
    expect((await post({ grant_type: 'refresh_token', refresh_token: t2.refresh_token })).status).toBe(400);
  });
});
