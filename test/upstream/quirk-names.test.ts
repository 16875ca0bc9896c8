import { describe, expect, it } from 'vitest';
import { QUIRKS } from '../../src/upstream/quirks/index.js';
import { QUIRK_NAMES } from '../../src/upstream/quirks/names.js';

describe('quirk names', () => {
  it('the names a provider file may use are exactly the quirks that exist', () => {
    expect([...QUIRK_NAMES].sort()).toEqual([...QUIRKS.keys()].sort());
  });
});
