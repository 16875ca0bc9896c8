import { appleClientSecretQuirk } from './apple-client-secret.js';
import { appleFormPost } from './apple-form-post.js';
import { dropboxRpcPost } from './dropbox-rpc-post.js';
import { entraTenantIssuer } from './entra-tenant-issuer.js';
import { facebookAppsecretProof } from './facebook-appsecret-proof.js';
import { facebookDebugToken } from './facebook-debug-token.js';
import { github200Errors } from './github-200-errors.js';
import { githubEmails } from './github-emails.js';
import { githubTokenCheck } from './github-token-check.js';
import { kakaoEmailValid } from './kakao-email-valid.js';
import { naver200Errors } from './naver-200-errors.js';
import { notionJsonToken } from './notion-json-token.js';
import { slackOkFalse } from './slack-ok-false.js';
import { tiktokClientKey } from './tiktok-client-key.js';
import { twitchScopeArray } from './twitch-scope-array.js';
import { vkId } from './vk-id.js';
import type { Quirk } from './types.js';

export type { ApiRequest, Quirk, EnrichInput } from './types.js';

const ALL: Quirk[] = [
  githubEmails,
  github200Errors,
  facebookAppsecretProof,
  appleClientSecretQuirk,
  appleFormPost,
  entraTenantIssuer,
  slackOkFalse,
  twitchScopeArray,
  dropboxRpcPost,
  vkId,
  notionJsonToken,
  tiktokClientKey,
  kakaoEmailValid,
  naver200Errors,
  facebookDebugToken,
  githubTokenCheck,
];

export const QUIRKS: ReadonlyMap<string, Quirk> = new Map(ALL.map((quirk) => [quirk.name, quirk]));
