#!/usr/bin/env node
// merclip CLI entry: the compiled TypeScript lives in dist/ (built by `npm install` via `prepare`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist', 'cli', 'index.js');
if (!existsSync(entry)) {
  console.error(`merclip: ${entry} is missing — the TypeScript is not compiled. Run \`npm run build:ts\` in ${root}.`);
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv);
