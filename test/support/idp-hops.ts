import type { UserAgent } from './user-agent.js';

/**
 * One hop of a browser through oidc-provider 8's development interactions: on its interaction
 * page, fill the login form (any password) or confirm the consent; anywhere else, a plain GET.
 */
export async function idpHop(ua: UserAgent, url: URL, idpIssuer: string, account: string): Promise<Response> {
  if (url.origin !== idpIssuer || !/^\/interaction\/[^/]+$/.test(url.pathname)) return ua.get(url);
  const page = await (await ua.get(url)).text();
  const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1] ?? (page.includes('name="login"') ? 'login' : 'consent');
  return ua.postForm(url, prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt });
}

/** Where a redirect answer sends the browser; an error naming the page when it does not redirect. */
export async function nextHop(res: Response, url: URL): Promise<URL> {
  const next = res.headers.get('location');
  if (!next) throw new Error(`stopped at ${url.href} with ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return new URL(next, url);
}
