// The rooms of src/ and what each may import (docs/architecture.md). `npm test` runs this first.
const room = (name) => `^src/${name}/`;
const only = (name, allowed) => ({
  name: `${name}-imports`,
  comment: `src/${name}/ may import only lib/ and: ${allowed.join(', ') || 'nothing else of ours'}`,
  severity: 'error',
  from: { path: room(name) },
  to: { path: '^src/', pathNot: [room(name), room('lib'), ...allowed.map((a) => (a.endsWith('.ts') ? `^src/${a}$` : room(a)))] },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    // lib/: small pure helpers every room may use; it imports nothing of ours.
    { name: 'lib-imports', severity: 'error', from: { path: room('lib') }, to: { path: '^src/', pathNot: room('lib') } },
    only('config', []),
    only('store', []),
    only('http', []),
    only('ui', []),
    only('session', ['store', 'config']),
    only('identity', ['store', 'config', 'http/broker-error.ts']),
    only('upstream', ['store', 'config', 'http']),
    only('oauth', ['store', 'config', 'http', 'ui', 'identity', 'session', 'upstream/types.ts']),
    only('account', ['store', 'config', 'http', 'ui', 'identity', 'session', 'upstream/types.ts']),
    // The CLI, like main.ts, composes the rooms it needs.
    only('cli', ['store', 'config', 'identity', 'upstream', 'session', 'oauth']),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
