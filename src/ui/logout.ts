import { html, layout } from './html.js';

export function renderLogoutConfirm(input: {
  action: string;
  csrf: string;
  fields: Record<string, string>;
  base: string;
}): string {
  const hidden = Object.entries(input.fields).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  return layout(
    'Sign out',
    html`<h1>Sign out of login-broker?</h1>
<p>You will need to sign in again to use the applications that rely on it.</p>
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
${hidden}
<button type="submit" name="confirm" value="yes">Sign out</button>
</form>`,
    input.base,
  );
}

export function renderLoggedOut(input: { providers: string[]; base: string }): string {
  return layout(
    'Signed out',
    html`<h1>You are signed out</h1>
<p>You are signed out of login-broker.</p>
${
  input.providers.length
    ? html`<p class="muted">You may still be signed in at ${input.providers.join(', ')}:
sign out there too if this is a shared computer.</p>`
    : ''
}`,
    input.base,
  );
}
