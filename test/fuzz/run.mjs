// npm run fuzz [-- --runs=N] [-- --seed=S]
// Runs the fuzz test (test/fuzz/requests.test.ts) with N cases (default 20,000) from seed S
// (default: a fresh one, printed). A failure prints its seed and path, and is added to
// test/fuzz/regressions.json, which every later run (npm test included) replays first.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' } }, strict: true });
const runs = Number(values.runs ?? 20_000);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
if (!Number.isSafeInteger(seed)) throw new Error('--seed must be an integer');
process.stderr.write(`[fuzz] ${runs} cases from seed ${seed} (replay with --seed=${seed})\n`);
const child = spawn('npx', ['vitest', 'run', 'test/fuzz/requests.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: String(seed), FUZZ_RECORD: '1' },
});
child.on('exit', (code) => process.exit(code ?? 1));
