import { html, layout } from './html.js';

const TITLES: Record<number, string> = {
  400: 'This sign-in request cannot be completed',
  403: 'This request was refused',
  404: 'Page not found',
  413: 'The request is too large',
  429: 'Too many attempts',
  503: 'Sign-in is temporarily unavailable',
};

export function renderErrorPage(
  input: { status: number; error: string; description: string; requestId: string },
  base = '',
): string {
  const title =
    TITLES[input.status] ?? (input.status >= 500 ? 'Something went wrong' : 'This request cannot be completed');
  return layout(
    title,
    html`<h1>${title}</h1>
<p class="problem">${input.description}</p>
<p class="detail">Error code: <code>${input.error}</code></p>
<p class="detail">If you report this, quote the reference <code>${input.requestId}</code>.</p>
<p>You can close this page and return to the application you came from.</p>`,
    base,
  );
}
