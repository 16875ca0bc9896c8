import { html, layout } from './html.js';

export interface ChooserInput {
  appName: string;
  action: string;
  csrf: string;
  providers: { id: string; label: string; color?: string }[];
  base: string;
}

/**
 * The provider chooser: one button per provider, each a form POST (CSRF token inside), so it
 * works without JavaScript and by keyboard. Brand colours come from /static/providers.css as
 * classes, because the CSP allows no inline style; providers without a colour use the accent.
 */
export function renderChooser(input: ChooserInput): string {
  const buttons = input.providers.map(
    (p) => html`<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="provider" value="${p.id}">
<button type="submit" class="provider provider-${p.id}">Continue with ${p.label}</button>
</form>`,
  );
  return layout(
    `Sign in to ${input.appName}`,
    html`<h1>Sign in to ${input.appName}</h1>
<p class="muted">Choose how you want to sign in.</p>
${input.providers.length ? buttons : html`<p>No sign-in method is configured.</p>`}`,
    input.base,
  );
}
