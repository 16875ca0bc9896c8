import { BrokerError } from '../http/broker-error.js';
import { type StoredEntry, TokenVault, type VaultTokens } from '../identity/token-vault.js';
import { nowS } from '../lib/clock.js';
import type { OAuthContext } from './context.js';
import { randomToken } from './crypto.js';
import { invalidGrant } from './errors.js';

/** An upstream access token with less than this left is refreshed before it is handed out. */
export const REFRESH_AHEAD_S = 60;
/** How long one instance may hold the refresh of one entry; the others wait at most this long. */
export const REFRESH_LOCK_S = 15;
const POLL_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const stale = (tokens: VaultTokens, now = nowS()) =>
  tokens.expiresAt !== undefined && tokens.expiresAt - now < REFRESH_AHEAD_S;

const signInAgain = (provider: string) =>
  invalidGrant(`the stored ${provider} tokens are no longer accepted; the user must sign in with ${provider} again`);

const unavailable = (provider: string) =>
  new BrokerError('temporarily_unavailable', `${provider} cannot be reached right now; try again shortly`, 503);

/**
 * The stored upstream tokens, refreshed first when the access token expired or is about to
 * (RFC 6749 §6). One refresh per entry at a time across every instance: the first request takes
 * a short lock in the store; the others wait for the entry it writes. The rotated refresh token
 * replaces the old one in one conditional write, only while the lock and the entry are as read.
 */
export async function freshUpstreamTokens(
  oauth: OAuthContext,
  userId: string,
  stored: StoredEntry,
): Promise<VaultTokens> {
  const vault = oauth.vault!;
  const { provider, subject } = stored.entry;
  const identity = { provider, subject };
  const deadline = Date.now() + REFRESH_LOCK_S * 1000;
  let current = stored;
  for (;;) {
    const tokens = current.entry.tokens;
    if (!stale(tokens)) return tokens;
    if (!tokens.refreshToken) {
      if (tokens.expiresAt! > nowS()) return tokens;
      await vault.forget(userId, [identity]);
      throw signInAgain(provider);
    }
    const lock = randomToken(16);
    const lockKey = TokenVault.lockKey(userId, provider, subject);
    if (await oauth.store.putIfAbsent(lockKey, lock, REFRESH_LOCK_S)) {
      return refreshUnderLock(oauth, userId, current, { key: lockKey, value: lock });
    }
    // Another request (here or on another instance) is refreshing: wait for what it writes.
    if (Date.now() > deadline) throw unavailable(provider);
    await sleep(POLL_MS);
    const [again] = await vault.read(userId, [identity]);
    // Deleted meanwhile: the provider refused the refresh (or the user forgot the tokens).
    if (!again) throw signInAgain(provider);
    current = again;
  }
}

async function refreshUnderLock(
  oauth: OAuthContext,
  userId: string,
  read: StoredEntry,
  lock: { key: string; value: string },
): Promise<VaultTokens> {
  const vault = oauth.vault!;
  const { provider, subject } = read.entry;
  const entryKey = TokenVault.key(userId, provider, subject);
  const release = () => oauth.store.batchIf([lock], [{ op: 'del', key: lock.key }]);
  // A refresh may have landed between the read and the lock.
  const [latest] = await vault.read(userId, [{ provider, subject }]);
  if (!latest) {
    await release();
    throw signInAgain(provider);
  }
  if (latest.raw !== read.raw && !stale(latest.entry.tokens)) {
    await release();
    return latest.entry.tokens;
  }
  const refreshToken = latest.entry.tokens.refreshToken!;
  const outcome = await oauth.upstreamTokens!.refresh(provider, refreshToken);
  const held = [lock, { key: entryKey, value: latest.raw }];
  if (!outcome.ok) {
    if (outcome.reason === 'unavailable') {
      await release();
      throw unavailable(provider);
    }
    // Revoked or expired at the provider: the tokens are of no use any more (RFC 6749 §5.2).
    await oauth.store.batchIf(held, [
      { op: 'del', key: entryKey },
      { op: 'del', key: lock.key },
    ]);
    oauth.log.info({ provider, user: userId }, 'upstream refresh token refused: stored tokens deleted');
    throw signInAgain(provider);
  }
  const entry = { provider, subject, tokens: outcome.tokens, storedAt: nowS() };
  const written = await oauth.store.batchIf(held, [vault.putOp(userId, entry), { op: 'del', key: lock.key }]);
  if (!written.applied) {
    // Forgotten or unlinked while the provider answered: nothing is written back, nothing handed out.
    await release();
    throw signInAgain(provider);
  }
  return outcome.tokens;
}
