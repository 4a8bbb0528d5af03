// bench/harness.ts — shared benchmark plumbing: runs cases with the `benchmark` package, takes
// medians of its samples, prints a table and writes bench/results/<suite>.json.
// Benchmarks never assert speed; they report it against limits measured in the same run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Benchmark from 'benchmark';

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface Measured {
  /** Median seconds per call. */
  median: number;
  /** Samples taken (each the mean of one Benchmark.js cycle). */
  samples: number;
  /** Relative margin of error (%) reported by Benchmark.js. */
  rme: number;
  /** Minor page faults per call over 10 calls after warm-up (0 when buffers are reused). */
  faultsPerCall: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Times `fn` (synchronous) with Benchmark.js; returns the median of its samples. */
export function measure(name: string, fn: () => void, opts: { maxTime?: number; minSamples?: number } = {}): Measured {
  fn(); // warm-up: first-touch page faults, thread wake-up, lazy init
  const bench = new Benchmark(name, fn, {
    maxTime: opts.maxTime ?? 1.5,
    minSamples: opts.minSamples ?? 5,
    initCount: 1,
  });
  bench.run({ async: false });
  const b = bench as unknown as { error?: Error; stats: { sample: number[]; rme: number } };
  if (b.error) throw b.error;
  const before = process.resourceUsage().minorPageFault;
  for (let i = 0; i < 10; i++) fn();
  const faultsPerCall = (process.resourceUsage().minorPageFault - before) / 10;
  return { median: median(b.stats.sample), samples: b.stats.sample.length, rme: b.stats.rme, faultsPerCall };
}

export type Row = Record<string, string | number>;

export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined): string =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 1 : v >= 1 ? 2 : 3)) : (v ?? '');
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padStart(widths[i]!)).join('  ');
  console.log(`\n${title}`);
  console.log(line(cols));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

export function writeResults(suite: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${suite}.json`);
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
  return path;
}
