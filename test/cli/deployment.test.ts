import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ensureBuilt, ROOT } from '../support/built.js';

// No Docker engine runs here, so these check what can be checked without one: every path the
// Dockerfile and docker-compose.yml name exists, and the start command is the built entry point.
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

beforeAll(() => ensureBuilt());

describe('Dockerfile', () => {
  it('builds in one stage and runs in another, on the Node major the tests run on, as a non-root user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms).toHaveLength(2);
    const major = process.versions.node.split('.')[0];
    for (const from of froms) expect(from).toMatch(new RegExp(`^FROM node:${major}-`));
    expect(instructions).toContain('USER node');
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
  });

  it('copies only paths that exist in the repository', () => {
    const sources = instructions
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(`${ROOT}${source}`), source).toBe(true);
  });

  it('starts the built entry point, reads the mounted config and checks /healthz', () => {
    const cmd = instructions.find((l) => l.startsWith('CMD '))!;
    const [, script] = JSON.parse(cmd.slice(4)) as string[];
    expect(existsSync(`${ROOT}${script}`)).toBe(true);
    expect(dockerfile).toContain('BROKER_CONFIG=/etc/login-broker/broker.yaml');
    expect(instructions.find((l) => l.startsWith('HEALTHCHECK'))).toContain('BROKER_HEALTH_URL');
    expect(dockerfile).toMatch(/BROKER_HEALTH_URL=http:\/\/127\.0\.0\.1:4000\/healthz/);
    // The built app reads its stylesheet next to its code.
    expect(existsSync(`${ROOT}dist/ui/static/broker.css`)).toBe(true);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'));
  it('runs the broker with its config mounted where the image reads it, and Redis with appendonly', () => {
    const volume: string = compose.services.broker.volumes[0];
    const [host, target] = volume.split(':');
    expect(existsSync(`${ROOT}${host!.replace(/^\.\//, '')}`)).toBe(true);
    expect(target).toBe('/etc/login-broker/broker.yaml');
    expect(compose.services.redis.command.join(' ')).toContain('--appendonly yes');
  });
});
