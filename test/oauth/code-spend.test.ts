import * as oidc from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { loginWithDev } from '../support/dev-login.js';
import { SECRETS, STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { UserAgent } from '../support/user-agent.js';

const REDIRECT = 'http://127.0.0.1:5000/cb';

/**
 * A code's first refresh token waits with the code and is moved into place by the same atomic
 * step that spends the code (TokenRecords.takeCode): what that must never change.
 */
for (const kind of STORE_KINDS) {
  describe(`spending a code and its refresh token in one step, ${kind} store`, () => {
    const broker = useBroker(kind);
    let config: oidc.Configuration;

    beforeAll(async () => {
      config = await oidc.discovery(new URL(broker().url), 'web', SECRETS.web, oidc.ClientSecretBasic(SECRETS.web), {
        execute: [oidc.allowInsecureRequests],
      });
    });

    async function code(ua: UserAgent, scope = 'openid') {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const back = await loginWithDev(ua, url, { username: 'uma' });
      return { back, verifier, grantId: back.searchParams.get('code')!.split('.')[0]! };
    }

    /** What the store holds for a grant's refresh tokens: its index and the record waiting with its code. */
    async function refreshState(grantId: string) {
      const { store } = broker();
      return {
        tokens: await store.smembers(`grant:{g:${grantId}}:rts`),
        waiting: await store.get(`rt-next:{g:${grantId}}`),
      };
    }

    it('a failed PKCE check (S-INJ-03) spends the code and leaves no refresh token behind', async () => {
      const { back, grantId } = await code(new UserAgent());
      await expect(
        oidc.authorizationCodeGrant(config, back, {
          pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
          expectedState: oidc.skipStateCheck,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await refreshState(grantId)).toEqual({ tokens: [], waiting: null });
    });

    it('a redeemed code leaves exactly one refresh token, which rotates', async () => {
      const { back, verifier, grantId } = await code(new UserAgent());
      const tokens = await oidc.authorizationCodeGrant(config, back, {
        pkceCodeVerifier: verifier,
        expectedState: oidc.skipStateCheck,
      });
      expect(tokens.refresh_token).toMatch(new RegExp(`^${grantId}\\.`));
      const state = await refreshState(grantId);
      expect(state.tokens).toHaveLength(1);
      expect(state.waiting).toBeNull();
      const next = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      expect(next.refresh_token).toBeTruthy();
      expect(next.refresh_token).not.toBe(tokens.refresh_token);
    });

    it('a code whose session was logged out before it was redeemed issues nothing', async () => {
      const ua = new UserAgent();
      const first = await code(ua);
      const tokens = await oidc.authorizationCodeGrant(config, first.back, {
        pkceCodeVerifier: first.verifier,
        expectedState: oidc.skipStateCheck,
      });
      // An SSO code of the same session, not yet redeemed when the user logs out.
      const second = await code(ua);
      const logout = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: 'http://127.0.0.1:5000/',
      });
      expect((await ua.get(logout)).status).toBe(303);
      await expect(
        oidc.authorizationCodeGrant(config, second.back, {
          pkceCodeVerifier: second.verifier,
          expectedState: oidc.skipStateCheck,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
      expect((await refreshState(second.grantId)).tokens).toEqual([]);
    });
  });
}
