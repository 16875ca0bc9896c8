import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AuthorizationRequest } from '../../src/oauth/authorize-request.js';
import { needsLogin } from '../../src/oauth/interaction/needs-login.js';
import type { SsoSession } from '../../src/session/sessions.js';

/** When a signed-in user must log in upstream again (OIDC Core §3.1.2.1: prompt and max_age). */

const NOW = 1_700_000_000;

const REQUEST: AuthorizationRequest = {
  client_id: 'web',
  redirect_uri: 'https://app.example/cb',
  response_type: 'code',
  response_mode: 'query',
  scope: 'openid',
  prompt: [],
  refresh: false,
};

/** A session whose last upstream login was `ago` seconds before now. */
const signedIn = (ago: number): SsoSession => ({
  uid: 'u-1',
  sid: 's-1',
  auth_time: NOW - ago,
  created: NOW - ago,
  provider: 'github',
});

interface Row {
  name: string;
  session: SsoSession | undefined;
  prompt?: string[];
  max_age?: number;
  login: boolean;
  /** Set when the code contradicts the spec: the row is expected to fail until fixed. */
  bug?: string;
}

const rows: Row[] = [
  { name: 'no session: log in', session: undefined, login: true },
  {
    name: 'no session, even with prompt=none: log in (the caller answers login_required)',
    session: undefined,
    prompt: ['none'],
    login: true,
  },
  { name: 'a session, no prompt and no max_age: no login', session: signedIn(86_400), login: false },
  { name: 'prompt=login: log in again (OIDC Core §3.1.2.1)', session: signedIn(1), prompt: ['login'], login: true },
  { name: 'prompt=login consent: log in again', session: signedIn(1), prompt: ['login', 'consent'], login: true },
  { name: 'prompt=consent alone: no login', session: signedIn(1), prompt: ['consent'], login: false },
  {
    name: 'prompt=select_account alone: no login here',
    session: signedIn(1),
    prompt: ['select_account'],
    login: false,
  },
  { name: 'prompt=none with a session: no login', session: signedIn(1), prompt: ['none'], login: false },
  {
    name: 'max_age not yet elapsed: no login (OIDC Core §3.1.2.1)',
    session: signedIn(60),
    max_age: 3600,
    login: false,
  },
  {
    name: 'max_age elapsed exactly: no login (only "greater than" forces one)',
    session: signedIn(60),
    max_age: 60,
    login: false,
  },
  { name: 'max_age elapsed by a second: log in (OIDC Core §3.1.2.1)', session: signedIn(61), max_age: 60, login: true },
  { name: 'max_age elapsed long ago: log in', session: signedIn(86_400 * 30), max_age: 3600, login: true },
  {
    name: 'max_age=0 a second after login: log in (OIDC Core §3.1.2.1)',
    session: signedIn(1),
    max_age: 0,
    login: true,
  },
  {
    name: 'max_age=0 in the same second as the login: log in (max_age=0 is prompt=login, OIDC Core §3.1.2.1)',
    session: signedIn(0),
    max_age: 0,
    login: true,
  },
  {
    name: 'prompt=login wins over a fresh max_age',
    session: signedIn(1),
    prompt: ['login'],
    max_age: 3600,
    login: true,
  },
];

describe('needsLogin, one rule a row', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    // Half way through the second NOW, so whole-second rounding is visible.
    vi.setSystemTime(NOW * 1000 + 500);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const check = (row: Row) => {
    const request: AuthorizationRequest = { ...REQUEST, prompt: row.prompt ?? [], max_age: row.max_age };
    expect(needsLogin(request, row.session)).toBe(row.login);
  };

  it.each(rows.filter((r) => !r.bug).map((row) => [row.name, row] as const))('%s', (_name, row) => check(row));

  // Known bugs: these rows state what the spec asks, and fail until the code does it.
  for (const row of rows.filter((r) => r.bug)) {
    it.fails(`${row.name} [BUG: ${row.bug}]`, () => check(row));
  }
});
