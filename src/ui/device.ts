import { html, layout } from './html.js';
import { scopeWords } from './consent.js';

/** The device page's first step: type the code the device shows. */
export function renderDeviceEntry(input: { action: string; csrf: string; problem?: string; base: string }): string {
  return layout(
    'Connect a device',
    html`<h1>Connect a device</h1>
<p>Enter the code shown on your device (TV, console or command line).</p>
${input.problem ? html`<p class="problem">${input.problem}</p>` : ''}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" placeholder="XXXX-XXXX"
 maxlength="32" required>
<button type="submit">Continue</button>
</form>`,
    input.base,
  );
}

/** Signing in on the device page: which app asks, then the providers. */
export function renderDeviceSignIn(input: {
  appName: string;
  userCode: string;
  action: string;
  csrf: string;
  providers: { id: string; label: string }[];
  base: string;
}): string {
  const buttons = input.providers.map(
    (p) => html`<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="user_code" value="${input.userCode}">
<input type="hidden" name="provider" value="${p.id}">
<button type="submit" class="provider provider-${p.id}">Continue with ${p.label}</button>
</form>`,
  );
  return layout(
    `Sign in to connect ${input.appName}`,
    html`<h1>Sign in to connect ${input.appName}</h1>
<p>Code <strong>${input.userCode}</strong>. Only continue if your device shows this code.</p>
${input.providers.length ? buttons : html`<p>No sign-in method is configured.</p>`}`,
    input.base,
  );
}

/** The approval: which app, which scopes, approve or deny (RFC 8628 §5.4: the user confirms). */
export function renderDeviceApproval(input: {
  appName: string;
  userCode: string;
  scopes: string[];
  action: string;
  csrf: string;
  base: string;
}): string {
  const items = input.scopes.map((s) => html`<li>${scopeWords(s)}</li>`);
  return layout(
    `Connect ${input.appName}?`,
    html`<h1>Allow ${input.appName} on your device?</h1>
<p>Code <strong>${input.userCode}</strong>. Only allow this if you started it on your own device.</p>
<p><strong>${input.appName}</strong> would like to:</p>
<ul>${items}</ul>
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
<input type="hidden" name="user_code" value="${input.userCode}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
    input.base,
  );
}

export function renderDeviceDone(input: { approved: boolean; base: string }): string {
  const title = input.approved ? 'Device connected' : 'Request denied';
  return layout(
    title,
    html`<h1>${title}</h1>
<p>${input.approved ? 'You can return to your device now.' : 'Nothing was shared. You can return to your device.'}</p>`,
    input.base,
  );
}
