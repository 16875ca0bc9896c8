import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { LocalAccounts } from '../identity/local-accounts.js';
import { openStore, type Store } from '../store/index.js';
import {
  AdminError,
  adminParts,
  disableUser,
  enableUser,
  listUsers,
  revokeSessions,
  showUser,
  unlinkProvider,
} from './user-admin.js';

export const USERS_USAGE = `Usage: login-broker users add USERNAME [--email ADDRESS] [--email-verified] [--name NAME]
                                 [--config FILE]
       login-broker users set-password USERNAME [--config FILE]
       login-broker users remove USERNAME [--config FILE]
       login-broker users list [--limit N] [--after ID] [--json] [--config FILE]
       login-broker users show ID|EMAIL|PROVIDER:SUBJECT [--json] [--config FILE]
       login-broker users disable ID [--config FILE]
       login-broker users enable ID [--config FILE]
       login-broker users unlink ID PROVIDER [--config FILE]
       login-broker users sessions revoke ID [--config FILE]

add, set-password and remove manage the local accounts of the password grant
(password_grant.local in the configuration). The password is read from standard input (its first
line), or prompted for twice when standard input is a terminal. It is never taken from the
command line, where other users can see it (ps). USERNAME (or the account's email) identifies the
account for set-password and remove.

The other commands manage broker users (the \`sub\` apps see):
  list              users in id order, a page at a time (--limit, default 50; --after the last id
                    of the previous page). Users created before this version are listed after
                    their next login.
  show              profile, emails, linked identities, live sessions and recent audit entries;
                    by id, by a verified email, or by provider:subject (searches every user)
  disable           refuses the user's logins, makes every token they hold dead (introspection,
                    userinfo, refresh) and ends their sessions as \`sessions revoke\` does
  enable            allows logins again; tokens from before the disabling stay dead
  unlink            removes the user's identities at PROVIDER (not their last way to sign in)
  sessions revoke   ends every session of the user: their non-offline refresh tokens are revoked
                    and back-channel logouts recorded (sent by the running broker instances)

All of them work on the store the configuration names (store.redis: the in-memory store lives
inside the broker process, so this command cannot reach it).
An id that starts with "-" (users made by earlier versions may have one) goes after "--":
  login-broker users show --config FILE -- -Hx3...

Options:
  -c, --config FILE     configuration file (or BROKER_CONFIG)
      --email ADDRESS   add: an email address the user can also log in with
      --email-verified  add: you vouch for the address (the email_verified claim)
      --name NAME       add: the display name (the name claim)
      --json            list, show: print JSON
      --limit N         list: users per page (1-1000, default 50)
      --after ID        list: start after this user id
  -h, --help            print this help and exit

Exit status: 0 on success, 1 when the operation fails (no such user…), 2 for a usage or
configuration error.
`;

export class UsageError extends Error {}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 64 * 1024) throw new UsageError('standard input is too long for a password');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

async function readPassword(confirm: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    const password = await readStdin();
    if (!password) throw new UsageError('no password on standard input');
    return password;
  }
  const password = await promptHidden('Password: ');
  if (confirm && (await promptHidden('Password again: ')) !== password) throw new UsageError('the passwords differ');
  if (!password) throw new UsageError('no password given');
  return password;
}

