import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/http/metrics.js';
import { MemoryStore } from '../../src/store/index.js';
import { ROOT } from '../support/built.js';

/** Every series name the broker's registry can expose (histograms with their suffixes). */
async function exposed(): Promise<Set<string>> {
  const metrics = new Metrics();
  metrics.watchStore(new MemoryStore());
  const names = new Set<string>();
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

const used = (text: string) => new Set(text.match(/\b(?:login_broker|process|nodejs)_[a-z0-9_]+/g) ?? []);

describe('monitoring documents', () => {
  it('the Grafana dashboard queries only metrics the broker exposes', async () => {
    const dashboard = JSON.parse(readFileSync(`${ROOT}contrib/grafana/login-broker.json`, 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels
      .flatMap((p) => p.targets ?? [])
      .map((t) => t.expr)
      .join('\n');
    const names = await exposed();
    expect([...used(exprs)].filter((n) => !names.has(n))).toEqual([]);
    expect(used(exprs).size).toBeGreaterThan(10);
  });

  it('the README names only metrics the broker exposes', async () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const section = readme.slice(readme.indexOf('## Monitoring'), readme.indexOf('## Rate limits'));
    const names = await exposed();
    expect([...used(section)].filter((n) => !names.has(n))).toEqual([]);
  });
});
