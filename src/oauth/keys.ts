import { readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importPKCS8, type JWK } from 'jose';
import type { KeysConfig } from '../config/tokens.js';
import type { Store } from '../store/index.js';
import { nowS } from '../lib/clock.js';

type SigningAlg = KeysConfig['algorithm'];

interface StoredKey {
  kid: string;
  alg: SigningAlg;
  privateJwk: JWK;
  /** Epoch seconds. */
  created: number;
  /** Epoch seconds from which the key signs; published in the JWKS before that. */
  activates: number;
}

interface LoadedKey extends StoredKey {
  /** node:crypto keys: our tokens are signed and verified synchronously (jwt.ts). */
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JWK;
}

const STORE_KEY = 'keys:signing';
const LOCK_KEY = 'keys:rotating';
const RELOAD_INTERVAL_MS = 60_000;

/**
 * The broker's signing keys. Generated on first start and kept in the store, so every broker
 * process signs with the same key and publishes the same JWKS; or loaded from files. Keys are
 * cached in process: signing never costs a store round trip.
 *
 * Rotation publishes the next key `publish_ahead_s` before it signs, and keeps a retired key's
 * public half until every token it signed has expired (`retainS` after it stopped signing).
 */
export class SigningKeys {
  #keys: LoadedKey[] = [];
  #byKid = new Map<string, LoadedKey>();
  #timer: NodeJS.Timeout | undefined;
  #fromFiles: boolean;

  constructor(
    private readonly store: Store,
    private readonly config: KeysConfig,
    /** How long a token signed by a key can still be valid: the longest token lifetime. */
    private readonly retainS: number,
    private readonly log?: { info(o: object, m: string): void; warn(o: object, m: string): void },
  ) {
    this.#fromFiles = config.files.length > 0;
  }

  async init(): Promise<void> {
    if (this.#fromFiles) {
      this.#set(await Promise.all(this.config.files.map((file) => loadKeyFile(file, this.config.algorithm))));
      return;
    }
    await this.reload();
    if (this.#keys.length === 0) {
      const first = await generate(this.config.algorithm, nowS());
      // Two processes starting at once: the first write wins, the other adopts its key.
      if (await this.store.putIfAbsent(STORE_KEY, JSON.stringify([strip(first)]))) {
        this.log?.info({ kid: first.kid, alg: first.alg }, 'generated the first signing key');
      }
      await this.reload();
    }
    await this.rotateIfDue();
  }

