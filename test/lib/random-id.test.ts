import { describe, expect, it } from 'vitest';
import { newUserId } from '../../src/identity/users.js';
import { randomId } from '../../src/lib/random-id.js';

describe('randomId', () => {
  it('never starts with "-", which a command line would read as an option (users show ID)', () => {
    // Without the check 1 id in 64 would: 4,000 of them all pass by chance with p ≈ 4e-28.
    const ids = Array.from({ length: 4000 }, () => randomId());
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 50)) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(Array.from({ length: 4000 }, newUserId).some((id) => id.startsWith('-'))).toBe(false);
  });
});
