import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfig('broker.yaml', text, env);
const problems = (text: string, env: NodeJS.ProcessEnv = {}): string => {
  try {
    parse(text, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('config loading', () => {
  it('applies defaults to a minimal file', () => {
    const config = parse('issuer: http://127.0.0.1:4000\n');
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 4000, drain_ms: 0 });
    expect(config.store).toBeUndefined();
    expect(config.providers).toEqual([]);
    expect(config.clients).toEqual([]);
  });

  it('reads the documented keys', () => {
    const config = parse(`issuer: https://login.example.com
listen: { host: 0.0.0.0, port: 8080 }
store:
  redis: redis://127.0.0.1:6379/0
  prefix: "lb:"
providers: []
clients: []
`);
    expect(config.issuer).toBe('https://login.example.com');
    expect(config.listen.port).toBe(8080);
    expect(config.store).toEqual({
      redis: 'redis://127.0.0.1:6379/0',
      prefix: 'lb:',
      command_timeout_ms: 2000,
      wait_replicas: 0,
      wait_timeout_ms: 500,
    });
  });

  it('replaces ${VAR} and ${VAR:-default} from the environment, and keeps $${ literal', () => {
    const config = parse(
      `issuer: \${ISSUER}
listen: { host: "\${HOST:-127.0.0.1}", port: "\${PORT:-4100}" }
store: { redis: "\${REDIS_URL}", prefix: "a$\${b}" }
`,
      { ISSUER: 'https://id.example.org', REDIS_URL: 'redis://cache:6379/1' },
    );
    expect(config.issuer).toBe('https://id.example.org');
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 4100, drain_ms: 0 });
    expect(config.store?.redis).toBe('redis://cache:6379/1');
    expect(config.store?.prefix).toBe('a${b}');
  });

  it('keeps a secret with YAML syntax in it as a plain string', () => {
    const config = parse('issuer: http://127.0.0.1:4000\nstore: { redis: "${URL}" }\n', {
      URL: 'redis://u:p#x: [y]@h:1/0',
    });
    expect(config.store?.redis).toBe('redis://u:p#x: [y]@h:1/0');
  });

  it('names a missing variable and where it is used', () => {
    const message = problems('issuer: http://127.0.0.1:4000\nstore:\n  redis: ${REDIS_URL}\n');
    expect(message).toContain('broker.yaml');
    expect(message).toContain('store.redis');
    expect(message).toContain('REDIS_URL is not set');
  });

  it('rejects unknown keys, naming them and their path', () => {
    const message = problems('issuer: http://127.0.0.1:4000\nlisten: { host: 127.0.0.1, prot: 4000 }\nstroe: {}\n');
    expect(message).toContain('listen: unknown key "prot"');
    expect(message).toContain('unknown key "stroe"');
  });

  it('rejects wrong types with the key path and what was expected', () => {
    const message = problems('issuer: http://127.0.0.1:4000\nlisten: { port: lots }\n');
    expect(message).toMatch(/listen\.port: .*number/i);
    expect(problems('issuer: 42\n')).toMatch(/issuer: .*string/i);
    expect(problems('issuer: http://127.0.0.1:4000\nlisten: { port: 70000 }\n')).toContain('listen.port');
  });

  it('refuses http issuers on non-loopback hosts, and issuers with a query, fragment or trailing slash', () => {
    expect(problems('issuer: http://login.example.com\n')).toContain('issuer: must use https');
    expect(problems('issuer: https://login.example.com/\n')).toContain('must not end with a slash');
    expect(problems('issuer: https://login.example.com?x=1\n')).toContain('query or fragment');
    expect(problems('issuer: ftp://login.example.com\n')).toContain('https');
    expect(parse('issuer: http://localhost:4000\n').issuer).toBe('http://localhost:4000');
    expect(parse('issuer: http://[::1]:4000\n').issuer).toBe('http://[::1]:4000');
    expect(parse('issuer: https://login.example.com/auth\n').issuer).toBe('https://login.example.com/auth');
  });

  it('reports malformed YAML with a line number', () => {
    const message = problems('issuer: http://127.0.0.1:4000\nlisten: { host: [\n');
    expect(message).toMatch(/YAML syntax error at line \d+/);
    expect(problems('issuer: a\nissuer: b\n')).toMatch(/YAML syntax error.*unique/i);
  });

  it('requires the issuer and rejects a bad Redis URL', () => {
    expect(problems('listen: { port: 4000 }\n')).toContain('issuer');
    expect(problems('issuer: http://127.0.0.1:4000\nstore: { redis: "http://x" }\n')).toContain(
      'store.redis: must be a redis://',
    );
    expect(problems('')).toContain('issuer');
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadConfig('/nonexistent/broker.yaml')).toThrow(
      /\/nonexistent\/broker\.yaml: invalid configuration\n {2}- file not found/,
    );
  });
});
