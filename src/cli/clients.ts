import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CLIENT_CACHE_MS, ClientRegistry } from '../oauth/clients.js';
import { ClientStore, type StoredClientView, type Written } from '../oauth/client-store.js';
import { openStore, type Store } from '../store/index.js';
import { loadRedisConfig, UsageError, waitForStore } from './users.js';

export const CLIENTS_USAGE = `Usage: login-broker clients add [ID] [CLIENT KEYS…] [--confidential] [--stdin] [--json] [--config FILE]
       login-broker clients list [--limit N] [--after ID] [--json] [--config FILE]
       login-broker clients show ID [--json] [--config FILE]
       login-broker clients update ID [CLIENT KEYS…] [--unset KEY…] [--confidential] [--stdin] [--json]
                                   [--config FILE]
       login-broker clients rotate-secret ID [--json] [--config FILE]
       login-broker clients remove ID [--config FILE]

Manages the clients kept in the store (store.redis), next to those of the configuration file.
Every broker instance sees a change within ${CLIENT_CACHE_MS / 1000} seconds, without a restart; a new client at once.
The ids of the configuration file are refused here (that file wins, read-only at run time).

  add             creates a client from its keys, as flags or as a YAML or JSON document on
                  standard input (--stdin; flags override the document). A confidential client
                  (--confidential, or --token-endpoint-auth-method client_secret_basic or
                  client_secret_post) gets a generated secret, printed ONCE: only its hash is kept.
  list            the store's clients in id order, a page at a time (--limit, default 50; --after
                  the last id of the previous page)
  show            a client's keys (never its secret), origin, creation, last use
  update          changes a client, validated like add: with flags, the keys given replace those
                  keys (--unset KEY removes one); with --stdin, the document replaces the client
                  as a whole. The secret stays (unless the client stops using one); a client made
                  confidential gets a new one, printed once.
  rotate-secret   a new secret, printed once; the old one stops working at once
  remove          deletes the client; its tokens die with it: its refresh tokens fail with
                  invalid_grant, its access tokens are inactive at introspection and refused at
                  userinfo (on every instance within the cache time above)

Client keys (those of a client entry in the configuration file; see config/broker.example.yaml):
      --client-name NAME
      --redirect-uris URI                 repeat for several
      --post-logout-redirect-uris URI     repeat for several
      --grant-types TYPE                  repeat for several (default authorization_code refresh_token)
      --response-types TYPE               repeat for several (default code)
      --token-endpoint-auth-method M      client_secret_basic | client_secret_post | private_key_jwt | none
      --jwks JSON                         private_key_jwt: the client's public keys
      --jwks-uri URI                      private_key_jwt: where to fetch them
      --subject-type public|pairwise
      --sector-identifier-uri URI
      --pkce required|optional
      --scope "SCOPES"
      --first-party                       no consent screen (trusted, your own app)
      --resources URI                     repeat for several (RFC 8707 audiences)
      --backchannel-logout-uri URI
      --backchannel-logout-session-required
      --upstream-tokens PROVIDER          repeat for several
      --native-providers PROVIDER         repeat for several

Options:
  -c, --config FILE     configuration file (or BROKER_CONFIG); it must name store.redis
      --confidential    add, update: the client authenticates with a secret (generated)
      --stdin           add, update: read the client as a YAML or JSON document on standard input
      --unset KEY       update: remove this key (e.g. client_name); repeat for several
      --json            print JSON (add, update and rotate-secret include the new secret)
      --limit N         list: clients per page (1-1000, default 50)
      --after ID        list: start after this client id
  -h, --help            print this help and exit

Exit status: 0 on success, 1 when the broker refuses the change (invalid metadata, with the key
named; an id that exists; no such client), 2 for a usage or configuration error.
`;

/** The broker refuses what was asked (exit status 1). */
class ClientFailure extends Error {}

/** Keys given as repeatable flags (arrays), as single strings, as booleans. */
const LIST_KEYS = [
  'redirect_uris',
  'post_logout_redirect_uris',
  'grant_types',
  'response_types',
  'resources',
  'upstream_tokens',
  'native_providers',
] as const;
const STRING_KEYS = [
  'client_name',
  'token_endpoint_auth_method',
  'jwks',
  'jwks_uri',
  'subject_type',
  'sector_identifier_uri',
  'pkce',
  'scope',
  'backchannel_logout_uri',
] as const;
const BOOLEAN_KEYS = ['first_party', 'backchannel_logout_session_required'] as const;
const flag = (key: string) => key.replaceAll('_', '-');

