/**
 * The quirks a provider file may name. Kept apart from the quirks themselves so the definition
 * schema can check names without importing quirk code (which imports the definition's type).
 */
export const QUIRK_NAMES = [
  'github-emails',
  'github-200-errors',
  'facebook-appsecret-proof',
  'apple-client-secret',
  'apple-form-post',
  'entra-tenant-issuer',
  'slack-ok-false',
  'twitch-scope-array',
  'dropbox-rpc-post',
  'vk-id',
  'notion-json-token',
  'tiktok-client-key',
  'kakao-email-valid',
  'naver-200-errors',
] as const;

export type QuirkName = (typeof QUIRK_NAMES)[number];
