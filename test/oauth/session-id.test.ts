import { describe, expect, it } from 'vitest';
import { webAuthorizeUrl } from '../support/app-client.js';
import { loginWithDev } from '../support/dev-login.js';
import { STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { UserAgent } from '../support/user-agent.js';

/** The session cookie's id (`<user id>.<random>`) and what the store holds under it. */
for (const kind of STORE_KINDS) {
  describe(`the session id, ${kind} store`, () => {
    const broker = useBroker(kind);

    const authorize = (extra: Record<string, string> = {}) => webAuthorizeUrl(broker().url, extra);

    it('K-02: changes at every login, carries the user and 256 random bits; the old one is gone', async () => {
      const ua = new UserAgent();
      expect((await loginWithDev(ua, authorize(), { username: 'vera' })).searchParams.get('code')).toBeTruthy();
      const first = ua.cookies.get('lb_session')!;
      const firstSig = ua.cookies.get('lb_session.sig')!;
      expect(firstSig).toBeTruthy();
      expect(first).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
      const [uid, random] = first.split('.') as [string, string];
      const stored = await broker().store.get(`sess:{${uid}}:${random}`);
      expect(stored).toBeTruthy();
      // The record leaves out what its key says.
      expect(JSON.parse(stored!)).not.toHaveProperty('uid');
      // SSO: the same id answers, and nothing is written for the session.
      expect((await ua.get(authorize())).status).toBe(303);
      expect(ua.cookies.get('lb_session')).toBe(first);
      // A new login (prompt=login): a new id, and the old record is gone (no session fixation).
      const again = await loginWithDev(ua, authorize({ prompt: 'login' }), { username: 'vera' });
      expect(again.searchParams.get('code')).toBeTruthy();
      const second = ua.cookies.get('lb_session')!;
      expect(second).not.toBe(first);
      expect(second.startsWith(`${uid}.`)).toBe(true);
      expect(await broker().store.get(`sess:{${uid}}:${random}`)).toBeNull();
      // An old cookie presented again finds no session: the app gets sent to log in.
      const old = new UserAgent();
      for (const [name, value] of ua.cookies) old.cookies.set(name, value);
      old.cookies.set('lb_session', first);
      old.cookies.set('lb_session.sig', firstSig);
      const sent = await old.get(authorize({ prompt: 'none' }));
      expect(new URL(sent.headers.get('location')!).searchParams.get('error')).toBe('login_required');
    });
  });
}
