import { describe, expect, it } from 'vitest';
import type { Profile, User } from '../../src/identity/users.js';
import { userClaims } from '../../src/oauth/claims.js';

/** Which user claims each scope releases (OIDC Core §5.1, §5.4), one rule a row. */

const UPDATED = 1_700_000_000;

const FULL: Profile = {
  name: 'Ada Lovelace',
  given_name: 'Ada',
  family_name: 'Lovelace',
  preferred_username: 'ada',
  picture: 'https://img.example/ada.png',
  locale: 'en-GB',
  email: 'ada@example.com',
  email_verified: true,
};

const PROFILE_CLAIMS = {
  name: 'Ada Lovelace',
  given_name: 'Ada',
  family_name: 'Lovelace',
  preferred_username: 'ada',
  picture: 'https://img.example/ada.png',
  locale: 'en-GB',
  updated_at: UPDATED,
};

const GITHUB = { provider: 'github', issuer: 'https://github.com', subject: '583231', username: 'octo', linked_at: 1 };
const GOOGLE = { provider: 'google', issuer: 'https://accounts.google.com', subject: '1089', linked_at: 2 };

function user(profile: Profile = FULL, identities = [GITHUB, GOOGLE]): User {
  return { id: 'u-1', created_at: UPDATED - 100, updated_at: UPDATED, profile, emails: [], identities };
}

interface Row {
  name: string;
  user: User;
  scopes: string[];
  /** Exactly these claims: nothing more, and no key present with an undefined value. */
  claims: Record<string, unknown>;
}

const rows: Row[] = [
  {
    name: 'openid alone releases no user claims (sub is added elsewhere)',
    user: user(),
    scopes: ['openid'],
    claims: {},
  },
  { name: 'no scopes release nothing', user: user(), scopes: [], claims: {} },
  {
    name: 'profile releases the profile claims and updated_at (OIDC Core §5.4)',
    user: user(),
    scopes: ['openid', 'profile'],
    claims: PROFILE_CLAIMS,
  },
  {
    name: 'profile does not release email (OIDC Core §5.4)',
    user: user(),
    scopes: ['profile'],
    claims: PROFILE_CLAIMS,
  },
  {
    name: 'email releases email and email_verified (OIDC Core §5.4)',
    user: user(),
    scopes: ['openid', 'email'],
    claims: { email: 'ada@example.com', email_verified: true },
  },
  {
    name: 'an unverified email says so (OIDC Core §5.1)',
    user: user({ email: 'ada@example.com', email_verified: false }),
    scopes: ['email'],
    claims: { email: 'ada@example.com', email_verified: false },
  },
  {
    name: 'an email of unknown verification is released as unverified (OIDC Core §5.1)',
    user: user({ email: 'ada@example.com' }),
    scopes: ['email'],
    claims: { email: 'ada@example.com', email_verified: false },
  },
  { name: 'email scope without an email releases nothing', user: user({ name: 'Ada' }), scopes: ['email'], claims: {} },
  {
    name: 'absent profile fields are left out, not sent empty (OIDC Core §5.3.2)',
    user: user({ name: 'Ada' }),
    scopes: ['profile'],
    claims: { name: 'Ada', updated_at: UPDATED },
  },
  {
    name: 'an empty profile still releases updated_at',
    user: user({}),
    scopes: ['profile'],
    claims: { updated_at: UPDATED },
  },
  {
    name: 'profile and email together release both sets',
    user: user(),
    scopes: ['openid', 'profile', 'email'],
    claims: { ...PROFILE_CLAIMS, email: 'ada@example.com', email_verified: true },
  },
  {
    name: 'identities lists the linked providers, with no issuer, link time or upstream token',
    user: user(),
    scopes: ['openid', 'identities'],
    claims: {
      identities: [
        { provider: 'github', user_id: '583231', username: 'octo' },
        { provider: 'google', user_id: '1089' },
      ],
    },
  },
  {
    name: 'identities with none linked is an empty list',
    user: user(FULL, []),
    scopes: ['identities'],
    claims: { identities: [] },
  },
  { name: 'profile does not release identities', user: user({}), scopes: ['profile'], claims: { updated_at: UPDATED } },
  { name: 'offline_access releases no claims', user: user(), scopes: ['offline_access'], claims: {} },
  {
    name: 'scopes we do not know (phone, address) release nothing',
    user: user(),
    scopes: ['phone', 'address'],
    claims: {},
  },
  {
    name: 'order and repetition of scopes do not matter',
    user: user(),
    scopes: ['email', 'profile', 'email'],
    claims: { ...PROFILE_CLAIMS, email: 'ada@example.com', email_verified: true },
  },
  {
    name: 'profile keys that are not standard claims are never released',
    user: user({ name: 'Ada', secret: 'x', sub: 'forged' } as Profile),
    scopes: ['openid', 'profile', 'email'],
    claims: { name: 'Ada', updated_at: UPDATED },
  },
  {
    name: 'updated_at comes from the user record, not from the profile (OIDC Core §5.1: seconds)',
    user: user({ updated_at: 5 } as Profile),
    scopes: ['profile'],
    claims: { updated_at: UPDATED },
  },
];

describe('userClaims, one rule a row', () => {
  it.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    expect(userClaims(row.user, row.scopes)).toStrictEqual(row.claims);
  });
});