const ACTIONS: Record<string, number> = { add: -1, list: 0, show: 1, update: 1, 'rotate-secret': 1, remove: 1 };
const MAX_DOCUMENT = 256 * 1024;

function parse(argv: string[]) {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string', short: 'c' },
    confidential: { type: 'boolean' },
    stdin: { type: 'boolean' },
    unset: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    limit: { type: 'string' },
    after: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const key of LIST_KEYS) options[flag(key)] = { type: 'string', multiple: true };
  for (const key of STRING_KEYS) options[flag(key)] = { type: 'string' };
  for (const key of BOOLEAN_KEYS) options[flag(key)] = { type: 'boolean' };
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

type Values = ReturnType<typeof parse>['values'];

/** The client keys given as flags. */
function keysFromFlags(values: Values): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  for (const key of LIST_KEYS) if (values[flag(key)] !== undefined) keys[key] = values[flag(key)];
  for (const key of STRING_KEYS) {
    const value = values[flag(key)];
    if (value === undefined) continue;
    if (key === 'jwks') {
      try {
        keys.jwks = JSON.parse(String(value));
      } catch {
        throw new UsageError('--jwks must be a JSON document ({"keys": [...]})');
      }
    } else keys[key] = value;
  }
  for (const key of BOOLEAN_KEYS) if (values[flag(key)] !== undefined) keys[key] = values[flag(key)];
  return keys;
}

