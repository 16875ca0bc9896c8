import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MAIN = `${ROOT}dist/main.js`;

/** `npm test` builds first; a lone `vitest run` of a CLI test builds when dist/ is missing. */
export function ensureBuilt(): void {
  if (!existsSync(MAIN)) execSync('npm run build --silent', { cwd: ROOT, stdio: 'inherit' });
}
