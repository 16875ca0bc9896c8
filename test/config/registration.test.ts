import { describe, expect, it } from 'vitest';
import { registrationSchema } from '../../src/config/registration.js';

/** `registration:` (RFC 7591): off by default, and never "on" with nobody allowed to register. */
describe('registration config', () => {
  it('is off by default, with the documented limits', () => {
    expect(registrationSchema.parse(undefined)).toMatchObject({
      enabled: false,
      open: false,
      initial_access_tokens: [],
      unused_client_ttl_s: 86_400,
      client_id_metadata_documents: false,
      metadata_documents: { max_bytes: 5120, timeout_ms: 3000, min_cache_s: 60, max_cache_s: 86_400 },
    });
  });

  it('refuses enabled without open or an initial access token', () => {
    const parsed = registrationSchema.safeParse({ enabled: true });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['enabled']);
  });

  it('keeps initial access tokens as lower-case SHA-256 hex only, with unique names', () => {
    const hash = 'A'.repeat(64);
    expect(
      registrationSchema.parse({ enabled: true, initial_access_tokens: [{ name: 'p', sha256: hash }] })
        .initial_access_tokens,
    ).toEqual([{ name: 'p', sha256: 'a'.repeat(64) }]);
    expect(
      registrationSchema.safeParse({ initial_access_tokens: [{ name: 'p', sha256: 'the-token-itself' }] }).success,
    ).toBe(false);
    const twice = [
      { name: 'p', sha256: hash },
      { name: 'p', sha256: 'b'.repeat(64) },
    ];
    expect(registrationSchema.safeParse({ initial_access_tokens: twice }).success).toBe(false);
  });

  it('refuses a min_cache_s above max_cache_s', () => {
    expect(registrationSchema.safeParse({ metadata_documents: { min_cache_s: 600, max_cache_s: 60 } }).success).toBe(
      false,
    );
  });
});
