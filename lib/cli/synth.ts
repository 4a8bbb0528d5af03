// lib/cli/synth.ts — `merclip synth --out FILE [--seed N] [--sizes train,valid,test] [--json]`:
// generates the synthetic MOSI-shaped dataset (lib/data/synth.ts; MOSI shapes text [50, 768],
// audio [375, 5], vision [500, 20], default sizes 1284/229/686) and writes it as the package's
// dataset file (lib/data/file.ts) with metadata `source` = "synthetic seed=N" and `synthetic` =
// JSON of the generator's options. Prints one line per split (count, shapes, label mean/std) and
// the file size, or a JSON report with --json. Bad options throw; the CLI's main turns that into
// one line and exit code 1. The default size needs about 440 MB of memory and a few seconds.
import { statSync } from 'node:fs';

import type { Command } from 'commander';

import {
  MODALITIES,
  MOSI_SIZES,
  SPLITS,
  generateSynthetic,
  writeDataset,
  type ModalityName,
  type SplitName,
  type SyntheticGenerator,
} from '../data/index.js';

export interface SynthSplitReport {
  count: number;
  /** [N, L, D] per modality. */
  shapes: Record<ModalityName, [number, number, number]>;
  labelMean: number;
  labelStd: number;
}

export interface SynthReport {
  file: string;
  bytes: number;
  seed: number;
  sizes: Record<SplitName, number>;
  splits: Record<SplitName, SynthSplitReport>;
}

/** Parses --seed: a safe integer (decimal, optional sign). */
export function parseSeed(raw: string): number {
  const s = raw.trim();
  if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new Error(`synth: --seed must be a safe integer, got ${JSON.stringify(raw)}`);
  }
  return Number(s);
}

/** Parses --sizes "train,valid,test": three non-negative integers, train ≥ 1. */
export function parseSizes(raw: string): Record<SplitName, number> {
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.length !== 3) {
    throw new Error(`synth: --sizes must be three comma-separated integers train,valid,test, got ${JSON.stringify(raw)}`);
  }
  const out = {} as Record<SplitName, number>;
  SPLITS.forEach((s, i) => {
    const p = parts[i]!;
    const v = Number(p);
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(v)) {
      throw new Error(`synth: --sizes: the ${s} size must be a non-negative integer, got ${JSON.stringify(p)}`);
    }
    out[s] = v;
  });
  if (out.train < 1) throw new Error('synth: --sizes: the train size must be at least 1');
  return out;
}

/** The generator's options as recorded in the file's `synthetic` metadata (directions left out). */
export function generatorOptions(gen: SyntheticGenerator, sizes: Record<SplitName, number>): Record<string, unknown> {
  const { directions: _directions, ...rest } = gen;
  return { ...rest, sizes };
}

function meanStd(a: Float32Array): { mean: number; std: number } {
  if (a.length === 0) return { mean: NaN, std: NaN };
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  const mean = s / a.length;
  let v = 0;
  for (let i = 0; i < a.length; i++) v += (a[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / a.length) };
}

/** Generates the synthetic set and writes it to `file`; returns the report. */
export async function synthToFile(file: string, seed: number, sizes: Record<SplitName, number> = { ...MOSI_SIZES }): Promise<SynthReport> {
  const ds = generateSynthetic({ seed, sizes });
  await writeDataset(file, ds.splits, {
    source: `synthetic seed=${seed}`,
    synthetic: JSON.stringify(generatorOptions(ds.generator, sizes)),
  });
  const splits = {} as Record<SplitName, SynthSplitReport>;
  for (const s of SPLITS) {
    const sp = ds.splits[s];
    const shapes = {} as Record<ModalityName, [number, number, number]>;
    for (const m of MODALITIES) shapes[m] = [sp.count, sp[m].length, sp[m].dim];
    const { mean, std } = meanStd(sp.labels);
    splits[s] = { count: sp.count, shapes, labelMean: mean, labelStd: std };
  }
  return { file, bytes: statSync(file).size, seed, sizes, splits };
}

function fmtBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function formatSynth(r: SynthReport): string {
  const lines: string[] = [];
  const cw = Math.max(...SPLITS.map((s) => String(r.splits[s].count).length));
  for (const s of SPLITS) {
    const sp = r.splits[s];
    const shapes = MODALITIES.map((m) => `${m} [${sp.shapes[m].join(', ')}]`).join('  ');
    const label = sp.count > 0 ? `labels mean ${sp.labelMean.toFixed(3)} std ${sp.labelStd.toFixed(3)}` : 'labels (none)';
    lines.push(`${s.padEnd(5)}  ${String(sp.count).padStart(cw)} samples  ${shapes}  ${label}`);
  }
  lines.push(`wrote ${r.file} (${r.bytes} bytes, ${fmtBytes(r.bytes)}; seed ${r.seed})`);
  return lines.join('\n');
}

export function registerSynth(program: Command, out: (s: string) => void): void {
  program
    .command('synth')
    .description('generate the synthetic MOSI-shaped dataset (planted cross-modal signal) and write it as a dataset file')
    .requiredOption('--out <file>', 'the dataset file to write (.safetensors)')
    .option('--seed <n>', 'random seed (a safe integer)', '1')
    .option('--sizes <train,valid,test>', 'samples per split', `${MOSI_SIZES.train},${MOSI_SIZES.valid},${MOSI_SIZES.test}`)
    .option('--json', 'print the report as JSON')
    .action(async (opts: { out: string; seed: string; sizes: string; json?: boolean }) => {
      const seed = parseSeed(opts.seed);
      const sizes = parseSizes(opts.sizes);
      const report = await synthToFile(opts.out, seed, sizes);
      out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatSynth(report) + '\n');
    });
}
