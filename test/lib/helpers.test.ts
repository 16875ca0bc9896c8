import { afterEach, describe, expect, it } from 'vitest';
import { nowS, setClock } from '../../src/lib/clock.js';
import { constantTimeEqual } from '../../src/lib/constant-time.js';
import { escapeHtml } from '../../src/lib/html.js';
import { safeText } from '../../src/lib/text.js';

describe('lib/', () => {
  afterEach(() => setClock());

  it('the clock is epoch seconds, and tests can move it', () => {
    expect(Math.abs(nowS() - Date.now() / 1000)).toBeLessThan(2);
    setClock(() => 1_700_000_000_999);
    expect(nowS()).toBe(1_700_000_000);
    setClock();
    expect(nowS()).toBeGreaterThan(1_700_000_000);
  });

  it.each([
    ['equal strings', 'abc', 'abc', true],
    ['different strings', 'abc', 'abd', false],
    ['a prefix', 'abc', 'abcd', false],
    ['empty and not', '', 'a', false],
    ['equal bytes', Buffer.from([1, 2]), Buffer.from([1, 2]), true],
    ['bytes of different lengths', Buffer.from([1, 2]), Buffer.from([1, 2, 3]), false],
  ])('constantTimeEqual: %s', (_name, a, b, equal) => {
    expect(constantTimeEqual(a, b)).toBe(equal);
  });

  it('escapeHtml escapes the five characters that matter in content and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    expect(escapeHtml(undefined)).toBe('');
  });

  it('safeText keeps only what an error_description may hold (RFC 6749 §5.2), bounded', () => {
    expect(safeText('bad "quote" \\ é\n')).toBe("bad 'quote' ' ''");
    expect(safeText('x'.repeat(400))).toHaveLength(300);
    expect(safeText('abcdef', 3)).toBe('abc');
  });
});
