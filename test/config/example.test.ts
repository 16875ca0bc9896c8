import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { ROOT } from '../support/built.js';

/** Every key path the schema accepts, e.g. "store.redis" or "clients[].client_id". */
function schemaPaths(schema: unknown, prefix = ''): string[] {
  const def = (schema as { _zod: { def: Record<string, unknown> } })._zod.def;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, unknown>;
      return Object.entries(shape).flatMap(([key, child]) => {
        const path = prefix ? `${prefix}.${key}` : key;
        return [path, ...schemaPaths(child, path)];
      });
    }
    case 'optional':
    case 'default':
    case 'nullable':
    case 'prefault':
    case 'pipe':
      return schemaPaths(def.innerType ?? def.in, prefix);
    case 'array':
      return schemaPaths(def.element, `${prefix}[]`);
    case 'union':
      return (def.options as unknown[]).flatMap((option) => schemaPaths(option, prefix));
    default:
      return [];
  }
}

const example = readFileSync(`${ROOT}config/broker.example.yaml`, 'utf8');

describe('config/broker.example.yaml', () => {
  it('is a valid configuration', () => {
    expect(() => parseConfig('broker.example.yaml', example, {})).not.toThrow();
  });

  it('documents every key the schema accepts', () => {
    const paths = [...new Set(schemaPaths(configSchema))];
    expect(paths.length).toBeGreaterThan(5);
    const undocumented = paths.filter((path) => {
      const key = path
        .split(/\.|\[\]/)
        .filter(Boolean)
        .pop()!;
      return !new RegExp(`^[\\s#-]*${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`, 'm').test(example);
    });
    expect(undocumented).toEqual([]);
  });

  it('matches the shipped dev and docker configurations', () => {
    for (const file of ['dev.yaml', 'docker.yaml']) {
      const text = readFileSync(`${ROOT}config/${file}`, 'utf8');
      expect(() => parseConfig(file, text, {})).not.toThrow();
    }
    const dev = parseConfig('dev.yaml', readFileSync(`${ROOT}config/dev.yaml`, 'utf8'), {});
    expect(dev.issuer).toBe('http://127.0.0.1:4000');
    expect(dev.listen).toEqual({ host: '127.0.0.1', port: 4000, drain_ms: 0 });
    expect(dev.store).toBeUndefined();
  });
});
