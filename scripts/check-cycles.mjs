#!/usr/bin/env node
// scripts/check-cycles.mjs — the layering checks of lib/: no import cycle, and no file over the
// size limit without a reason in its header.
//
//   node scripts/check-cycles.mjs [dir = lib] [--max-lines 600] [--json]
//
// Imports: every static `import … from`, `import type … from`, `export … from` and `import('…')`
// of a relative path in the .ts files under dir, type-only ones included (a type cycle is still
// a cycle between files); `./x.js` resolves to x.ts, a directory to its index.ts. A worker started
// by URL (new Worker(new URL('./w.js', …))) is not an import and is not followed. Cycles are the
// strongly connected components of more than one file (Tarjan), plus a file importing itself.
//
// Size: a file of more than --max-lines lines must say why in its leading comment block, on a
// line starting `// Size:`.
//
// Exit status 1 when a cycle or an unexplained long file is found (each is printed); --json prints
// { files, edges, cycles, long } instead.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const args = process.argv.slice(2);
const json = args.includes('--json');
const maxAt = args.indexOf('--max-lines');
const maxLines = maxAt >= 0 ? Number(args[maxAt + 1]) : 600;
const root = resolve(args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--max-lines') ?? 'lib');

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The .ts file a relative specifier names, or null (outside the tree, or not a source file). */
function resolveSpec(from, spec) {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts'), base]) {
    if (c.endsWith('.ts') && existsSync(c) && statSync(c).isFile()) return c;
  }
  return null;
}

/** Relative specifiers imported by a source text (comments stripped first). */
export function importsOf(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
  const specs = new Set();
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?(?:[\w*\s{},$]+?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/g,
    /\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) specs.add(m[1]);
  return [...specs];
}

/** Tarjan's strongly connected components; returns those that are cycles. */
export function cyclesOf(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), onStack = new Set(), stack = [], cycles = [];
  const strong = (v) => {
    // iterative, so deep import chains cannot overflow the stack
    const work = [[v, 0]];
    idx.set(v, index); low.set(v, index); index++; stack.push(v); onStack.add(v);
    while (work.length) {
      const top = work[work.length - 1];
      const [u, i] = top;
      const next = graph.get(u) ?? [];
      if (i < next.length) {
        top[1]++;
        const w = next[i];
        if (!idx.has(w)) {
          idx.set(w, index); low.set(w, index); index++; stack.push(w); onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) low.set(u, Math.min(low.get(u), idx.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(u)));
      }
      if (low.get(u) === idx.get(u)) {
        const comp = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          comp.push(w);
        } while (w !== u);
        if (comp.length > 1 || (graph.get(u) ?? []).includes(u)) cycles.push(comp.sort());
      }
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) strong(v);
  return cycles;
}

/** Whether a long file's leading comment block gives its reason (`// Size: …`). */
function explainsSize(text) {
  for (const line of text.split('\n')) {
    if (!line.startsWith('//')) return false;
    if (/^\/\/\s*Size:/.test(line)) return true;
  }
  return false;
}

export function check(dir, limit = 600) {
  const files = walk(dir);
  const graph = new Map();
  let edges = 0;
  const long = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const deps = importsOf(text).map((s) => resolveSpec(f, s)).filter((d) => d !== null);
    graph.set(f, [...new Set(deps)]);
    edges += graph.get(f).length;
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    if (lines > limit && !explainsSize(text)) long.push({ file: relative(process.cwd(), f), lines });
  }
  const cycles = cyclesOf(graph).map((c) => c.map((f) => relative(process.cwd(), f)));
  return { files: files.length, edges, cycles, long };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('check-cycles.mjs')) {
  const r = check(root, maxLines);
  if (json) console.log(JSON.stringify(r, null, 2));
  else {
    console.log(`${relative(process.cwd(), root) || '.'}: ${r.files} files, ${r.edges} relative imports (type-only included)`);
    for (const c of r.cycles) console.log(`import cycle: ${c.join(' ↔ ')}`);
    for (const l of r.long) console.log(`${l.file}: ${l.lines} lines, over ${maxLines}, and its header gives no reason (a "// Size: …" line)`);
    if (!r.cycles.length) console.log('no import cycle');
    if (!r.long.length) console.log(`no file over ${maxLines} lines without a reason`);
  }
  process.exitCode = r.cycles.length || r.long.length ? 1 : 0;
}
