/**
 * The quirks a provider file may name (the quirks themselves are in src/upstream/quirks/). The
 * names live here, with the provider schema that checks them, because config/ imports nothing
 * of the rest of the broker.
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
  'facebook-debug-token',
  'github-token-check',
] as const;

export type QuirkName = (typeof QUIRK_NAMES)[number];
