import { createHmac } from 'node:crypto';
import type { Quirk } from './types.js';

/** hex HMAC-SHA256 of the access token, keyed with the app secret (Meta: "Securing Graph API Requests"). */
export function appsecretProof(accessToken: string, appSecret: string): string {
  return createHmac('sha256', appSecret).update(accessToken).digest('hex');
}

const REQUIRED_FIELDS = ['id', 'name', 'email', 'first_name', 'last_name', 'picture'];

/**
 * Every Graph call carries `appsecret_proof` (mandatory with "Require App Secret"). The file must
 * pin a Graph version (unversioned calls follow the dashboard) and ask for explicit fields
 * (`/me` without them returns only id and name).
 */
export const facebookAppsecretProof: Quirk = {
  name: 'facebook-appsecret-proof',
  check(entry, definition) {
    const problems: string[] = [];
    if (!entry.client_secret) problems.push('client_secret is required (it keys appsecret_proof)');
    const url = definition.profile?.url ?? '';
    if (!/\/v\d+\.\d+\//.test(url)) problems.push('profile.url must pin a Graph API version (/vNN.N/)');
    const fields = (definition.profile?.query?.fields ?? '').split(',');
    const missing = REQUIRED_FIELDS.filter((field) => !fields.includes(field));
    if (missing.length) problems.push(`profile.query.fields must list ${missing.join(', ')}`);
    return problems;
  },
  apiUrl(url, accessToken, entry) {
    url.searchParams.set('appsecret_proof', appsecretProof(accessToken, entry.client_secret ?? ''));
  },
};
