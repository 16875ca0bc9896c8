import { CLIENTS } from './broker-fixture.js';

export const TRUSTED_SECRET = 'trusted-secret-0123456789abcdef';
export const THIRD_SECRET = 'third-secret-0123456789abcdef';

/** The clients of the password grant tests: one that may use it, and one third-party that may not. */
export const PASSWORD_CLIENTS = [
  ...CLIENTS,
  {
    client_id: 'trusted',
    client_secret: TRUSTED_SECRET,
    grant_types: ['password', 'refresh_token'],
    first_party: true,
  },
  { client_id: 'third', client_secret: THIRD_SECRET, redirect_uris: ['https://third.example/cb'], first_party: false },
];