export async function waitForStore(store: Store, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await store.ping();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`the store does not answer: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const ACCOUNT_ACTIONS = ['add', 'set-password', 'remove'];
/** Each user action and how many positional arguments it takes after its name. */
const USER_ACTIONS: Record<string, number> = { list: 0, show: 1, disable: 1, enable: 1, unlink: 2, sessions: 2 };

type Values = {
  config?: string;
  email?: string;
  'email-verified'?: boolean;
  name?: string;
  json?: boolean;
  limit?: string;
  after?: string;
};

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        email: { type: 'string' },
        'email-verified': { type: 'boolean' },
        name: { type: 'string' },
        json: { type: 'boolean' },
        limit: { type: 'string' },
        after: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function loadRedisConfig(values: { config?: string }): { config: Config; configFile: string } {
  const configFile = values.config ?? process.env.BROKER_CONFIG;
  if (!configFile) throw new UsageError('no configuration file: pass --config FILE or set BROKER_CONFIG');
  let config: Config;
  try {
    config = loadConfig(configFile);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  if (!config.store?.redis) {
    throw new UsageError(
      `${configFile}: the in-memory store lives inside the broker process and cannot be changed ` +
        `from here; set store.redis`,
    );
  }
  return { config, configFile };
}

/** `login-broker users ...`: returns the exit status. Messages go to stderr, results to stdout. */
export async function usersCommand(argv: string[]): Promise<number> {
  let store: Store | undefined;
  try {
    const { values, positionals } = parse(argv);
    if (values.help) {
      process.stdout.write(USERS_USAGE);
      return 0;
    }
    const [action, ...args] = positionals;
    if (action && action in USER_ACTIONS) {
      const output = await userAction(action, args, values, (s) => (store = s));
      process.stdout.write(output);
      return 0;
    }
    if (!action || !ACCOUNT_ACTIONS.includes(action))
      throw new UsageError(`unknown or missing action${action ? ` "${action}"` : ''}`);
    const [username, ...extra] = args;
    if (!username) throw new UsageError(`${action} needs a USERNAME`);
    // A second positional is most likely a password typed on the command line: refuse it.
    if (extra.length)
      throw new UsageError(
        'too many arguments (the password is read from standard input, never from the command line)',
      );
    if (action !== 'add' && (values.email !== undefined || values['email-verified'] || values.name !== undefined)) {
      throw new UsageError('--email, --email-verified and --name are for add');
    }
    if (values.json || values.limit !== undefined || values.after !== undefined) {
      throw new UsageError('--json, --limit and --after are for list and show');
    }
    const { config, configFile } = loadRedisConfig(values);
    const local = config.password_grant.local;
    if (!local) throw new UsageError(`${configFile}: no local accounts: set password_grant.local`);
    store = openStore(config.store);
    const accounts = new LocalAccounts(store, local, config.issuer);
    const password = action === 'remove' ? '' : await readPassword(true);
    if (password) accounts.checkPassword(password);
    await waitForStore(store, 5000);
    if (action === 'add') {
      const account = await accounts.add({
        username,
        password,
        ...(values.email !== undefined ? { email: values.email } : {}),
        emailVerified: values['email-verified'] === true,
        ...(values.name !== undefined ? { name: values.name } : {}),
      });
      process.stdout.write(`added ${account.username} (account ${account.id})\n`);
    } else if (action === 'set-password') {
      const account = await accounts.setPassword(username, password);
      process.stdout.write(`password changed for ${account.username}\n`);
    } else {
      const account = await accounts.remove(username);
      process.stdout.write(`removed ${account.username} (account ${account.id})\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`login-broker users: ${err.message}\n\n${USERS_USAGE}`);
      return 2;
    }
    process.stderr.write(`login-broker users: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}

/** list, show, disable, enable, unlink, sessions revoke: the output to print. */
async function userAction(
  action: string,
  args: string[],
  values: Values,
  opened: (store: Store) => void,
): Promise<string> {
  const wanted = USER_ACTIONS[action]!;
  if (args.length !== wanted) {
    throw new UsageError(`${action} takes ${wanted} argument(s), got ${args.length}`);
  }
  if (action === 'sessions' && args[0] !== 'revoke') throw new UsageError('sessions: the action is "revoke"');
  if (values.email !== undefined || values['email-verified'] || values.name !== undefined) {
    throw new UsageError('--email, --email-verified and --name are for add');
  }
  if (values.json && action !== 'list' && action !== 'show') throw new UsageError('--json is for list and show');
  if ((values.limit !== undefined || values.after !== undefined) && action !== 'list') {
    throw new UsageError('--limit and --after are for list');
  }
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be 1 to 1000');
  const { config } = loadRedisConfig(values);
  const store = openStore(config.store);
  opened(store);
  await waitForStore(store, 5000);
  const parts = adminParts(config, store);
  const json = values.json === true;
  try {
    if (action === 'list')
      return await listUsers(parts, { limit, json, ...(values.after ? { after: values.after } : {}) });
    if (action === 'show') return await showUser(parts, args[0]!, json);
    if (action === 'disable') return await disableUser(parts, args[0]!);
    if (action === 'enable') return await enableUser(parts, args[0]!);
    if (action === 'unlink') return await unlinkProvider(parts, args[0]!, args[1]!);
    return await revokeSessions(parts, args[1]!);
  } catch (err) {
    if (err instanceof AdminError) throw err;
    throw new Error(`${action} failed: ${(err as Error).message}`);
  }
}
