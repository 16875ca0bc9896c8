import type { Config } from '../config/schema.js';
import { recentAudit } from '../identity/audit.js';
import { parseUser, userKey } from '../identity/user-records.js';
import { Users, type User } from '../identity/users.js';
import { ClientRegistry } from '../oauth/clients.js';
import { ClientStore } from '../oauth/client-store.js';
import { TokenRecords } from '../oauth/token-records.js';
import { endAllSessions } from '../oauth/user-sessions.js';
import { userSessions } from '../session/sessions.js';
import { getAcrossSlots, type Store } from '../store/index.js';

/** A failure the administrator must hear about (exit status 1), e.g. no such user. */
export class AdminError extends Error {}

export interface AdminParts {
  store: Store;
  users: Users;
  records: TokenRecords;
  clients: ClientRegistry;
}

export function adminParts(config: Config, store: Store): AdminParts {
  const t = config.tokens;
  return {
    store,
    users: new Users(store),
    records: new TokenRecords(store, {
      code: t.code_ttl_s,
      accessToken: t.access_token_ttl_s,
      refreshIdle: t.refresh_token_idle_ttl_s,
      refreshAbsolute: t.refresh_token_absolute_ttl_s,
    }),
    clients: storeClients(config, store),
  };
}

/** The configuration's clients and the store's (back-channel logouts go to both). */
function storeClients(config: Config, store: Store): ClientRegistry {
  const registry = new ClientRegistry(config.clients, { pairwiseSalt: config.subjects.pairwise_salt });
  new ClientStore(store, registry);
  return registry;
}

const READ_CHUNK = 100;

/** The user records of `ids`, read in chunks (one round trip per chunk); missing ones left out. */
async function readUsers(store: Store, ids: string[]): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < ids.length; i += READ_CHUNK) {
    const chunk = ids.slice(i, i + READ_CHUNK);
    const texts = await getAcrossSlots(store, chunk.map(userKey));
    for (const text of texts) if (text) users.push(parseUser(text));
  }
  return users;
}

const when = (s: number | undefined) => (s === undefined ? '-' : new Date(s * 1000).toISOString());
const summary = (user: User) => ({
  id: user.id,
  email: user.profile.email,
  name: user.profile.name,
  providers: [...new Set(user.identities.map((i) => i.provider))],
  created_at: user.created_at,
  disabled: user.disabled_at !== undefined,
});

