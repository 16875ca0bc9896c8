import { isObject, type Quirk } from './types.js';

/**
 * GitHub's `/user` shows only the public email, unverified. `/user/emails` lists
 * `{email, primary, verified}`: take the primary address only when it is verified, and nothing
 * otherwise (never a public or secondary address as the email of record).
 */
export const githubEmails: Quirk = {
  name: 'github-emails',
  check(_entry, definition) {
    return definition.profile ? [] : ['github-emails needs profile.url (the /user endpoint)'];
  },
  async enrich({ identity, definition, api }) {
    const url = `${definition.profile!.url.replace(/\/$/, '')}/emails`;
    const list = await api(url);
    delete identity.email;
    identity.email_verified = false;
    if (!Array.isArray(list)) return;
    identity.raw.emails = list;
    const primary = list.find((item): item is Record<string, unknown> => isObject(item) && item.primary === true);
    if (primary && primary.verified === true && typeof primary.email === 'string' && primary.email.includes('@')) {
      identity.email = primary.email;
      identity.email_verified = true;
    }
  },
};
