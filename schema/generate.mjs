// Writes schema/*.json from the zod schemas (npm run schemas builds dist/ first).
// test/cli/json-schemas.test.ts fails when the committed files differ from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { jsonSchemaFiles, SCHEMA_DIR } from '../dist/cli/json-schemas.js';

mkdirSync(SCHEMA_DIR, { recursive: true });
for (const [name, text] of Object.entries(jsonSchemaFiles())) {
  writeFileSync(new URL(name, SCHEMA_DIR), text);
  process.stdout.write(`wrote schema/${name}\n`);
}
