import { expect } from 'vitest';
import { formAction, formValue, location, type UserAgent } from './user-agent.js';

/**
 * The user's side of the device flow: opens the verification page (with the code), signs in
 * with the dev provider when there is no session, then allows or denies. Returns the last answer.
 */
export async function decideDevice(
  ua: UserAgent,
  brokerUrl: string,
  pageUrl: string,
  username: string,
  decision: 'allow' | 'deny',
): Promise<{ status: number; page: string }> {
  const same = { origin: brokerUrl, 'sec-fetch-site': 'same-origin' };
  let res = await ua.get(pageUrl);
  expect(res.status).toBe(200);
  let page = await res.text();
  if (page.includes('name="provider"')) {
    const form = { csrf: formValue(page, 'csrf'), user_code: formValue(page, 'user_code'), provider: 'dev' };
    res = await ua.postForm(`${brokerUrl}/device/login`, form, same);
    expect(res.status).toBe(303);
    const devUrl = location(res);
    const devPage = await (await ua.get(devUrl)).text();
    const action = new URL(formAction(devPage), devUrl);
    res = await ua.postForm(action, { state: formValue(devPage, 'state'), username }, same);
    expect(res.status).toBe(303);
    res = await ua.get(location(res, action.toString()));
    expect(res.status).toBe(200);
    page = await res.text();
  }
  expect(page).toContain('would like to');
  const form = { csrf: formValue(page, 'csrf'), user_code: formValue(page, 'user_code'), decision };
  res = await ua.postForm(`${brokerUrl}/device/decide`, form, same);
  return { status: res.status, page: await res.text() };
}
