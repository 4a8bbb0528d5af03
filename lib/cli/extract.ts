// lib/cli/extract.ts — `merclip extract --clip DIR --manifest FILE.jsonl --out DATA.safetensors`:
// raw utterances (transcripts, frames, WAV files; lib/data/manifest.ts) through the CLIP towers
// and the log-mel front end once, batched, with a progress bar on stderr, into the package's
// dataset file with its provenance (lib/model/extract.ts). `merclip train --data DATA --clip DIR`
// then trains on the features, and the saved model predicts on raw inputs.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';

import { Clip } from '../clip/model.js';
import { writeDataset } from '../data/file.js';
import { MODALITIES } from '../data/batch.js';
import { SPLITS } from '../data/synth.js';
import { extractDataset } from '../model/extract.js';
import { parseIntOption } from './train.js';

function parseEmbedding(v: string): 'projected' | 'pooled' {
  if (v !== 'projected' && v !== 'pooled') throw new InvalidArgumentError('--vision-embedding must be projected or pooled.');
  return v;
}

export function registerExtract(program: Command, out: (s: string) => void): void {
  program
    .command('extract')
    .description('run the CLIP towers and the log-mel front end over raw utterances (a JSON Lines manifest) and write a dataset file')
    .requiredOption('--clip <dir>', 'a Hugging Face CLIP directory (config.json, model.safetensors; e.g. openai/clip-vit-base-patch32)')
    .requiredOption('--manifest <file>', 'JSON Lines: one {"id", "split", "label", "text", "frames", "audio"} per utterance')
    .requiredOption('-o, --out <file>', 'the dataset file to write (.safetensors)')
    .option('--vision-embedding <kind>', 'per-frame embedding: projected (CLIP image embedding) or pooled (before the projection)', parseEmbedding, 'projected')
    .option('--batch-size <n>', 'utterances per tower batch', parseIntOption('--batch-size', 1), 32)
    .option('--quiet', 'no progress bar')
    .option('--json', 'print the summary as JSON')
    .action(async (opts: { clip: string; manifest: string; out: string; visionEmbedding: 'projected' | 'pooled'; batchSize: number; quiet?: boolean; json?: boolean }) => {
      const clip = await Clip.fromPretrained(opts.clip);
      const tty = process.stderr.isTTY === true;
      const bar = opts.quiet || opts.json ? null : new cliProgress.SingleBar({
        format: 'extract {bar} {percentage}% | {value}/{total} utterances | {ups} utterances/s',
        stream: process.stderr, hideCursor: tty, noTTYOutput: !tty, notTTYSchedule: 10_000,
      }, cliProgress.Presets.shades_classic);
      const t0 = performance.now();
      let started = false;
      let result;
      try {
        result = await extractDataset({
          manifest: opts.manifest, clip, clipDir: opts.clip, visionEmbedding: opts.visionEmbedding, batchSize: opts.batchSize,
          onProgress: (done, total) => {
            if (!bar) return;
            if (!started) {
              bar.start(total, 0, { ups: '-' });
              started = true;
            }
            bar.update(done, { ups: (done / ((performance.now() - t0) / 1000)).toFixed(1) });
          },
        });
      } finally {
        if (started) bar?.stop();
      }
      await writeDataset(opts.out, result.splits, result.metadata);
      const seconds = (performance.now() - t0) / 1000;
      const summary = {
        out: opts.out,
        seconds,
        splits: Object.fromEntries(SPLITS.filter((s) => result.splits[s]).map((s) => {
          const sp = result.splits[s]!;
          return [s, { count: sp.count, ...Object.fromEntries(MODALITIES.map((m) => [m, { length: sp[m].length, dim: sp[m].dim, present: sp[m].lengths.filter((l) => l > 0).length }])) }];
        })),
        provenance: result.provenance,
      };
      if (opts.json) {
        out(JSON.stringify(summary, null, 2) + '\n');
        return;
      }
      out(`extracted ${result.provenance.manifest.utterances} utterances → ${opts.out} in ${seconds.toFixed(1)} s\n`);
      for (const [s, info] of Object.entries(summary.splits)) {
        const i = info as Record<string, { length: number; dim: number; present: number }> & { count: number };
        out(`  ${s.padEnd(5)} ${String(i.count).padStart(6)} utterances  ${MODALITIES.map((m) => `${m} [${i[m]!.length}, ${i[m]!.dim}] (${i[m]!.present} with it)`).join('  ')}\n`);
      }
      out(`train on it with: merclip train --data ${opts.out} --clip ${opts.clip}\n`);
    });
}
