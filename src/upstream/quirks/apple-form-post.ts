import { isObject, type Quirk } from './types.js';

/**
 * Apple requires response_mode=form_post when name or email is requested, so the answer is a
 * cross-site POST (the callback re-issues it as a same-site GET, see src/upstream/routes.ts). The user's
 * name comes only on the first authorization, as the unsigned `user` form field: used for the
 * name only, never for the email or the subject.
 */
export const appleFormPost: Quirk = {
  name: 'apple-form-post',
  check(_entry, definition) {
    return definition.response_mode === 'form_post' ? [] : ['apple-form-post needs response_mode: form_post'];
  },
  authorizationParams: () => ({ response_mode: 'form_post' }),
  async enrich({ identity, params }) {
    const text = params.get('user');
    if (!text || text.length > 4096) return;
    let user: unknown;
    try {
      user = JSON.parse(text);
    } catch {
      return;
    }
    if (!isObject(user) || !isObject(user.name)) return;
    const { firstName, lastName } = user.name;
    if (typeof firstName === 'string' && firstName) identity.given_name ??= firstName.slice(0, 200);
    if (typeof lastName === 'string' && lastName) identity.family_name ??= lastName.slice(0, 200);
    if (!identity.name && (identity.given_name || identity.family_name)) {
      identity.name = [identity.given_name, identity.family_name].filter(Boolean).join(' ');
    }
    identity.raw.user = user;
  },
};
