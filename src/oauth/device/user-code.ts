import { randomInt } from 'node:crypto';

/**
 * User codes (RFC 8628 §6.1): 8 characters from 20 consonants (no vowels, so no words; no
 * 0/O or 1/I to confuse), about 34.5 bits, shown as XXXX-XXXX. Entry ignores case, dashes and
 * spaces.
 */
const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const LENGTH = 8;

export function newUserCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}

/** XXXX-XXXX, as the user sees and types it. */
export const displayUserCode = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;

/** The canonical code of what the user typed, or undefined when it cannot be a user code. */
export function normalizeUserCode(entered: string | null | undefined): string | undefined {
  if (typeof entered !== 'string' || entered.length > 32) return undefined;
  const code = entered.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== LENGTH) return undefined;
  for (const c of code) if (!ALPHABET.includes(c)) return undefined;
  return code;
}
