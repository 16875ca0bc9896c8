import { lookup } from '../mapping.js';
import type { Quirk } from './types.js';

/**
 * Kakao flags an account email twice: `is_email_verified` (the user confirmed it) and
 * `is_email_valid` (false once the address was reclaimed or expired). Kakao says to trust the
 * email only when both are true; the mapping reads the first, this requires the second.
 */
export const kakaoEmailValid: Quirk = {
  name: 'kakao-email-valid',
  async enrich({ identity }) {
    if (lookup(identity.raw.profile, 'kakao_account.is_email_valid') !== true) identity.email_verified = false;
  },
};
