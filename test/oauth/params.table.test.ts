import { describe, expect, it } from 'vitest';

import { MAX_PARAM_LENGTH, Params, scopeSet } from '../../src/oauth/params.js';
import { BrokerError } from '../../src/http/broker-error.js';

/**
 * Reading OAuth parameters (RFC 6749 §3.1, §3.2, §3.3), one rule a row. Descriptions are what the
 * client sees: safeDescription turns double quotes into single ones.
 */

type Outcome = { value: string | undefined } | { error: RegExp };

interface GetRow {
  name: string;
  query: string;
  read: (p: Params) => string | undefined;
  expect: Outcome;
}

const getRows: GetRow[] = [
  { name: 'get: a present value', query: 'a=1', read: (p) => p.get('a'), expect: { value: '1' } },
  { name: 'get: absent is undefined', query: 'b=1', read: (p) => p.get('a'), expect: { value: undefined } },
  {
    name: 'get: an empty value counts as absent (RFC 6749 §3.1)',
    query: 'a=',
    read: (p) => p.get('a'),
    expect: { value: undefined },
  },
  {
    name: 'get: repeated is refused (RFC 6749 §3.1)',
    query: 'a=1&a=1',
    read: (p) => p.get('a'),
    expect: { error: /'a' is repeated/ },
  },
  {
    name: 'get: repeated, one of them empty, is refused (RFC 6749 §3.1)',
    query: 'a=&a=1',
    read: (p) => p.get('a'),
    expect: { error: /'a' is repeated/ },
  },
  { name: 'get: form encoding is decoded', query: 'a=x%20y+z', read: (p) => p.get('a'), expect: { value: 'x y z' } },
  { name: 'get: names are case-sensitive', query: 'A=1', read: (p) => p.get('a'), expect: { value: undefined } },
  {
    name: 'get: exactly the default maximum length',
    query: `a=${'x'.repeat(MAX_PARAM_LENGTH)}`,
    read: (p) => p.get('a'),
    expect: { value: 'x'.repeat(MAX_PARAM_LENGTH) },
  },
  {
    name: 'get: over the default maximum length is refused',
    query: `a=${'x'.repeat(MAX_PARAM_LENGTH + 1)}`,
    read: (p) => p.get('a'),
    expect: { error: /'a' is too long/ },
  },
  {
    name: 'get: exactly a given maximum',
    query: 'a=xyz',
    read: (p) => p.get('a', { max: 3 }),
    expect: { value: 'xyz' },
  },
  {
    name: 'get: over a given maximum is refused',
    query: 'a=wxyz',
    read: (p) => p.get('a', { max: 3 }),
    expect: { error: /'a' is too long/ },
  },
  { name: 'require: a present value', query: 'a=1', read: (p) => p.require('a'), expect: { value: '1' } },
  {
    name: 'require: absent is refused',
    query: 'b=1',
    read: (p) => p.require('a'),
    expect: { error: /'a' is required/ },
  },
  {
    name: 'require: empty is refused (RFC 6749 §3.1)',
    query: 'a=',
    read: (p) => p.require('a'),
    expect: { error: /'a' is required/ },
  },
  {
    name: 'require: repeated is refused (RFC 6749 §3.1)',
    query: 'a=1&a=2',
    read: (p) => p.require('a'),
    expect: { error: /'a' is repeated/ },
  },
];

interface ShapeRow {
  name: string;
  query: string;
  error?: RegExp;
}

const shapeRows: ShapeRow[] = [
  { name: 'distinct plain names pass', query: 'grant_type=x&code=y&redirect_uri=z' },
  { name: 'no parameters pass', query: '' },
  { name: 'a repeated name is refused (RFC 6749 §3.1)', query: 'code=a&code=b', error: /'code' is repeated/ },
  { name: 'a repeated empty name is refused (RFC 6749 §3.1)', query: 'code=&code=', error: /'code' is repeated/ },
  { name: 'an array-shaped name is refused', query: 'code[]=a', error: /'code\[\]' is not a valid parameter name/ },
  { name: 'an object-shaped name is refused', query: 'code[x]=a', error: /'code\[x\]' is not a valid parameter name/ },
  { name: 'a dotted name is refused', query: 'a.b=1', error: /'a\.b' is not a valid parameter name/ },
  {
    name: 'a long bad name is cut in the message',
    query: `${'n'.repeat(100)}[]=1`,
    error: /^parameter 'n{40}' is not a valid/,
  },
];

const scopeRows: { name: string; scope: string | undefined; set: string[] }[] = [
  { name: 'undefined is no scopes', scope: undefined, set: [] },
  { name: 'empty is no scopes', scope: '', set: [] },
  { name: 'spaces only are no scopes', scope: '   ', set: [] },
  { name: 'space-delimited (RFC 6749 §3.3)', scope: 'openid profile email', set: ['openid', 'profile', 'email'] },
  { name: 'extra spaces are ignored', scope: ' openid   profile ', set: ['openid', 'profile'] },
  { name: 'duplicates are named once, first place kept', scope: 'email openid email', set: ['email', 'openid'] },
  { name: 'case-sensitive (RFC 6749 §3.3)', scope: 'openid OpenID', set: ['openid', 'OpenID'] },
  { name: 'only the space delimits (RFC 6749 §3.3)', scope: 'openid\tprofile', set: ['openid\tprofile'] },
];

describe('Params, one rule a row', () => {
  it.each(getRows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const params = new Params(new URLSearchParams(row.query));
    if ('value' in row.expect) {
      expect(row.read(params)).toBe(row.expect.value);
      return;
    }
    let thrown: unknown;
    try {
      row.read(params);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BrokerError);
    expect((thrown as BrokerError).error).toBe('invalid_request');
    expect((thrown as BrokerError).status).toBe(400);
    expect((thrown as BrokerError).error_description).toMatch(row.expect.error);
  });

  it('uses the given error maker, so callers choose page or redirect', () => {
    const custom = new BrokerError('invalid_client', 'custom', 401);
    const params = new Params(new URLSearchParams('a=1&a=2'), () => custom);
    expect(() => params.get('a')).toThrow(custom);
  });

  it.each([
    ['has: present with a value', 'a=1', true],
    ['has: present but empty', 'a=', true],
    ['has: absent', 'b=1', false],
  ] as const)('%s', (_name, query, has) => {
    expect(new Params(new URLSearchParams(query)).has('a')).toBe(has);
  });
});

describe('Params.checkShape, one rule a row', () => {
  it.each(shapeRows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const check = () => new Params(new URLSearchParams(row.query)).checkShape();
    if (!row.error) {
      expect(check).not.toThrow();
      return;
    }
    expect(check).toThrow(
      expect.objectContaining({ error: 'invalid_request', error_description: expect.stringMatching(row.error) }),
    );
  });
});

describe('scopeSet, one rule a row', () => {
  it.each(scopeRows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    expect(scopeSet(row.scope)).toStrictEqual(row.set);
  });
});
