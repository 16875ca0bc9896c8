import { appleClientSecretQuirk } from './apple-client-secret.js';
import { appleFormPost } from './apple-form-post.js';
import { entraTenantIssuer } from './entra-tenant-issuer.js';
import { facebookAppsecretProof } from './facebook-appsecret-proof.js';
import { github200Errors } from './github-200-errors.js';
import { githubEmails } from './github-emails.js';
import { slackOkFalse } from './slack-ok-false.js';
import { twitchScopeArray } from './twitch-scope-array.js';
import type { Quirk } from './types.js';

export type { Quirk, EnrichInput } from './types.js';

const ALL: Quirk[] = [githubEmails, github200Errors, facebookAppsecretProof, appleClientSecretQuirk, appleFormPost, entraTenantIssuer, slackOkFalse, twitchScopeArray];

export const QUIRKS: ReadonlyMap<string, Quirk> = new Map(ALL.map((quirk) => [quirk.name, quirk]));
