import { createHash } from 'node:crypto';
import type { LockoutConfig } from '../../config/password.js';
import { batchPerSlot, getAcrossSlots, type Store, type StoreOp } from '../../store/index.js';

/**
 * Brute-force limits of the password grant (RFC 6749 §4.3.2, RFC 9700 §2.4), per username and
 * per client IP, in the store (every broker process shares them, and they expire by TTL). Only
 * failed password checks count toward either lock:
 *
 * - `fails` counts attempts within `window_s`. It is incremented *before* the password is
 *   checked, so a burst of parallel guesses cannot outrun the limit (an attempt in flight counts).
 *   An attempt that turns out not to be a failure is taken back: a success takes back the IP's
 *   count by one and clears the username's (one good account must not buy an attacker more
 *   guesses from its address), and an attempt refused beyond a limit or never checked (the
 *   password source down) takes back both.
 * - The failed attempt that reaches the limit sets `lock` for lock_s × 2^strikes, at most
 *   max_lock_s, and clears `fails`. `strikes` counts locks and is forgotten window_s after the
 *   last lock ends, so repeated locking grows exponentially and quiet time resets it.
 *
 * Unknown usernames are counted exactly like known ones: the lock says nothing about existence.
 */
export interface LockoutSubject {
  kind: 'user' | 'ip';
  /** Hashed into the key: usernames and addresses never appear in store keys. */
  value: string;
  limit: number;
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 32);

export class Lockout {
  constructor(
    private readonly store: Store,
    private readonly config: LockoutConfig,
  ) {}

  subjects(source: string, login: string, ip: string): LockoutSubject[] {
    return [
      { kind: 'user', value: `${source}\0${login}`, limit: this.config.username_failures },
      { kind: 'ip', value: ip, limit: this.config.ip_failures },
    ];
  }

  #key(what: 'fails' | 'lock' | 'strikes', subject: LockoutSubject) {
    // Tagged per subject: one subject's counter, lock and strikes share a cluster slot.
    return `pwlock:${what}:{${subject.kind}:${digest(subject.value)}}`;
  }

  /** Seconds until every lock on these subjects ends, or 0 when none is locked. One round trip. */
  async lockedFor(subjects: LockoutSubject[]): Promise<number> {
    // Subjects are separate slots: one read each, sent together.
    const values = await getAcrossSlots(
      this.store,
      subjects.map((s) => this.#key('lock', s)),
    );
    const now = Date.now();
    const until = Math.max(0, ...values.map((v) => (v ? Number(v) : 0)));
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  /**
   * Counts this attempt; false when it is beyond a limit (refuse it without checking the password,
   * and take it back with `release`).
   */
  async attempt(subjects: LockoutSubject[]): Promise<{ allowed: boolean; counts: number[] }> {
    const counts = await Promise.all(subjects.map((s) => this.store.incr(this.#key('fails', s), this.config.window_s)));
    return { allowed: counts.every((n, i) => n <= subjects[i]!.limit), counts };
  }

  /**
   * A failed password check: locks each subject whose count reached its limit, unless it is
   * locked already (so parallel failures past the limit add one strike, not one each).
   */
  async failed(subjects: LockoutSubject[], counts: number[]): Promise<{ kind: string; seconds: number }[]> {
    const locked: { kind: string; seconds: number }[] = [];
    await Promise.all(
      subjects.map(async (subject, i) => {
        if (counts[i]! < subject.limit) return;
        const strikesKey = this.#key('strikes', subject);
        const strikes = Number((await this.store.get(strikesKey)) ?? 0);
        const seconds = Math.min(this.config.max_lock_s, this.config.lock_s * 2 ** Math.min(strikes, 30));
        if (!(await this.store.putIfAbsent(this.#key('lock', subject), String(Date.now() + seconds * 1000), seconds)))
          return;
        await this.store.incr(strikesKey, seconds + this.config.window_s);
        await this.store.batch([
          { op: 'del', key: this.#key('fails', subject) },
          { op: 'expire', key: strikesKey, ttl: seconds + this.config.window_s },
        ]);
        locked.push({ kind: subject.kind, seconds });
      }),
    );
    return locked;
  }

  /** An attempt that was not a failed check (refused beyond a limit, or never checked): taken back from every count. */
  async release(subjects: LockoutSubject[]): Promise<void> {
    await batchPerSlot(
      this.store,
      subjects.map((s): StoreOp => ({ op: 'decr', key: this.#key('fails', s) })),
    );
  }

  /**
   * The store ops of a successful login, for the batch that stores its tokens (no round trip of
   * their own): the IP's count takes this attempt back, the username's count is cleared.
   */
  succeededOps(subjects: LockoutSubject[]): StoreOp[] {
    return subjects.map((s): StoreOp => ({ op: s.kind === 'user' ? 'del' : 'decr', key: this.#key('fails', s) }));
  }
}
