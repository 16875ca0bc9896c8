/**
 * A small JSON Schema (2020-12) validator for the keywords z.toJSONSchema emits for our schemas:
 * enough to show that the committed schemas accept the shipped YAML files and refuse a mistake.
 * It throws on a keyword it does not know, so it cannot pass a schema it did not read.
 */

type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', 'title', 'description', 'default', 'format']);
const KNOWN = new Set([
  ...ANNOTATIONS,
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'anyOf',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The problems with `value` against `schema`, each as "path: reason"; none when it is valid. */
export function validate(schema: Schema, value: unknown, path = ''): string[] {
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) throw new Error(`${path}: unsupported keyword ${key}`);
  const here = path || '(root)';
  if (schema.anyOf) {
    const options = schema.anyOf as Schema[];
    const matches = options.some((option) => validate(option, value, path).length === 0);
    if (!matches) return [`${here}: matches no alternative`];
  }
  const type = schema.type as string | undefined;
  const actual = typeOf(value);
  const typeMatches = actual === type || (type === 'number' && actual === 'integer');
  if (type && !typeMatches) return [`${here}: is ${actual}, not ${type}`];
  const problems: string[] = [];
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) {
    problems.push(`${here}: not one of the allowed values`);
  }
  if ('const' in schema && schema.const !== value) problems.push(`${here}: must be ${JSON.stringify(schema.const)}`);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern as string).test(value)) {
      problems.push(`${here}: does not match ${schema.pattern}`);
    }
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) problems.push(`${here}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) problems.push(`${here}: too long`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${here}: below the minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${here}: above the maximum`);
    const above = schema.exclusiveMinimum;
    if (typeof above === 'number' && value <= above) problems.push(`${here}: too small`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) problems.push(`${here}: too few items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) problems.push(`${here}: too many items`);
    const items = schema.items as Schema | undefined;
    if (items) for (const [i, item] of value.entries()) problems.push(...validate(items, item, `${path}[${i}]`));
  }
  if (actual === 'object') {
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!(key in record)) problems.push(`${here}: ${key} is required`);
    }
    for (const [key, child] of Object.entries(record)) {
      const where = path ? `${path}.${key}` : key;
      if (schema.propertyNames) problems.push(...validate(schema.propertyNames as Schema, key, `${where} (name)`));
      if (properties[key]) problems.push(...validate(properties[key], child, where));
      else if (schema.additionalProperties === false) problems.push(`${where}: unknown key`);
      else if (typeof schema.additionalProperties === 'object') {
        problems.push(...validate(schema.additionalProperties as Schema, child, where));
      }
    }
  }
  return problems;
}
