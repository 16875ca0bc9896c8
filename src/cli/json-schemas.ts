import { z } from 'zod';
import { definitionSchema } from '../config/provider-definition.js';
import { configSchema } from '../config/schema.js';

/**
 * JSON Schemas (draft 2020-12) for the YAML files, generated from the zod schemas that validate
 * them, so editors validate and complete them (`# yaml-language-server: $schema=...`). They
 * describe the input: keys with defaults are optional. Refinements in code (URL checks, the
 * cross-key rules) are not in them; the broker still checks everything at start.
 */

/** The committed schemas, next to src/ and dist/ alike. */
export const SCHEMA_DIR = new URL('../../schema/', import.meta.url);

type Node = Record<string, unknown>;

/** What `${VAR}` and `${VAR:-default}` look like before interpolation (src/config/interpolate.ts). */
const REFERENCE: Node = {
  type: 'string',
  pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows the config's ${VAR} syntax
  description: 'an environment reference, ${VAR} or ${VAR:-default}, replaced before validation',
};

/**
 * The broker configuration is interpolated before it is validated: where a value is constrained
 * (a pattern, an enum, a length, a number), a `${VAR}` reference is accepted too.
 */
function acceptReferences(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(acceptReferences);
  if (typeof node !== 'object' || node === null) return node;
  const out: Node = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'default' || key === 'enum' ? value : acceptReferences(value);
  }
  const constrained =
    (out.type === 'string' && ('pattern' in out || 'enum' in out || 'maxLength' in out)) ||
    out.type === 'integer' ||
    out.type === 'number';
  if (!constrained) return out;
  const { default: fallback, ...rest } = out;
  return { ...(fallback !== undefined ? { default: fallback } : {}), anyOf: [rest, REFERENCE] };
}

function generate(schema: z.ZodType, head: Node, transform: (node: unknown) => unknown = (n) => n): string {
  const body = transform(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' })) as Node;
  const { $schema, ...rest } = body;
  return `${JSON.stringify({ $schema, ...head, ...rest }, null, 2)}\n`;
}

/** File name in schema/ → its text. */
export function jsonSchemaFiles(): Record<string, string> {
  return {
    'provider.schema.json': generate(definitionSchema, {
      title: 'login-broker provider definition',
      description: 'providers/<name>.yaml: how the broker talks to one upstream provider (README "Adding a provider").',
    }),
    'broker-config.schema.json': generate(
      configSchema,
      {
        title: 'login-broker configuration',
        description: 'The broker configuration file; every key is described in config/broker.example.yaml.',
      },
      acceptReferences,
    ),
  };
}
