/**
 * Redis Cluster slots, computed as Redis computes them: CRC16 (XMODEM) of the key's hash tag,
 * modulo 16384. The hash tag is what lies between the first `{` and the first `}` after it, when
 * that is not empty; otherwise the whole key. Keys that share a hash tag share a slot, and only
 * keys of one slot may meet in one MULTI, one Lua call or one multi-key command.
 */
export const SLOTS = 16384;

/** A tag that puts every key built with it in one slot: `{<entity>}`. */
export const hashTag = (entity: string): string => `{${entity}}`;

export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

export function slotOf(key: string): number {
  return crc16(Buffer.from(hashTagOf(key), 'utf8')) % SLOTS;
}

export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** Thrown for one atomic step (or multi-key read) whose keys lie in more than one slot. */
export class CrossSlotError extends TypeError {
  override readonly name = 'CrossSlotError';

  constructor(what: string, keys: string[]) {
    super(
      `${what} touches keys of more than one Redis Cluster slot (${keys.join(', ')}): ` +
        'give them one hash tag, or send independent writes as separate batches (Store.batches)',
    );
  }
}

/** Throws CrossSlotError unless every key (with the store's prefix) lies in one slot. */
export function checkOneSlot(what: string, prefix: string, keys: readonly string[]): void {
  if (keys.length < 2) return;
  const first = slotOf(prefix + keys[0]);
  for (const key of keys) {
    if (slotOf(prefix + key) !== first) throw new CrossSlotError(what, [...new Set(keys)]);
  }
}
