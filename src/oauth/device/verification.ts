import type { Context } from 'koa';
import { BrokerError } from '../../http/broker-error.js';
import { browserBinding } from '../../http/browser-id.js';
import { csrfProblem, csrfToken } from '../../http/csrf.js';
import { nowS } from '../../lib/clock.js';
import { currentSession, startSession } from '../../session/sessions.js';
import { renderDeviceApproval, renderDeviceDone, renderDeviceEntry, renderDeviceSignIn } from '../../ui/device.js';
import type { LoginContext, LoginHandler } from '../../upstream/types.js';
import { sessionClientOps } from '../backchannel/session-clients.js';
import { userClaims } from '../claims.js';
import type { OAuthContext } from '../context.js';
import { grantedScopes, rememberConsentOp } from '../interaction/consents.js';
import { scopeSet } from '../params.js';
import { deviceKeys, loadDeviceRecord, replaceDeviceRecord, type DeviceRecord } from './records.js';
import { displayUserCode, normalizeUserCode } from './user-code.js';

type DeviceContext = Extract<LoginContext, { kind: 'device' }>;

const CSRF_PURPOSE = 'device';
const WRONG_CODE = 'that code is not valid or has expired; check the code on your device and try again';

interface Pending {
  userCode: string;
  deviceId: string;
  text: string;
  record: DeviceRecord;
}

/**
 * The verification page of the device flow (RFC 8628 §3.3): enter the code (or arrive with it),
 * sign in, see the app and its scopes, approve or deny. Forms carry an anti-CSRF token; wrong
 * codes count against a limit per IP and per browser (§5.1).
 */
