import { readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { loadDefinition, PROVIDERS_DIR, type Definition } from '../upstream/definition.js';
import { effectiveMapping } from '../upstream/mapping.js';
import { connectProvider } from '../upstream/connect.js';
import { checkProvider, type Finding } from './provider-check.js';

export const PROVIDERS_USAGE = `Usage: login-broker providers list [--json]
       login-broker providers check [--config FILE]

list    The provider catalogue (the files in providers/): id, name, kind, PKCE, where a verified
        email comes from, and the quirks the file names.
check   For each provider in the configuration: the callback URL to register at the provider;
        for OpenID Connect providers, discovery fetched and checked (exact issuer, https
        endpoints, S256, the pinned ID-token algorithm, a signing key); the endpoints reachable;
        and the client credentials, by a token request with a made-up code (invalid_grant means
        the provider authenticated the client, invalid_client that it did not). One line per
        provider, then its details.

Options:
  -c, --config FILE   configuration file (or BROKER_CONFIG)
      --json          list: print JSON
  -h, --help          print this help and exit

Exit status: 0 when every check passes (warnings allowed), 1 when one fails, 2 for a usage or
configuration error.
`;

class UsageError extends Error {}

export interface CatalogueEntry {
  id: string;
  name: string;
  kind: Definition['kind'];
  pkce: Definition['pkce'];
  email_verified: string;
  quirks: string[];
}

/** Where a provider's email_verified comes from, in words. */
export function emailVerifiedSource(def: Definition): string {
  if (def.quirks.includes('github-emails')) return 'verified primary of /user/emails';
  const mapping = effectiveMapping(def);
  if (!mapping.email) return 'never (no email)';
  if (!mapping.email_verified || mapping.email_verified === 'never') return 'never';
  return mapping.email_verified_strings ? `${mapping.email_verified} (true or "true")` : mapping.email_verified;
}

export function catalogue(dir: URL = PROVIDERS_DIR): CatalogueEntry[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
  return names.map((id) => {
    const def = loadDefinition(id, dir);
    const { name, kind, pkce, quirks } = def;
    return { id, name, kind, pkce, email_verified: emailVerifiedSource(def), quirks };
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return `${rows.map(line).join('\n')}\n`;
}

function listCommand(json: boolean, out: NodeJS.WritableStream): number {
  const entries = catalogue();
  if (json) {
    out.write(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  const rows = [['ID', 'NAME', 'KIND', 'PKCE', 'EMAIL VERIFIED FROM', 'QUIRKS']];
  for (const e of entries) rows.push([e.id, e.name, e.kind, e.pkce, e.email_verified, e.quirks.join(', ') || '-']);
  out.write(table(rows));
  return 0;
}

const MARK: Record<Finding['level'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', info: '    ' };

async function checkCommand(config: Config, configFile: string, out: NodeJS.WritableStream): Promise<number> {
  if (!config.providers.length) {
    out.write(`${configFile}: no providers configured\n`);
    return 0;
  }
  let failed = 0;
  for (const [index, entry] of config.providers.entries()) {
    let findings: Finding[];
    try {
      // The same steps as at start (no request is made until the checks): a bad entry fails here too.
      findings = await checkProvider(connectProvider(entry, index, { brokerIssuer: config.issuer, configFile }));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      findings = err.problems.map((text) => ({ level: 'fail', text }));
    }
    const fails = findings.filter((f) => f.level === 'fail').length;
    const warns = findings.filter((f) => f.level === 'warn').length;
    if (fails) failed++;
    const plural = (count: number, word: string) => `${count} ${word}${count > 1 ? 's' : ''}`;
    const verdict = fails ? `FAIL ${plural(fails, 'problem')}` : warns ? `ok (${plural(warns, 'warning')})` : 'ok';
    out.write(`${entry.id} (use: ${entry.use}): ${verdict}\n`);
    for (const finding of findings) out.write(`  ${MARK[finding.level]} ${finding.text}\n`);
  }
  const total = config.providers.length;
  out.write(`${total} provider${total > 1 ? 's' : ''} checked, ${failed} failed\n`);
  return failed ? 1 : 0;
}

/** `login-broker providers ...`: returns the exit status. Results to `out`, usage errors to `err`. */
export async function providersCommand(
  argv: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        options: {
          config: { type: 'string', short: 'c' },
          json: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
        strict: true,
        allowPositionals: true,
      });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      out.write(PROVIDERS_USAGE);
      return 0;
    }
    const [action, ...extra] = positionals;
    if (action !== 'list' && action !== 'check') {
      throw new UsageError(`unknown or missing action${action ? ` "${action}"` : ''}`);
    }
    if (extra.length) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (action === 'list') {
      if (values.config !== undefined) throw new UsageError('list reads providers/, not a configuration');
      return listCommand(values.json === true, out);
    }
    if (values.json) throw new UsageError('--json is for list');
    const configFile = values.config ?? process.env.BROKER_CONFIG;
    if (!configFile) throw new UsageError('no configuration file: pass --config FILE or set BROKER_CONFIG');
    let config: Config;
    try {
      config = loadConfig(configFile);
    } catch (e) {
      if (e instanceof ConfigError) {
        err.write(`login-broker providers: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
    return await checkCommand(config, configFile, out);
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`login-broker providers: ${e.message}\n\n${PROVIDERS_USAGE}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      err.write(`login-broker providers: ${e.message}\n`);
      return 2;
    }
    err.write(`login-broker providers: ${(e as Error).message}\n`);
    return 1;
  }
}
