import { expect } from 'vitest';
import { formAction, formValue, location, type UserAgent } from './user-agent.js';

export interface DevUser {
  username: string;
  name?: string;
  email?: string;
  email_verified?: boolean;
}

/**
 * Walks a browser through /authorize and the dev provider's form, and returns where the broker
 * finally sent it (the app's redirect URI with code or error). Fails on any unexpected hop.
 */
export async function loginWithDev(ua: UserAgent, authorizeUrl: string | URL, user: DevUser): Promise<URL> {
  let res = await ua.get(authorizeUrl);
  let url = location(res);
  if (url.pathname.endsWith('/upstream/dev/login')) {
    res = await ua.get(url);
    expect(res.status).toBe(200);
    const page = await res.text();
    const action = new URL(formAction(page), url);
    const form: Record<string, string> = { state: formValue(page, 'state'), username: user.username };
    if (user.name) form.name = user.name;
    if (user.email) form.email = user.email;
    if (user.email_verified) form.email_verified = 'true';
    res = await ua.postForm(action, form, { origin: action.origin, 'sec-fetch-site': 'same-origin' });
    expect(res.status).toBe(303);
    url = location(res, action.toString());
  }
  return url;
}
