// test/scripts/checkCycles.test.ts — scripts/check-cycles.mjs: lib/ has no import cycle (type-only
// imports included) and no file over 600 lines without a `// Size:` reason; and the checker finds
// what it must on a small tree written here (a cycle through a type-only import and an index.ts,
// a self-import, a long file with and without its reason), so a clean lib/ is not an empty check.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
// @ts-expect-error a plain .mjs script without type declarations
import { check, importsOf } from '../../scripts/check-cycles.mjs';

type Report = { files: number; edges: number; cycles: string[][]; long: Array<{ file: string; lines: number }> };
const run = check as (dir: string, limit?: number) => Report;

const tmp = mkdtempSync(join(tmpdir(), 'merclip-cycles-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('scripts/check-cycles.mjs', () => {
  it('lib/ has no import cycle and no unexplained file over 600 lines', () => {
    const r = run(join(packageRoot(), 'lib'));
    expect(r.files).toBeGreaterThan(50);
    expect(r.edges).toBeGreaterThan(150);
    expect(r.cycles).toEqual([]);
    expect(r.long).toEqual([]);
  });

  it('finds cycles (type-only and through a directory index), self-imports and long files', () => {
    const w = (p: string, text: string): void => {
      mkdirSync(join(tmp, p, '..'), { recursive: true });
      writeFileSync(join(tmp, p), text);
    };
    w('a.ts', "import { b } from './b.js';\nexport const a = b;\n");
    w('b.ts', "// a comment: import { x } from './c.js'; is not an import\nimport type { C } from './sub/index.js';\nexport const b = 1;\n");
    w('sub/index.ts', "export * from '../a.js';\nexport type C = number;\n");
    w('self.ts', "export { s } from './self.js';\nexport const s = 1;\n");
    w('ok.ts', "import { a } from './a.js';\nimport { readFileSync } from 'node:fs';\nexport const ok = [a, readFileSync];\n");
    w('long.ts', `// long.ts\n${'export const x = 1;\n'.repeat(20)}`);
    w('longok.ts', `// longok.ts\n// Size: a reason\n${'export const y = 1;\n'.repeat(20)}`);
    const r = run(tmp, 10);
    const names = r.cycles.map((c) => c.map((f) => f.slice(f.lastIndexOf(tmp.split('/').pop()!))).map((f) => f.split('/').slice(1).join('/')).sort());
    expect(names.sort()).toEqual([['a.ts', 'b.ts', 'sub/index.ts'], ['self.ts']]);
    expect(r.long.map((l) => l.file.split('/').pop())).toEqual(['long.ts']);
    expect(importsOf("import type { T } from '../t.js';\nexport * as ops from './ops/index.js';\nconst m = await import('./m.js');")).toEqual(['../t.js', './ops/index.js', './m.js']);
  });
});
