import { describe, expect, it } from 'vitest';
import {
  codeCodec,
  parseRecord,
  refreshCodec,
  serializeRecord,
  type CodeRecord,
  type RefreshRecord,
} from '../../src/oauth/grant-records.js';

const refresh: RefreshRecord = {
  grantId: 'g'.repeat(22),
  clientId: 'web',
  userId: 'u1',
  scope: 'openid offline_access',
  authTime: 1_700_000_000,
  sid: 's1',
  expiresAt: 1_800_000_000,
  offline: true,
};

const code: CodeRecord = {
  grantId: 'g'.repeat(22),
  clientId: 'web',
  userId: 'u1',
  scope: 'openid',
  authTime: 1_700_000_000,
  redirectUri: 'https://app.example/cb',
  codeChallenge: 'c'.repeat(43),
  nonce: 'n-1',
  claims: { email: 'a@example.com' },
  refresh: false,
};

describe('grant record codec', () => {
  it('round-trips codes and refresh tokens, leaving absent optional fields out', () => {
    expect(parseRecord(refreshCodec, serializeRecord(refreshCodec, refresh))).toEqual(refresh);
    expect(parseRecord(codeCodec, serializeRecord(codeCodec, code))).toEqual(code);
    expect(JSON.parse(serializeRecord(refreshCodec, refresh))).not.toHaveProperty('r');
  });

  it('stores short keys: a refresh record is smaller than its snake_case form', () => {
    const snake = JSON.stringify({
      client_id: 'web',
      user_id: 'u1',
      scope: refresh.scope,
      grant_id: refresh.grantId,
      auth_time: refresh.authTime,
      sid: 's1',
      expires_at: refresh.expiresAt,
      offline: true,
    });
    expect(serializeRecord(refreshCodec, refresh).length).toBeLessThan(snake.length - 40);
  });

  it('reads records written by earlier versions (snake_case keys), so an upgrade keeps tokens working', () => {
    const legacy = {
      client_id: 'web',
      user_id: 'u1',
      scope: refresh.scope,
      grant_id: refresh.grantId,
      auth_time: refresh.authTime,
      sid: 's1',
      expires_at: refresh.expiresAt,
      offline: true,
    };
    expect(parseRecord(refreshCodec, JSON.stringify(legacy))).toEqual(refresh);
  });

  it.each([
    ['not JSON', '{'],
    ['null', 'null'],
    ['a number', '5'],
    ['a field of the wrong type', JSON.stringify({ ...refreshCodec.encode(refresh), x: '1800000000' })],
    ['a required field missing', JSON.stringify({ ...refreshCodec.encode(refresh), u: undefined })],
    ['an optional field of the wrong type', JSON.stringify({ ...refreshCodec.encode(refresh), i: 5 })],
  ])('treats %s as no record', (_name, text) => {
    expect(parseRecord(refreshCodec, text)).toBeUndefined();
  });
});
