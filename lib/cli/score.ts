// lib/cli/score.ts — `merclip score`: enqueue a dataset's shards for `merclip worker`s (BullMQ on
// Redis); with --wait, a progress bar from the shards' job states and, at the end, the merged
// results file (lib/distributed/score.ts). The model, the data and RESULTS must be on storage
// every worker sees, by the same path.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';

import type { SplitName } from '../data/synth.js';
import { describeUrl, scoreDistributed, type ScoreProgress } from '../distributed/index.js';
import { parseIntOption } from './train.js';

function parseSplit(value: string): SplitName {
  if (!['train', 'valid', 'test'].includes(value)) throw new Error(`--split must be train, valid or test, received "${value}"`);
  return value as SplitName;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerScore(program: Command, out: (s: string) => void): void {
  program
    .command('score')
    .description('score a dataset on many machines: enqueue its shards for `merclip worker`s (BullMQ on Redis); --wait follows them and merges the results')
    .requiredOption('--model <dir>', 'model directory (config.json + model.safetensors), on storage every worker sees')
    .requiredOption('--data <file>', 'dataset file, on storage every worker sees (repeat for several files)', collect)
    .option('--split <name>', 'train, valid or test', parseSplit, 'test' as SplitName)
    .requiredOption('--out <results>', 'results file: .jsonl ({ id, score, probs, label } per line) or .safetensors; the shards go to RESULTS.parts/')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--shard-size <n>', 'samples per job', parseIntOption('--shard-size', 1), 256)
    .option('--batch-size <n>', 'predict() batch size in a shard', parseIntOption('--batch-size', 1), 32)
    .option('--attempts <n>', 'attempts per shard (data errors fail at once)', parseIntOption('--attempts', 1), 3)
    .option('--wait', 'follow the shards (progress bar) and merge their results into --out')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { model: string; data: string[]; split: SplitName; out: string; queue: string; shardSize: number; batchSize: number; attempts: number; wait?: boolean; json?: boolean }) => {
      const run = await scoreDistributed({ queue: opts.queue, model: opts.model, data: opts.data, split: opts.split, out: opts.out, shardSize: opts.shardSize, batchSize: opts.batchSize, attempts: opts.attempts });
      try {
        const enq = `${run.shards.length} shards of ${run.samples} samples on ${describeUrl(opts.queue)}: ${run.added} enqueued, ${run.retried} retried, the others already queued or done`;
        if (!opts.wait) {
          out(opts.json ? JSON.stringify({ shards: run.shards.length, samples: run.samples, added: run.added, retried: run.retried }) + '\n'
            : `${enq}\nrun \`merclip worker --queue ${opts.queue}\` on each machine; \`merclip score\` with the same arguments and --wait follows them and writes ${opts.out}\n`);
          return;
        }
        if (!opts.json) out(enq + '\n');
        const tty = process.stderr.isTTY === true;
        const bar = new cliProgress.SingleBar({
          format: 'score {bar} {value}/{total} shards | {active} active | {failed} failed',
          stream: process.stderr, hideCursor: tty, noTTYOutput: false,
        }, cliProgress.Presets.shades_classic);
        let started = false;
        const onProgress = (p: ScoreProgress): void => {
          if (opts.json || !tty) return;
          if (!started) {
            bar.start(p.total, 0, { active: 0, failed: 0 });
            started = true;
          }
          bar.update(p.completed + p.failed, { active: p.active, failed: p.failed });
        };
        try {
          const summary = await run.wait({ onProgress });
          if (started) bar.stop();
          out(opts.json ? JSON.stringify(summary) + '\n' : `wrote ${summary.out} (${summary.samples} samples from ${summary.shards} shards, in dataset order)\n`);
        } finally {
          if (started) bar.stop();
        }
      } finally {
        await run.close();
      }
    });
}
