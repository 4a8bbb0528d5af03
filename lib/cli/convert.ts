// lib/cli/convert.ts — `merclip convert FILE.pkl --out DATA.safetensors [--json] [--zero-nonfinite]`:
// import an MMSA feature pickle (aligned_50.pkl / unaligned_50.pkl) with the safe unpickler and
// MMSA's loader semantics (lib/data/mmsa.ts), then write the package's dataset file
// (lib/data/file.ts). Prints per-split sample counts, shapes [L, D] with where the lengths came
// from, what was skipped and what was changed. A bad or hostile pickle is one error line (main
// prints it) and exit code 1; nothing is written then.
import { basename } from 'node:path';

import type { Command } from 'commander';

import { writeDataset } from '../data/file.js';
import { importMmsaPickle, mmsaMetadata, type MmsaImport } from '../data/mmsa.js';
import { MODALITIES } from '../data/batch.js';
import { SPLITS } from '../data/synth.js';

export interface ConvertReport {
  file: string;
  out: string;
  aligned: boolean;
  splits: MmsaImport['info'];
  skipped: string[];
  notes: string[];
}

export function formatConvert(r: ConvertReport): string {
  const rows: string[][] = [['split', 'samples', ...MODALITIES.map((m) => `${m} [L, D] (lengths)`)]];
  for (const s of SPLITS) {
    const info = r.splits[s];
    if (!info) continue;
    rows.push([s, String(info.count), ...MODALITIES.map((m) => {
      const x = info.modalities[m];
      return `[${x.length}, ${x.dim}] (${x.lengthsFrom})`;
    })]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = [
    `converted ${r.file} → ${r.out} (${r.aligned ? 'aligned' : 'unaligned'})`,
    '',
    ...rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')),
    '',
  ];
  if (r.skipped.length === 0) lines.push('skipped: nothing');
  else {
    lines.push('skipped:');
    for (const s of r.skipped) lines.push(`  ${s}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

export function registerConvert(program: Command, out: (s: string) => void): void {
  program
    .command('convert')
    .description('convert an MMSA feature pickle (aligned_50.pkl / unaligned_50.pkl) to a merclip dataset file')
    .argument('<file>', 'the MMSA pickle')
    .requiredOption('-o, --out <file>', 'the dataset file to write (.safetensors)')
    .option('--json', 'print the report as JSON')
    .option('--zero-nonfinite', 'set NaN/Inf feature values to 0 instead of failing')
    .action(async (file: string, opts: { out: string; json?: boolean; zeroNonfinite?: boolean }) => {
      const result = await importMmsaPickle(file, { zeroNonFinite: opts.zeroNonfinite === true });
      await writeDataset(opts.out, result.splits, mmsaMetadata(result, file));
      const report: ConvertReport = {
        file: basename(file),
        out: opts.out,
        aligned: result.aligned,
        splits: result.info,
        skipped: result.skipped,
        notes: result.notes,
      };
      out(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatConvert(report) + '\n');
    });
}