async function readDocument(): Promise<Record<string, unknown>> {
  if (process.stdin.isTTY) throw new UsageError('--stdin: pipe a YAML or JSON document into standard input');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_DOCUMENT) throw new UsageError('standard input is too long for a client document');
    chunks.push(chunk);
  }
  let doc: unknown;
  try {
    doc = parseYaml(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new UsageError(`standard input is not YAML or JSON: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new UsageError('standard input must hold one client (a mapping of its keys)');
  }
  return doc as Record<string, unknown>;
}

const when = (s: number | undefined) => (s === undefined ? 'never' : new Date(s * 1000).toISOString());

function described(view: StoredClientView): Record<string, unknown> {
  const { client } = view;
  return {
    ...view.metadata,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    ...view.facts,
  };
}

function showText(view: StoredClientView): string {
  const { client, facts } = view;
  const kind = client.confidential ? `confidential, ${client.auth_methods.join(' or ')}` : 'public';
  const lines = [`client ${client.client_id}${client.client_name ? ` (${client.client_name})` : ''}: ${kind}`];
  for (const [key, value] of Object.entries(view.metadata)) {
    if (key === 'client_id' || key === 'client_name') continue;
    lines.push(
      `  ${key}: ${Array.isArray(value) ? value.join(' ') : typeof value === 'object' ? JSON.stringify(value) : String(value)}`,
    );
  }
  lines.push(`  secret: ${view.has_secret ? 'set (only its hash is kept)' : 'none'}`);
  lines.push(`  origin: ${facts.origin}`);
  lines.push(
    `  created ${when(facts.created_at)}, updated ${when(facts.updated_at)}, last used ${when(facts.last_used_at)}`,
  );
  if (facts.unused_ttl_s) lines.push(`  removed when unused for ${facts.unused_ttl_s} s`);
  return `${lines.join('\n')}\n`;
}

function writtenText(verb: string, written: Written, json: boolean): string {
  if (json) {
    return `${JSON.stringify({ client: described(written.client), ...(written.client_secret ? { client_secret: written.client_secret } : {}) }, null, 2)}\n`;
  }
  const text = `${verb} ${showText(written.client)}`;
  if (!written.client_secret) return text;
  return (
    `${text}client_secret: ${written.client_secret}\n` +
    'This secret is shown once: store it now. Only its hash is kept; rotate-secret makes a new one.\n'
  );
}

/** `login-broker clients ...`: returns the exit status. Messages go to stderr, results to stdout. */
export async function clientsCommand(argv: string[]): Promise<number> {
  let store: Store | undefined;
  try {
    const { values, positionals } = parse(argv);
    if (values.help) {
      process.stdout.write(CLIENTS_USAGE);
      return 0;
    }
    const [action, ...args] = positionals;
    if (!action || !(action in ACTIONS))
      throw new UsageError(`unknown or missing action${action ? ` "${action}"` : ''}`);
    const wanted = ACTIONS[action]!;
    if (wanted >= 0 && args.length !== wanted)
      throw new UsageError(`${action} takes ${wanted} argument(s), got ${args.length}`);
    if (action === 'add' && args.length > 1) throw new UsageError('add takes at most one argument, the client id');
    const keys = keysFromFlags(values);
    const writes = action === 'add' || action === 'update';
    if (!writes && (Object.keys(keys).length || values.confidential || values.stdin)) {
      throw new UsageError('client keys, --confidential and --stdin are for add and update');
    }
    if (values.unset && action !== 'update') throw new UsageError('--unset is for update');
    if (values.json && action === 'remove') throw new UsageError('--json is not for remove');
    if ((values.limit !== undefined || values.after !== undefined) && action !== 'list') {
      throw new UsageError('--limit and --after are for list');
    }
    const limit = values.limit === undefined ? 50 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be 1 to 1000');
    const document = values.stdin ? await readDocument() : undefined;

    const { config } = loadRedisConfig(values);
    store = openStore(config.store);
    await waitForStore(store, 5000);
    const registry = new ClientRegistry(config.clients, { pairwiseSalt: config.subjects.pairwise_salt });
    const clients = new ClientStore(store, registry);
    const json = values.json === true;
    const id = args[0];

    let output: string;
    if (action === 'add') {
      const input = { ...document, ...keys, ...(id ? { client_id: id } : {}) };
      if (input.client_id === undefined)
        throw new UsageError('add needs a client id (ID, or client_id in the document)');
      const written = await clients.create(input, { origin: 'cli', generateSecret: values.confidential === true });
      output = writtenText('added', written, json);
    } else if (action === 'update') {
      let input: Record<string, unknown>;
      if (document) input = { ...document, ...keys };
      else {
        const current = await clients.get(id!);
        if (!current)
          throw new ClientFailure(
            registry.configured(id)
              ? `"${id}" is a client of the configuration file: change it there`
              : `no client "${id}" in the store`,
          );
        input = { ...current.metadata, ...keys };
      }
      for (const key of (values.unset as string[] | undefined) ?? []) {
        if (key === 'client_id') throw new UsageError('--unset client_id: the id cannot change');
        delete input[key.replaceAll('-', '_')];
      }
      if (values.confidential && input.token_endpoint_auth_method === 'none') delete input.token_endpoint_auth_method;
      const written = await clients.update(id!, input, { generateSecret: values.confidential === true });
      output = writtenText('updated', written, json);
    } else if (action === 'rotate-secret') {
      output = writtenText('new secret for', await clients.rotateSecret(id!), json);
    } else if (action === 'remove') {
      if (!(await clients.remove(id!))) throw new ClientFailure(`no client "${id}" in the store`);
      output = `removed client ${id}: its refresh tokens and access tokens are dead\n`;
    } else if (action === 'show') {
      const view = await clients.get(id!);
      if (!view)
        throw new ClientFailure(
          registry.configured(id)
            ? `"${id}" is a client of the configuration file, not of the store`
            : `no client "${id}" in the store`,
        );
      output = json ? `${JSON.stringify(described(view), null, 2)}\n` : showText(view);
    } else {
      const page = await clients.list({ limit, ...(typeof values.after === 'string' ? { after: values.after } : {}) });
      if (json) {
        output = `${JSON.stringify({ clients: page.clients.map(described), total: page.total, unservable: page.unservable, ...(page.next ? { next: page.next } : {}) }, null, 2)}\n`;
      } else {
        const lines = page.clients.map(({ client, facts }) =>
          [
            client.client_id,
            client.client_name ?? '-',
            client.confidential ? 'confidential' : 'public',
            facts.origin,
            `created ${when(facts.created_at)}`,
            `last used ${when(facts.last_used_at)}`,
          ].join('  '),
        );
        if (page.unservable.length > 0) {
          lines.push(`not served by this configuration (see show): ${page.unservable.join(' ')}`);
        }
        lines.push(
          `${page.clients.length} of ${page.total} store client(s)${page.next ? `; next page: --after ${page.next}` : ''}`,
        );
        output = `${lines.join('\n')}\n`;
      }
    }
    process.stdout.write(output);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`login-broker clients: ${err.message}\n\n${CLIENTS_USAGE}`);
      return 2;
    }
    // The broker's refusals (BrokerError) carry a description meant to be shown.
    const shown = (err as { error_description?: unknown }).error_description;
    const message = typeof shown === 'string' ? shown : (err as Error).message;
    process.stderr.write(`login-broker clients: ${message}\n`);
    return 1;
  } finally {
    await store?.close().catch(() => undefined);
  }
}