export function deviceVerification(oauth: OAuthContext) {
  const origin = new URL(oauth.config.issuer).origin;
  const action = `${oauth.base}/device`;
  const limit = oauth.deviceCodeLimit;
  const limitKeys = (ctx: Context) => [`ip:${ctx.ip}`, `browser:${browserBinding(ctx)}`];

  const checkCsrf = (ctx: Context) => {
    const problem = csrfProblem(ctx, CSRF_PURPOSE, ctx.state.form.get('csrf'), origin);
    if (problem) throw new BrokerError('invalid_request', `${problem} (CSRF check failed)`, 403);
  };

  const entryPage = (ctx: Context, problem?: string) => {
    ctx.type = 'html';
    if (problem) ctx.status = 400;
    ctx.body = renderDeviceEntry({ action, csrf: csrfToken(ctx, CSRF_PURPOSE), problem, base: oauth.base });
  };

  /** The pending device request of an entered code, or undefined (counted as a wrong code). */
  async function find(ctx: Context, entered: string | null | undefined): Promise<Pending | undefined> {
    for (const key of limitKeys(ctx)) limit?.check(key);
    const userCode = normalizeUserCode(entered);
    const deviceId = userCode ? await oauth.store.get(deviceKeys.userCode(userCode)) : null;
    const found = deviceId ? await loadDeviceRecord(oauth.store, deviceId) : undefined;
    if (userCode && deviceId && found && found.record.status === 'pending' && found.record.expiresAt > nowS())
      return { userCode, deviceId, ...found };
    for (const key of limitKeys(ctx)) await limit?.take(key, { ip: ctx.ip });
    return undefined;
  }

  const appName = async (record: DeviceRecord) =>
    (await oauth.clients.find(record.clientId))?.client_name ?? record.clientId;

  async function show(ctx: Context, pending: Pending): Promise<void> {
    const session = currentSession(ctx, oauth.config.session);
    const userCode = displayUserCode(pending.userCode);
    const csrf = csrfToken(ctx, CSRF_PURPOSE);
    ctx.type = 'html';
    ctx.body = session
      ? renderDeviceApproval({
          appName: await appName(pending.record),
          userCode,
          scopes: scopeSet(pending.record.scope),
          action: `${action}/decide`,
          csrf,
          base: oauth.base,
        })
      : renderDeviceSignIn({
          appName: await appName(pending.record),
          userCode,
          action: `${action}/login`,
          csrf,
          providers: oauth.login.buttons(),
          base: oauth.base,
        });
  }

  /** GET /device[?user_code=…] */
  async function page(ctx: Context): Promise<void> {
    const entered = typeof ctx.query.user_code === 'string' ? ctx.query.user_code : undefined;
    if (entered === undefined) return entryPage(ctx);
    const pending = await find(ctx, entered);
    if (!pending) return entryPage(ctx, WRONG_CODE);
    await show(ctx, pending);
  }

  /** POST /device: the entry form. */
  async function enter(ctx: Context): Promise<void> {
    checkCsrf(ctx);
    const pending = await find(ctx, ctx.state.form.get('user_code'));
    if (!pending) return entryPage(ctx, WRONG_CODE);
    ctx.status = 303;
    ctx.redirect(`${action}?user_code=${displayUserCode(pending.userCode)}`);
  }

  /** POST /device/login: sign in with the chosen provider, then back to the approval. */
  async function login(ctx: Context): Promise<void> {
    checkCsrf(ctx);
    const pending = await find(ctx, ctx.state.form.get('user_code'));
    if (!pending) return entryPage(ctx, WRONG_CODE);
    const providerId = ctx.state.form.get('provider') ?? '';
    if (!oauth.login.has(providerId)) throw new BrokerError('invalid_request', 'unknown sign-in provider', 400);
    const context = { kind: 'device', userCode: pending.userCode } as const;
    const target = await oauth.login.begin(ctx, { providerId, context, work: ctx.state.work });
    await ctx.state.work.commit();
    ctx.status = 303;
    ctx.redirect(target);
  }

  /** POST /device/decide: allow or deny; the device hears it at its next poll. */
  async function decide(ctx: Context): Promise<void> {
    checkCsrf(ctx);
    const session = currentSession(ctx, oauth.config.session);
    if (!session) throw new BrokerError('invalid_request', 'your session ended; enter the code again', 400);
    const pending = await find(ctx, ctx.state.form.get('user_code'));
    if (!pending) return entryPage(ctx, WRONG_CODE);
    const { record, deviceId } = pending;
    const approved = ctx.state.form.get('decision') === 'allow';
    const { work } = ctx.state;
    const now = nowS();
    let next: DeviceRecord = { ...record, status: 'denied' };
    if (approved) {
      const user = await oauth.users.get(session.uid);
      if (!user) throw new BrokerError('invalid_request', 'your account no longer exists', 400);
      const claims = userClaims(user, scopeSet(record.scope));
      next = {
        ...record,
        status: 'approved',
        approval: { userId: user.id, authTime: session.auth_time, sid: session.sid, claims },
      };
      const client = await oauth.clients.find(record.clientId);
      if (client && !client.first_party) {
        // The approval is the user's consent; remembered as on the consent page.
        const previous = await grantedScopes(oauth.store, user.id, client.client_id);
        work.add(rememberConsentOp(user.id, client.client_id, previous, record.scope));
      }
      work.add(...sessionClientOps(client, session.sid, oauth.config.session.absolute_ttl_s));
    }
    // Decided once: a second decision (another tab, a replayed form) finds the record changed.
    if (!(await replaceDeviceRecord(oauth.store, deviceId, pending.text, next, now))) {
      throw new BrokerError('invalid_request', 'this request was already decided', 400);
    }
    work.add({ op: 'del', key: deviceKeys.userCode(pending.userCode) });
    await work.commit();
    ctx.state.log?.info({ user: session.uid, client: record.clientId, approved }, 'device request decided');
    ctx.type = 'html';
    ctx.body = renderDeviceDone({ approved, base: oauth.base });
  }

  return { page, enter, login, decide };
}

/** The upstream login started from the device page: the user and session, then the approval page. */
export function deviceLoginHandler(oauth: OAuthContext): LoginHandler<DeviceContext> {
  return {
    async finish(ctx, { context, identity, provider }) {
      const { user } = await oauth.users.resolve(identity, ctx.state.work, oauth.loginPolicy(provider), ctx.ip);
      await ctx.state.work.commit();
      await startSession(ctx, { uid: user.id, auth_time: nowS(), provider });
      ctx.status = 303;
      ctx.redirect(`${oauth.base}/device?user_code=${displayUserCode(context.userCode)}`);
    },
    async fail(_ctx, { error, description }) {
      throw new BrokerError(error, description, 400);
    },
  };
}
