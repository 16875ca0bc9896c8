import { describe, expect, it } from 'vitest';
import { LocalAccounts } from '../../src/identity/local-accounts.js';
import { STORE_KINDS, useBroker } from '../support/broker-fixture.js';
import { PASSWORD_CLIENTS, TRUSTED_SECRET } from '../support/password.js';
import type { RunningApp } from '../support/app.js';

/**
 * What the password grant's locks count (RFC 9700 §2.4 leaves the limits to us): failed password
 * checks only. An attempt is counted while it is checked, so parallel guesses cannot outrun the
 * limit, and a success takes its count back. Each test logs in from its own address
 * (X-Forwarded-For, with trust_proxy on), so the per-IP counts of one test do not leak into another.
 */

const PASSWORD = 'correct horse battery staple';
const IP_FAILURES = 4;
const USERNAME_FAILURES = 3;
let nextIp = 0;
const freshIp = () => `198.51.100.${++nextIp}`;

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function login(app: RunningApp, ip: string, username: string, password: string): Promise<Answer> {
  const response = await fetch(`${app.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`trusted:${TRUSTED_SECRET}`).toString('base64')}`,
      'x-forwarded-for': ip,
    },
    body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'openid' }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

const isLocked = (answer: Answer) =>
  answer.status === 400 && String(answer.body.error_description).includes('too many');
const isWrong = (answer: Answer) => answer.status === 400 && answer.body.error === 'invalid_grant' && !isLocked(answer);

for (const kind of STORE_KINDS) {
  describe(`password grant lockout counts failures only, ${kind} store`, () => {
    const broker = useBroker(kind, {
      trust_proxy: true,
      clients: PASSWORD_CLIENTS,
      password_grant: {
        local: { id: 'local', scrypt: { cost: 1024 } },
        lockout: {
          username_failures: USERNAME_FAILURES,
          ip_failures: IP_FAILURES,
          window_s: 60,
          lock_s: 2,
          max_lock_s: 4,
        },
      },
    });
    let seeded: Promise<void> | undefined;
    const app = async () => {
      const running = broker();
      seeded ??= (async () => {
        const accounts = new LocalAccounts(running.store, running.config.password_grant.local!, running.config.issuer);
        for (const username of ['amy', 'ben', 'cleo']) await accounts.add({ username, password: PASSWORD });
      })();
      await seeded;
      return running;
    };

    it(`lets one address log in far more than ip_failures (${IP_FAILURES}) times when all succeed`, async () => {
      const running = await app();
      const ip = freshIp();
      for (let i = 0; i < 3 * IP_FAILURES; i++) {
        const answer = await login(running, ip, ['amy', 'ben', 'cleo'][i % 3]!, PASSWORD);
        const seen = { login: i + 1, status: answer.status, body: answer.status === 200 ? {} : answer.body };
        expect(seen).toEqual({ login: i + 1, status: 200, body: {} });
      }
    });

    it('still locks an address at ip_failures failures, however many successes came between', async () => {
      const running = await app();
      const ip = freshIp();
      for (let i = 0; i < IP_FAILURES - 1; i++) {
        // Distinct usernames: only the per-IP count can lock here.
        expect(isWrong(await login(running, ip, `spray-${i}`, 'Winter2026!'))).toBe(true);
        for (let j = 0; j < 2; j++) expect((await login(running, ip, 'amy', PASSWORD)).status).toBe(200);
      }
      // A success takes back only its own count: the failures before it still stand.
      expect(isWrong(await login(running, ip, 'spray-last', 'Winter2026!'))).toBe(true);
      const locked = await login(running, ip, 'amy', PASSWORD);
      expect(isLocked(locked)).toBe(true);
      expect(Number(locked.retryAfter)).toBeGreaterThanOrEqual(1);
      // Another address is not affected.
      expect((await login(running, freshIp(), 'amy', PASSWORD)).status).toBe(200);
    });

    it('locks a username at username_failures failures; its own success clears its count', async () => {
      const running = await app();
      const ip = freshIp();
      for (let i = 0; i < USERNAME_FAILURES - 1; i++) {
        expect(isWrong(await login(running, ip, 'ben', `wrong-${i}`))).toBe(true);
      }
      expect((await login(running, ip, 'ben', PASSWORD)).status).toBe(200);
      // From another address, so the per-IP count (failures only) stays below its limit.
      const other = freshIp();
      for (let i = 0; i < USERNAME_FAILURES; i++) {
        expect(isWrong(await login(running, other, 'ben', `again-${i}`))).toBe(true);
      }
      expect(isLocked(await login(running, freshIp(), 'ben', PASSWORD))).toBe(true);
      expect((await login(running, other, 'cleo', PASSWORD)).status).toBe(200);
    });

    it('refuses a parallel burst of guesses beyond the per-IP limit unchecked (counted before the check)', async () => {
      const running = await app();
      const ip = freshIp();
      const burst = Array.from({ length: 12 }, (_, i) => login(running, ip, `burst-${i}`, 'guess'));
      const answers = await Promise.all(burst);
      expect(answers.every((a) => a.status === 400 && a.body.error === 'invalid_grant')).toBe(true);
      expect(answers.filter(isWrong).length).toBeLessThanOrEqual(IP_FAILURES);
      expect(isLocked(await login(running, ip, 'amy', PASSWORD))).toBe(true);
    });

    it('leaves no count and no lock behind after a parallel burst of good logins', async () => {
      const running = await app();
      const ip = freshIp();
      const burst = Array.from({ length: 12 }, (_, i) => login(running, ip, ['amy', 'ben', 'cleo'][i % 3]!, PASSWORD));
      const answers = await Promise.all(burst);
      // Attempts still in flight count, so some of the burst may be turned away; none is a failure.
      expect(answers.every((a) => a.status === 200 || isLocked(a))).toBe(true);
      expect(answers.some((a) => a.status === 200)).toBe(true);
      // Nothing stays counted: the address takes IP_FAILURES - 1 failures and still logs in.
      expect((await login(running, ip, 'amy', PASSWORD)).status).toBe(200);
      for (let i = 0; i < IP_FAILURES - 1; i++) {
        expect(isWrong(await login(running, ip, `after-${i}`, 'guess'))).toBe(true);
      }
      expect((await login(running, ip, 'amy', PASSWORD)).status).toBe(200);
    });
  });
}