/** `users list`: a page of users in id order, from after `after`; `next` continues it. */
export async function listUsers(
  parts: AdminParts,
  options: { limit: number; after?: string; json: boolean },
): Promise<string> {
  const ids = await parts.users.ids();
  const from = options.after === undefined ? 0 : ids.findIndex((id) => id > options.after!);
  const page = from < 0 ? [] : ids.slice(from, from + options.limit);
  const users = (await readUsers(parts.store, page)).map(summary);
  const next = from >= 0 && from + options.limit < ids.length ? page.at(-1) : undefined;
  if (options.json) return `${JSON.stringify({ users, total: ids.length, ...(next ? { next } : {}) }, null, 2)}\n`;
  const lines = users.map(
    (u) =>
      `${u.id}  ${u.disabled ? 'DISABLED ' : ''}${u.email ?? '-'}  ${u.name ?? '-'}  ` +
      `[${u.providers.join(', ')}]  created ${when(u.created_at)}`,
  );
  lines.push(`${users.length} of ${ids.length} user(s)${next ? `; next page: --after ${next}` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** A user by id, by verified email (has `@`), or by `provider:subject` (a scan of the index). */
export async function findUser(parts: AdminParts, ref: string): Promise<User> {
  let user: User | undefined;
  if (ref.includes('@')) user = await parts.users.findByEmail(ref);
  else if (ref.includes(':')) {
    const at = ref.indexOf(':');
    const [provider, subject] = [ref.slice(0, at), ref.slice(at + 1)];
    const all = await readUsers(parts.store, await parts.users.ids());
    const found = all.find((u) => u.identities.some((i) => i.provider === provider && i.subject === subject));
    user = found && (await parts.users.get(found.id));
  } else user = await parts.users.get(ref);
  if (!user) throw new AdminError(`no user ${JSON.stringify(ref)}`);
  return user;
}

/** `users show`: the profile, identities, live sessions and recent audit entries. */
export async function showUser(parts: AdminParts, ref: string, json: boolean): Promise<string> {
  const user = await findUser(parts, ref);
  const [sessions, audit] = await Promise.all([userSessions(parts.store, user.id), recentAudit(parts.store, user.id)]);
  const live = sessions.map(({ session }) => ({
    sid: session.sid,
    provider: session.provider,
    auth_time: session.auth_time,
    created: session.created,
  }));
  if (json) return `${JSON.stringify({ user, sessions: live, audit }, null, 2)}\n`;
  const lines = [
    `user ${user.id}${user.disabled_at !== undefined ? `  DISABLED since ${when(user.disabled_at)}` : ''}`,
    `  created ${when(user.created_at)}, updated ${when(user.updated_at)}`,
    ...Object.entries(user.profile).map(([k, v]) => `  ${k}: ${String(v)}`),
    ...(user.tokens_valid_after !== undefined
      ? [`  tokens of logins before ${when(user.tokens_valid_after + 1)} dead`]
      : []),
    'emails:',
    ...user.emails.map((e) => `  ${e.value} ${e.verified ? 'verified' : 'unverified'} (from ${e.source})`),
    'identities:',
    ...user.identities.map((i) => `  ${i.provider}:${i.subject} ${i.username ?? ''} linked ${when(i.linked_at)}`),
    `sessions: ${live.length}`,
    ...live.map((s) => `  sid ${s.sid} via ${s.provider}, signed in ${when(s.auth_time)}`),
    'recent audit:',
    ...audit.map((a) => `  ${when(a.at)} ${a.action} ${a.provider}:${a.subject}${a.ip ? ` from ${a.ip}` : ''}`),
  ];
  return `${lines.join('\n')}\n`;
}

const ended = (e: { sessions: number; grants: number; logouts: number }) =>
  `${e.sessions} session(s) ended, ${e.grants} grant(s) revoked, ${e.logouts} back-channel logout(s) recorded`;

/** `users disable`: logins refused, every token dead, every session ended. */
export async function disableUser(parts: AdminParts, id: string): Promise<string> {
  const user = await parts.users.setDisabled(id, true);
  if (!user) throw new AdminError(`no user ${JSON.stringify(id)}`);
  return `disabled ${user.id}; ${ended(await endAllSessions(parts, user.id))}\n`;
}

/** `users enable`: logins allowed again; tokens from before the disabling stay dead. */
export async function enableUser(parts: AdminParts, id: string): Promise<string> {
  const user = await parts.users.setDisabled(id, false);
  if (!user) throw new AdminError(`no user ${JSON.stringify(id)}`);
  return `enabled ${user.id}\n`;
}

/** `users unlink`: every identity of the user at that provider (not their last way to sign in). */
export async function unlinkProvider(parts: AdminParts, id: string, provider: string): Promise<string> {
  const user = await parts.users.get(id);
  if (!user) throw new AdminError(`no user ${JSON.stringify(id)}`);
  const targets = user.identities.filter((i) => i.provider === provider);
  if (targets.length === 0) throw new AdminError(`user ${id} has no identity at ${provider}`);
  for (const identity of targets) {
    try {
      await parts.users.unlink(id, provider, identity.subject);
    } catch (err) {
      throw new AdminError(`cannot unlink ${provider}:${identity.subject}: ${(err as Error).message}`);
    }
  }
  return `unlinked ${targets.map((i) => `${provider}:${i.subject}`).join(', ')} from ${id}\n`;
}

/** `users sessions revoke`: every session of the user ends (the user stays enabled). */
export async function revokeSessions(parts: AdminParts, id: string): Promise<string> {
  const user = await parts.users.get(id);
  if (!user) throw new AdminError(`no user ${JSON.stringify(id)}`);
  return `${ended(await endAllSessions(parts, user.id))}\n`;
}
