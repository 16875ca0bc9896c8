import { html, layout } from './html.js';

/** Plain words for each scope, so the user knows what the app will get. */
const SCOPE_WORDS: Record<string, string> = {
  openid: 'Know who you are (a stable identifier for your account)',
  profile: 'See your name, username, picture and language',
  email: 'See your email address',
  offline_access: 'Keep access while you are not using it',
  identities: 'See which sign-in accounts you linked (provider and username)',
};

/** The plain words for one scope. */
export const scopeWords = (scope: string) => SCOPE_WORDS[scope] ?? `Use the "${scope}" permission`;

export function renderConsent(input: {
  appName: string;
  scopes: string[];
  /** Labels of the providers whose stored tokens the app may read (token exchange). */
  upstreamTokens?: string[];
  action: string;
  csrf: string;
  base: string;
  /**
   * A client that registered itself or is described by its own document: its name is its own
   * claim, so the page says where the user will be sent back to (and where it is described).
   */
  selfAsserted?: { returnsTo: string; describedAt?: string };
}): string {
  const self = input.selfAsserted;
  const notice = self
    ? html`<p class="muted">This app registered itself: its name is not checked by this site.${
        self.describedAt ? html` It is described at <strong>${self.describedAt}</strong>.` : ''
      } If you allow, you go back to <strong>${self.returnsTo}</strong>.</p>`
    : '';
  const items = [
    ...input.scopes.map((s) => html`<li>${scopeWords(s)}</li>`),
    ...(input.upstreamTokens ?? []).map((p) => html`<li>Read your ${p} token to call ${p} for you</li>`),
  ];
  return layout(
    `Allow ${input.appName}?`,
    html`<h1>Allow ${input.appName} to access your account?</h1>
<p><strong>${input.appName}</strong> would like to:</p>
<ul>${items}</ul>
${notice}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="muted">You can change your mind later from your account page.</p>`,
    input.base,
  );
}
