import type { Definition, Mapping } from './definition.js';
import type { UpstreamIdentity } from './types.js';

type Source = Record<string, unknown>;

/** `a.b.c` into nested objects; a key that itself holds dots (`https://slack.com/team_id`) wins. */
export function lookup(source: unknown, path: string): unknown {
  if (typeof source !== 'object' || source === null) return undefined;
  const record = source as Record<string, unknown>;
  if (Object.hasOwn(record, path)) return record[path];
  const dot = path.indexOf('.');
  if (dot < 0) return undefined;
  // Try the longest key prefix first, so keys with dots still resolve.
  for (let i = path.lastIndexOf('.'); i > 0; i = path.lastIndexOf('.', i - 1)) {
    const head = path.slice(0, i);
    if (Object.hasOwn(record, head)) return lookup(record[head], path.slice(i + 1));
  }
  return undefined;
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value.length ? value : undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** A plain path, or a template whose `{path}` parts must all resolve. */
export function resolve(sources: Source[], expression: string): unknown {
  if (!expression.includes('{')) {
    for (const source of sources) {
      const value = lookup(source, expression);
      if (value !== undefined && value !== null) return value;
    }
    return undefined;
  }
  let missing = false;
  const out = expression.replace(/\{([^{}]+)\}/g, (_match, path: string) => {
    const value = scalar(resolve(sources, path));
    if (value === undefined) missing = true;
    return value ?? '';
  });
  return missing ? undefined : out;
}

const OIDC_DEFAULTS: Required<Omit<Mapping, 'email_verified_strings'>> = {
  subject: '{sub}',
  email: 'email',
  email_verified: 'email_verified',
  name: 'name',
  given_name: 'given_name',
  family_name: 'family_name',
  preferred_username: 'preferred_username',
  picture: 'picture',
  locale: 'locale',
};

export function effectiveMapping(definition: Pick<Definition, 'kind' | 'mapping'>): Mapping {
  if (definition.kind === 'oidc') return { ...OIDC_DEFAULTS, ...definition.mapping };
  return { email_verified: 'never', ...definition.mapping };
}

const TEXT_FIELDS = ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'locale'] as const;

export class MappingError extends Error {}

/**
 * Maps the provider's answers into the one identity shape. `sources` are in priority order (the
 * verified ID-token claims first). The email and its verified flag always come from the same
 * source, so a flag from one answer never vouches for an address from another.
 */
export function mapIdentity(
  definition: Pick<Definition, 'kind' | 'mapping'>,
  sources: Source[],
  provider: string,
  issuer: string,
  raw: Record<string, unknown>,
): UpstreamIdentity {
  const mapping = effectiveMapping(definition);
  const subjectExpression = mapping.subject!.includes('{') ? mapping.subject! : `{${mapping.subject!}}`;
  const subject = scalar(resolve(sources, subjectExpression));
  if (!subject || subject.length > 255) throw new MappingError('the provider did not send a usable user id');
  const identity: UpstreamIdentity = { provider, issuer, subject, email_verified: false, raw };

  if (mapping.email) {
    for (const source of sources) {
      const email = lookup(source, mapping.email);
      if (typeof email !== 'string' || !email.includes('@')) continue;
      identity.email = email;
      if (mapping.email_verified && mapping.email_verified !== 'never') {
        const flag = lookup(source, mapping.email_verified);
        // true only on the provider's positive signal, as a boolean (Apple: also "true").
        identity.email_verified = flag === true || (mapping.email_verified_strings === true && flag === 'true');
      }
      break;
    }
  }
  for (const field of TEXT_FIELDS) {
    const expression = mapping[field];
    if (!expression) continue;
    const value = resolve(sources, expression);
    if (typeof value === 'string' && value.length > 0) identity[field] = value.slice(0, 2048);
  }
  return identity;
}