  /** Re-reads the keys periodically, so a rotation made by another process is seen here. */
  startBackgroundRefresh(): void {
    if (this.#fromFiles || this.#timer) return;
    this.#timer = setInterval(() => {
      this.reload()
        .then(() => this.rotateIfDue())
        .catch((err: Error) => this.log?.warn({ err: { message: err.message } }, 'could not refresh signing keys'));
    }, RELOAD_INTERVAL_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async reload(): Promise<void> {
    const text = await this.store.get(STORE_KEY);
    if (!text) return;
    const stored = JSON.parse(text) as StoredKey[];
    const known = new Map(this.#keys.map((k) => [k.kid, k]));
    this.#set(stored.map((k) => known.get(k.kid) ?? hydrate(k)));
  }

  #set(keys: LoadedKey[]): void {
    this.#keys = keys;
    this.#byKid = new Map(keys.map((k) => [k.kid, k]));
  }

  /** The key that signs now: the newest one already active. */
  current(): LoadedKey {
    const t = nowS();
    const active = this.#keys.filter((k) => k.activates <= t).sort((a, b) => b.activates - a.activates);
    const key = active[0] ?? this.#keys[0];
    if (!key) throw new Error('signing keys are not initialised');
    return key;
  }

  /** A published key by its kid: the one that verifies a token of ours with that kid. */
  byKid(kid: string): LoadedKey | undefined {
    return this.#byKid.get(kid);
  }

  /** Public keys for the JWKS endpoint and for verifying our own tokens. */
  jwks(): { keys: JWK[] } {
    return { keys: this.#keys.map((k) => k.publicJwk) };
  }

  async rotateIfDue(): Promise<void> {
    if (this.#fromFiles) return;
    const newest = [...this.#keys].sort((a, b) => b.created - a.created)[0];
    if (newest && nowS() - newest.created < this.config.rotation_days * 86_400) return;
    await this.rotate();
  }

  /** Adds the next key (published now, signing after publish_ahead_s) and drops expired ones. */
  async rotate(): Promise<void> {
    if (this.#fromFiles) throw new Error('keys loaded from files are rotated by replacing the files');
    if (!(await this.store.putIfAbsent(LOCK_KEY, '1', 30))) return;
    try {
      await this.reload();
      const t = nowS();
      const next = await generate(this.config.algorithm, t + this.config.publish_ahead_s);
      const kept = this.#keys.filter((k) => !retired(k, this.#keys, t, this.retainS));
      await this.store.put(STORE_KEY, JSON.stringify([...kept.map(strip), strip(next)]));
      this.log?.info({ kid: next.kid, activates: next.activates }, 'published the next signing key');
      await this.reload();
    } finally {
      await this.store.del(LOCK_KEY);
    }
  }
}

/** A key is retired once a newer key has been signing for longer than any token lives. */
function retired(key: LoadedKey, all: LoadedKey[], t: number, retainS: number): boolean {
  return all.some((other) => other.activates > key.activates && other.activates + retainS < t);
}

function strip(key: LoadedKey | StoredKey): StoredKey {
  return { kid: key.kid, alg: key.alg, privateJwk: key.privateJwk, created: key.created, activates: key.activates };
}

async function generate(alg: SigningAlg, activates: number): Promise<LoadedKey> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
  });
  const privateJwk = await exportJWK(privateKey);
  const kid = randomUUID();
  return hydrate({ kid, alg, privateJwk: { ...privateJwk, kid, alg }, created: nowS(), activates });
}

function hydrate(stored: StoredKey): LoadedKey {
  const { kty } = stored.privateJwk;
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') throw new Error('symmetric keys cannot sign broker tokens');
  const privateKey = createPrivateKey({ key: stored.privateJwk as JsonWebKey, format: 'jwk' });
  checkKeyFits(privateKey, stored.alg, stored.kid);
  return {
    ...stored,
    privateKey,
    publicKey: createPublicKey(privateKey),
    publicJwk: publicPart(stored.privateJwk, stored.kid, stored.alg),
  };
}

/** The key type each alg needs (RFC 7518 §3.3-3.4, RFC 8037 §3.1): RSA of 2048 bits or more, P-256, Ed25519. */
function checkKeyFits(key: KeyObject, alg: SigningAlg, kid: string): void {
  const details = key.asymmetricKeyDetails;
  const fits =
    alg === 'RS256'
      ? key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048
      : alg === 'ES256'
        ? key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1'
        : key.asymmetricKeyType === 'ed25519';
  if (!fits) throw new Error(`signing key ${kid} does not fit ${alg}`);
}

function publicPart(jwk: JWK, kid: string, alg: string): JWK {
  const { kty, crv, x, y, n, e } = jwk;
  const pub: JWK = { kty, kid, alg, use: 'sig' };
  for (const [name, value] of Object.entries({ crv, x, y, n, e }))
    if (value !== undefined) (pub as Record<string, unknown>)[name] = value;
  return pub;
}

async function loadKeyFile(file: string, alg: SigningAlg): Promise<LoadedKey> {
  const text = readFileSync(file, 'utf8').trim();
  let privateJwk: JWK;
  if (text.startsWith('{')) {
    privateJwk = JSON.parse(text) as JWK;
  } else {
    privateJwk = await exportJWK(await importPKCS8(text, alg, { extractable: true }));
  }
  if (!privateJwk.d) throw new Error(`${file}: not a private key`);
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(privateJwk));
  return hydrate({ kid, alg, privateJwk: { ...privateJwk, kid, alg }, created: 0, activates: 0 });
}
