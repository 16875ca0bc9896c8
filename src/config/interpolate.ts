/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string scalar of a parsed YAML document.
 * Working on parsed scalars (not on the raw text) means a secret containing `#` or `: `
 * cannot change the document's structure. `$${` stays a literal `${`.
 */
export class MissingVariable extends Error {
  constructor(
    readonly variable: string,
    readonly path: (string | number)[],
  ) {
    super(`environment variable ${variable} is not set (write \${${variable}:-default} to give a default)`);
  }
}

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(value: unknown, env: NodeJS.ProcessEnv, path: (string | number)[] = []): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path);
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, [...path, i]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k])]));
  }
  return value;
}

function interpolateString(text: string, env: NodeJS.ProcessEnv, path: (string | number)[]): string {
  return text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const found = env[name!];
    if (found !== undefined && found !== '') return found;
    if (fallback !== undefined) return fallback;
    if (found === '') return '';
    throw new MissingVariable(name!, path);
  });
}
