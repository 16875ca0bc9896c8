import { importPKCS8, SignJWT, type CryptoKey } from 'jose';
import type { ProviderEntry } from '../../config/providers.js';
import type { Quirk } from './types.js';
import { nowS } from '../../lib/clock.js';

const AUDIENCE = 'https://appleid.apple.com';
/** Apple accepts at most 15 777 000 s (6 months); a day is plenty and limits a leak. */
const LIFETIME_S = 24 * 3600;
const RENEW_BEFORE_S = 3600;

interface Minted {
  secret: string;
  exp: number;
}

const cache = new WeakMap<ProviderEntry, Minted>();
const keys = new WeakMap<ProviderEntry, Promise<CryptoKey>>();

/**
 * Apple's client secret is an ES256 JWT signed with the .p8 key: header kid = Key ID,
 * iss = Team ID, sub = Services ID (our client_id), aud = https://appleid.apple.com.
 * Minted once and reused until an hour before it expires.
 */
export async function appleClientSecret(entry: ProviderEntry, now = nowS()): Promise<string> {
  const cached = cache.get(entry);
  if (cached && cached.exp - RENEW_BEFORE_S > now) return cached.secret;
  const apple = entry.apple;
  if (!apple || !entry.client_id)
    throw new Error('apple-client-secret needs client_id and apple.team_id/key_id/private_key');
  let key = keys.get(entry);
  if (!key) {
    key = importPKCS8(apple.private_key, 'ES256');
    keys.set(entry, key);
  }
  const exp = now + LIFETIME_S;
  const secret = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: apple.key_id })
    .setIssuer(apple.team_id)
    .setSubject(entry.client_id)
    .setAudience(AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(await key);
  cache.set(entry, { secret, exp });
  return secret;
}

export const appleClientSecretQuirk: Quirk = {
  name: 'apple-client-secret',
  check(entry) {
    return entry.apple
      ? []
      : ['apple: { team_id, key_id, private_key } is required (the client secret is a JWT signed with the .p8 key)'];
  },
  clientSecret: (entry) => appleClientSecret(entry),
};
