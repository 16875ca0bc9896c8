import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { LocalAccounts } from '../identity/local-accounts.js';
import { openStore, type Store } from '../store/index.js';

export const USERS_USAGE = `Usage: login-broker users add USERNAME [--email ADDRESS] [--email-verified] [--name NAME]
                                 [--config FILE]
       login-broker users set-password USERNAME [--config FILE]
       login-broker users remove USERNAME [--config FILE]

Manages the local accounts of the password grant (password_grant.local in the configuration),
in the store the configuration names (store.redis: the in-memory store lives inside the broker
process, so this command cannot reach it).

The password is read from standard input (its first line), or prompted for twice when standard
input is a terminal. It is never taken from the command line, where other users can see it (ps).
USERNAME (or the account's email) identifies the account for set-password and remove.

Options:
  -c, --config FILE     configuration file (or BROKER_CONFIG)
      --email ADDRESS   add: an email address the user can also log in with
      --email-verified  add: you vouch for the address (the email_verified claim)
      --name NAME       add: the display name (the name claim)
  -h, --help            print this help and exit

Exit status: 0 on success, 1 when the account operation fails, 2 for a usage or configuration error.
`;

class UsageError extends Error {}

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

async function waitForStore(store: Store, ms: number): Promise<void> {
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

/** `login-broker users ...`: returns the exit status. Messages go to stderr, results to stdout. */
export async function usersCommand(argv: string[]): Promise<number> {
  let store: Store | undefined;
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({
          args: argv,
          options: {
            config: { type: 'string', short: 'c' },
            email: { type: 'string' },
            'email-verified': { type: 'boolean' },
            name: { type: 'string' },
            help: { type: 'boolean', short: 'h' },
          },
          strict: true,
          allowPositionals: true,
        });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    })();
    if (values.help) {
      process.stdout.write(USERS_USAGE);
      return 0;
    }
    const [action, username, ...extra] = positionals;
    if (!action || !['add', 'set-password', 'remove'].includes(action))
      throw new UsageError(`unknown or missing action${action ? ` "${action}"` : ''}`);
    if (!username) throw new UsageError(`${action} needs a USERNAME`);
    // A second positional is most likely a password typed on the command line: refuse it.
    if (extra.length)
      throw new UsageError(
        'too many arguments (the password is read from standard input, never from the command line)',
      );
    if (action !== 'add' && (values.email !== undefined || values['email-verified'] || values.name !== undefined)) {
      throw new UsageError('--email, --email-verified and --name are for add');
    }
    const configFile = values.config ?? process.env.BROKER_CONFIG;
    if (!configFile) throw new UsageError('no configuration file: pass --config FILE or set BROKER_CONFIG');
    let config: Config;
    try {
      config = loadConfig(configFile);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(err.message);
      throw err;
    }
    const local = config.password_grant.local;
    if (!local) throw new UsageError(`${configFile}: no local accounts: set password_grant.local`);
    if (!config.store?.redis) {
      throw new UsageError(
        `${configFile}: the in-memory store lives inside the broker process and cannot be changed ` +
          `from here; set store.redis`,
      );
    }
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
