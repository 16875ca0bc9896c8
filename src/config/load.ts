import { readFileSync } from 'node:fs';
import { parseDocument, type YAMLError } from 'yaml';
import type { z } from 'zod';
import { interpolate, MissingVariable } from './interpolate.js';
import { configSchema, type Config } from './schema.js';

/** A configuration problem: the message names the file, the key path and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${formatPath(issue.path)}: ` : '';
      return `${where}unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
}

/** The error a caller raises for problems in its file: ConfigError, or a subclass of it. */
export type ProblemError = new (file: string, problems: string[]) => ConfigError;

/** Parses YAML text (no duplicate keys); a syntax error names its line and column. */
export function parseYamlText(file: string, text: string, Problem: ProblemError = ConfigError): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) throw new Problem(file, doc.errors.map(syntaxProblem));
  return doc.toJS();
}

function syntaxProblem(error: YAMLError): string {
  const pos = error.linePos?.[0];
  const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
  return `YAML syntax error${where}: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
}

/** Validates parsed YAML with a schema; every problem names its key path and the reason. */
export function validate<S extends z.ZodType>(
  schema: S,
  file: string,
  raw: unknown,
  Problem: ProblemError = ConfigError,
): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw new Problem(file, formatIssues(result.error));
  return result.data;
}

/** Parses YAML text and interpolates the environment; throws ConfigError. */
export function parseYaml(file: string, text: string, env: NodeJS.ProcessEnv): unknown {
  const raw = parseYamlText(file, text);
  try {
    return interpolate(raw, env);
  } catch (err) {
    if (err instanceof MissingVariable) throw new ConfigError(file, [`${formatPath(err.path)}: ${err.message}`]);
    throw err;
  }
}

export function parseConfig(file: string, text: string, env: NodeJS.ProcessEnv = process.env): Config {
  return validate(configSchema, file, parseYaml(file, text, env));
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? 'error'})`]);
  }
  return parseConfig(file, text, env);
}
