import Router from '@koa/router';
import type { Context } from 'koa';
import type { Config } from '../config/schema.js';
import { csrfProblem, csrfToken } from '../http/csrf.js';

import { formBody } from '../http/form-body.js';
import { recentAudit } from '../identity/audit.js';
import { LinkConflict, type LoginPolicy, type Users } from '../identity/users.js';
import { currentSession, startSession } from '../session/sessions.js';
import type { Store } from '../store/index.js';
import { renderAccount, renderAccountSignIn } from '../ui/account.js';
import type {
  LoginContext,
  LoginFailureCode,
  LoginHandler,
  UpstreamLogin,
  UpstreamTokenService,
} from '../upstream/types.js';
import type { TokenVault } from '../identity/token-vault.js';
import type { SsoSession } from '../session/sessions.js';
import { BrokerError } from '../http/broker-error.js';
import { nowS } from '../lib/clock.js';

export interface AccountDeps {
  config: Config;
  store: Store;
  users: Users;
  login: UpstreamLogin;
  policy: (providerId: string) => LoginPolicy;
  base: string;
  /** The upstream token vault (`token_vault`), and revoking what it forgets at the provider. */
  vault?: TokenVault;
  upstreamTokens?: UpstreamTokenService;
}

/**
 * The account pages: the user's profile and sign-in methods, linking another provider (a login
 * there, in a transaction bound to this session and browser), unlinking (needs a recent login,
 * never the last method), recent audit entries. Every POST carries a CSRF token.
 */
type LinkContext = Extract<LoginContext, { kind: 'link' }>;
type AccountContext = Extract<LoginContext, { kind: 'account' }>;

export interface AccountArea {
  router: Router;
  /** Finishes a login started to link another provider into the signed-in user. */
  linkHandler: LoginHandler<LinkContext>;
  /** Finishes a login started to sign in to the account pages. */
  signInHandler: LoginHandler<AccountContext>;
}

