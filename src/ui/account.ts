import { html, layout, type Raw } from './html.js';

export interface AccountView {
  base: string;
  csrf: string;
  user: {
    id: string;
    name?: string;
    picture?: string;
    emails: { value: string; verified: boolean; source: string }[];
    identities: { provider: string; providerLabel: string; subject: string; username?: string; linked_at: number }[];
  };
  linkable: { id: string; label: string }[];
  /** Providers whose tokens the broker keeps for this user, and the apps that may read them. */
  storedTokens?: {
    provider: string;
    providerLabel: string;
    subject: string;
    scope: string;
    storedAt: number;
    apps: string[];
  }[];
  audit: { at: number; action: string; provider: string; ip?: string }[];
  notice?: string;
}

const when = (epoch: number) => `${new Date(epoch * 1000).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

function postButton(
  action: string,
  csrf: string,
  label: string,
  fields: Record<string, string> = {},
  secondary = false,
): Raw {
  const hidden = Object.entries(fields).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  const button = secondary ? html`<button type="submit" class="secondary">` : html`<button type="submit">`;
  const csrfField = html`<input type="hidden" name="csrf" value="${csrf}">`;
  return html`<form method="post" action="${action}">${csrfField}${hidden}${button}${label}</button></form>`;
}

export function renderAccount(view: AccountView): string {
  const { user, base, csrf } = view;
  const unlink = (i: AccountView['user']['identities'][number]) =>
    user.identities.length > 1
      ? postButton(
          `${base}/account/unlink`,
          csrf,
          `Unlink ${i.providerLabel}`,
          { provider: i.provider, subject: i.subject },
          true,
        )
      : '';
  const identities = user.identities.map(
    (i) => html`<li><strong>${i.providerLabel}</strong> ${i.username ? html`(${i.username})` : ''}
<span class="muted">since ${when(i.linked_at)}</span>
${unlink(i)}</li>`,
  );
  const linkButtons = view.linkable.map((p) => postButton(`${base}/account/link/${p.id}`, csrf, `Link ${p.label}`));
  const stored = (view.storedTokens ?? []).map(
    (t) => html`<li><strong>${t.providerLabel}</strong> <span class="muted">since ${when(t.storedAt)}</span>
<br><span class="muted">scopes: ${t.scope || '(none)'}</span>
<br>${t.apps.length ? html`Apps that may use it: ${t.apps.join(', ')}` : html`<span class="muted">No app may use it.</span>`}
${postButton(`${base}/account/tokens/forget`, csrf, `Forget ${t.providerLabel} tokens`, { provider: t.provider, subject: t.subject }, true)}</li>`,
  );
  const emails = user.emails.map(
    (e) =>
      html`<li>${e.value} <span class="muted">${e.verified ? 'verified' : 'not verified'} by ${e.source}</span></li>`,
  );
  const audit = view.audit.map(
    (a) => html`<tr><td>${when(a.at)}</td><td>${a.action}</td><td>${a.provider}</td><td>${a.ip ?? ''}</td></tr>`,
  );
  const auditTable = html`<table><tr><th>When</th><th>What</th><th>Provider</th><th>From</th></tr>${audit}</table>`;
  return layout(
    'Your account',
    html`<h1>Your account</h1>
${view.notice ? html`<p class="notice">${view.notice}</p>` : ''}
<p>${user.name ?? 'Signed in'} <span class="muted">(account id <code>${user.id}</code>)</span></p>
<h2>Sign-in methods</h2>
<ul class="plain">${identities}</ul>
${stored.length ? html`<h2>Stored provider tokens</h2><ul class="plain">${stored}</ul>` : ''}
${view.linkable.length ? html`<h2>Link another sign-in method</h2>${linkButtons}` : ''}
${emails.length ? html`<h2>Email addresses</h2><ul class="plain">${emails}</ul>` : ''}
<h2>Recent activity</h2>
${audit.length ? auditTable : html`<p class="muted">Nothing yet.</p>`}
<p><a class="button secondary" href="${base}/logout">Sign out</a></p>`,
    base,
  );
}

export function renderAccountSignIn(input: {
  base: string;
  csrf: string;
  providers: { id: string; label: string }[];
  reason?: string;
}): string {
  const buttons = input.providers.map((p) =>
    postButton(`${input.base}/account/login`, input.csrf, `Continue with ${p.label}`, { provider: p.id }),
  );
  return layout(
    'Sign in to your account',
    html`<h1>Sign in to manage your account</h1>
${input.reason ? html`<p>${input.reason}</p>` : ''}
${buttons}`,
    input.base,
  );
}
