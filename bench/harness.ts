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

/**
 * Two implementations of the same calls, for measure() to time against each other call by call
 * (bench/portableAB.ts: the native and the portable addon in one process). select(i) makes
 * implementation i the one the kernels call; record(name, rounds) receives each row's two
 * series of per-round block times (seconds per call; block r of both ran back to back).
 */
export interface Alternator {
  select(i: 0 | 1): void;
  record(name: string, rounds: [number[], number[]]): void;
}
let alternator: Alternator | undefined;
/** Installs (or, with undefined, removes) the A/B hook measure() uses instead of Benchmark.js. */
export function setAlternator(a: Alternator | undefined): void {
  alternator = a;
}

/**
 * measure() under an Alternator: rounds of one block per implementation, the order swapped every
 * round (A B, B A, …), so a slow minute of a shared host lands on both and each round's pair of
 * blocks is a same-moment comparison. A block is enough calls for ~20 ms, after one untimed call
 * when calls are short (it absorbs the switch: the other addon's pool threads may still be
 * spinning). At least 20 rounds, and until each implementation has run maxTime seconds (at most
 * 400 rounds). Returns implementation 0's figures (the median of its block times), so the suites
 * build their rows as usual.
 */
function measureAlternating(a: Alternator, name: string, fn: () => void, maxTime: number): Measured {
  const rounds: [number[], number[]] = [[], []];
  const time = (): number => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  a.select(0);
  const once = time();
  a.select(1);
  time();
  const inner = Math.max(1, Math.min(50, Math.round(0.02 / Math.max(once, 1e-6))));
  const spent = [0, 0];
  for (let round = 0; round < 400 && (round < 20 || Math.min(spent[0]!, spent[1]!) < maxTime); round++) {
    for (const i of (round % 2 === 0 ? [0, 1] : [1, 0]) as Array<0 | 1>) {
      a.select(i);
      if (once < 5e-3) fn();
      let block = 0;
      for (let c = 0; c < inner; c++) block += time();
      rounds[i].push(block / inner);
      spent[i]! += block;
    }
  }
  a.select(0);
  a.record(name, rounds);
  return { median: median(rounds[0]), samples: rounds[0].length, rme: 0, faultsPerCall: faultsPerCall(fn) };
}

/** Minor page faults per call over 10 calls (0 when the call reuses its buffers). */
function faultsPerCall(fn: () => void): number {
  const before = process.resourceUsage().minorPageFault;
  for (let i = 0; i < 10; i++) fn();
  return (process.resourceUsage().minorPageFault - before) / 10;
}

/** Times `fn` (synchronous) with Benchmark.js; returns the median of its samples. */
export function measure(name: string, fn: () => void, opts: { maxTime?: number; minSamples?: number } = {}): Measured {
  if (alternator) return measureAlternating(alternator, name, fn, opts.maxTime ?? 1.5);
  fn(); // warm-up: first-touch page faults, thread wake-up, lazy init
  const bench = new Benchmark(name, fn, {
    maxTime: opts.maxTime ?? 1.5,
    minSamples: opts.minSamples ?? 5,
    initCount: 1,
  });
  bench.run({ async: false });
  const b = bench as unknown as { error?: Error; stats: { sample: number[]; rme: number } };
  if (b.error) throw b.error;
  return { median: median(b.stats.sample), samples: b.stats.sample.length, rme: b.stats.rme, faultsPerCall: faultsPerCall(fn) };
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