export function accountArea(deps: AccountDeps): AccountArea {
  const router = new Router();
  const form = formBody({ required: true });
  const origin = new URL(deps.config.issuer).origin;
  const label = (id: string) => deps.login.buttons().find((b) => b.id === id)?.label ?? id;
  /** The apps that may read a provider's stored tokens (`upstream_tokens`). */
  const readers = (provider: string) =>
    deps.config.clients.filter((c) => c.upstream_tokens.includes(provider)).map((c) => c.client_name ?? c.client_id);

  const checkForm = (ctx: Context) => {
    const problem = csrfProblem(ctx, 'account', ctx.state.form.get('csrf'), origin);
    if (problem) throw new BrokerError('invalid_request', `${problem} (CSRF check failed)`, 403);
  };
  router.get('/account', async (ctx) => {
    const session = currentSession(ctx, deps.config.session);
    const user = session && (await deps.users.get(session.uid));
    ctx.type = 'html';
    if (!session || !user) {
      ctx.body = renderAccountSignIn({
        base: deps.base,
        csrf: csrfToken(ctx, 'account'),
        providers: deps.login.buttons(),
      });
      return;
    }
    const linkedProviders = new Set(user.identities.map((i) => i.provider));
    const stored = deps.vault ? await deps.vault.read(user.id, user.identities) : [];
    ctx.body = renderAccount({
      base: deps.base,
      csrf: csrfToken(ctx, 'account'),
      user: {
        id: user.id,
        name: user.profile.name,
        picture: user.profile.picture,
        emails: user.emails,
        identities: user.identities.map((i) => ({ ...i, providerLabel: label(i.provider) })),
      },
      linkable: deps.login.buttons().filter((b) => !linkedProviders.has(b.id)),
      storedTokens: stored.map(({ entry }) => ({
        provider: entry.provider,
        providerLabel: label(entry.provider),
        subject: entry.subject,
        scope: entry.tokens.scope,
        storedAt: entry.storedAt,
        apps: readers(entry.provider),
      })),
      audit: await recentAudit(deps.store, user.id),
      notice: typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined,
    });
  });

  router.post('/account/login', form, async (ctx) => {
    checkForm(ctx);
    const provider = ctx.state.form.get('provider') ?? '';
    if (!deps.login.has(provider)) throw new BrokerError('invalid_request', 'unknown sign-in provider', 400);
    const target = await deps.login.begin(ctx, {
      providerId: provider,
      context: { kind: 'account' },
      work: ctx.state.work,
    });
    await ctx.state.work.commit();
    ctx.status = 303;
    ctx.redirect(target);
  });

  router.post('/account/link/:provider', form, async (ctx) => {
    checkForm(ctx);
    const session = currentSession(ctx, deps.config.session);
    if (!session) throw new BrokerError('invalid_request', 'sign in first to link another sign-in method', 400);
    const provider = String(ctx.params.provider ?? '');
    if (!deps.login.has(provider)) throw new BrokerError('invalid_request', 'unknown sign-in provider', 400);
    // The transaction carries the user and session it was started for: it links only into them.
    const context = { kind: 'link', userId: session.uid, sid: session.sid } as const;
    const target = await deps.login.begin(ctx, { providerId: provider, context, work: ctx.state.work });
    await ctx.state.work.commit();
    ctx.status = 303;
    ctx.redirect(target);
  });

  /** A 403 sign-in page when the session's login is older than reauth_max_age_s; true when it answered. */
  const refusedAsStale = (ctx: Context, session: SsoSession, reason: string): boolean => {
    if (nowS() - session.auth_time <= deps.config.account.reauth_max_age_s) return false;
    ctx.type = 'html';
    ctx.status = 403;
    ctx.body = renderAccountSignIn({
      base: deps.base,
      csrf: csrfToken(ctx, 'account'),
      providers: deps.login.buttons().filter((b) => b.id === session.provider),
      reason,
    });
    return true;
  };

  /** Forgets the stored tokens of an identity, revoking them at the provider first where it can (RFC 7009). */
  const forgetTokens = async (userId: string, identity: { provider: string; subject: string }) => {
    if (!deps.vault) return false;
    const [stored] = await deps.vault.read(userId, [identity]);
    if (!stored) return false;
    await deps.upstreamTokens?.revoke(identity.provider, stored.entry.tokens);
    await deps.vault.forget(userId, [identity]);
    return true;
  };

  router.post('/account/unlink', form, async (ctx) => {
    checkForm(ctx);
    const session = currentSession(ctx, deps.config.session);
    if (!session) throw new BrokerError('invalid_request', 'sign in first', 400);
    if (refusedAsStale(ctx, session, 'For your safety, sign in again before removing a sign-in method.')) return;
    const params = ctx.state.form;
    const identity = { provider: params.get('provider') ?? '', subject: params.get('subject') ?? '' };
    await deps.users.unlink(session.uid, identity.provider, identity.subject, ctx.ip);
    // An unlinked identity's tokens go with it.
    await forgetTokens(session.uid, identity);
    ctx.state.log?.info(
      { audit: 'unlink', user: session.uid, provider: params.get('provider'), ip: ctx.ip },
      'unlinked an identity',
    );
    ctx.status = 303;
    ctx.redirect(`${deps.base}/account?notice=unlinked`);
  });

  router.post('/account/tokens/forget', form, async (ctx) => {
    checkForm(ctx);
    const session = currentSession(ctx, deps.config.session);
    if (!session) throw new BrokerError('invalid_request', 'sign in first', 400);
    if (refusedAsStale(ctx, session, 'For your safety, sign in again before forgetting stored tokens.')) return;
    const params = ctx.state.form;
    const identity = { provider: params.get('provider') ?? '', subject: params.get('subject') ?? '' };
    const user = await deps.users.get(session.uid);
    const own = user?.identities.some((i) => i.provider === identity.provider && i.subject === identity.subject);
    if (!own) throw new BrokerError('invalid_request', 'no tokens of yours are stored for this sign-in method', 400);
    await forgetTokens(session.uid, identity);
    ctx.state.log?.info(
      { audit: 'forget-tokens', user: session.uid, provider: identity.provider, ip: ctx.ip },
      'forgot stored upstream tokens',
    );
    ctx.status = 303;
    ctx.redirect(`${deps.base}/account?notice=forgotten`);
  });

  // A failed link or account sign-in has no app to go back to: an error page.
  const failPage = async (_ctx: Context, { error, description }: { error: LoginFailureCode; description: string }) => {
    throw new BrokerError(error, description, 400);
  };

  const linkHandler: LoginHandler<LinkContext> = {
    async finish(ctx, { context, identity, provider, keepTokens }) {
      const session = currentSession(ctx, deps.config.session);
      if (!session || session.uid !== context.userId || session.sid !== context.sid) {
        throw new BrokerError(
          'invalid_request',
          'you signed out or changed account while linking; nothing was linked',
          400,
        );
      }
      try {
        await deps.users.link(session.uid, identity, ctx.ip);
      } catch (err) {
        if (err instanceof LinkConflict) {
          const text = `This ${label(provider)} account is already linked to another user here. Nothing was changed.`;
          throw new BrokerError(err.error, text, 409);
        }
        throw err;
      }
      keepTokens(session.uid);
      await ctx.state.work.commit();
      ctx.state.log?.info({ audit: 'link', user: session.uid, provider, ip: ctx.ip }, 'linked an identity');
      // A new cookie id after a change of what the session can do (no fixation).
      const authTime = nowS();
      await startSession(ctx, { uid: session.uid, sid: session.sid, auth_time: authTime, provider });
      ctx.status = 303;
      ctx.redirect(`${deps.base}/account?notice=linked`);
    },
    fail: failPage,
  };

  const signInHandler: LoginHandler<AccountContext> = {
    async finish(ctx, { identity, provider, keepTokens }) {
      const { user } = await deps.users.resolve(identity, ctx.state.work, deps.policy(provider), ctx.ip);
      keepTokens(user.id);
      await ctx.state.work.commit();
      await startSession(ctx, { uid: user.id, auth_time: nowS(), provider });
      ctx.status = 303;
      ctx.redirect(`${deps.base}/account`);
    },
    fail: failPage,
  };

  return { router, linkHandler, signInHandler };
}

const NOTICES: Record<string, string> = {
  linked: 'The sign-in method is linked to your account.',
  unlinked: 'The sign-in method was removed from your account.',
  forgotten: 'The stored tokens were forgotten; apps can no longer use them.',
};
