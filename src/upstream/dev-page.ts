import { escapeHtml } from '../lib/html.js';

/**
 * The development provider's login form: no script, no inline style (the CSP is
 * default-src 'none'; style-src 'self'; form-action 'self'), posting same-origin to the callback.
 */
export function devLoginPage(input: { base: string; action: string; state: string; label: string }): string {
  const e = escapeHtml;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(input.label)}: development login</title>
<link rel="stylesheet" href="${e(input.base)}/static/broker.css">
</head>
<body>
<main class="card">
<h1>${e(input.label)}</h1>
<p>Development only: any values are accepted. Never enable this provider in production.</p>
<form method="post" action="${e(input.action)}">
<input type="hidden" name="state" value="${e(input.state)}">
<label>Username (the stable subject) <input name="username" required maxlength="100" autocomplete="off"></label>
<label>Display name <input name="name" maxlength="200"></label>
<label>Email <input name="email" type="email" maxlength="254"></label>
<label><input type="checkbox" name="email_verified" value="true"> Email verified</label>
<button type="submit">Sign in</button>
</form>
</main>
</body>
</html>
`;
}
