// lib/cli/sweep.ts — `merclip sweep`: a training per (grid point, seed) for `merclip worker`s, as
// one BullMQ flow whose parent collects the test metrics into the MMSA table with mean ± std
// (lib/distributed/sweep.ts). --wait follows the runs and prints the tables.
import type { Command } from 'commander';

import { describeUrl, GRID_KEYS, parseGridValue, sweep, type SweepSummary } from '../distributed/index.js';
import { formatMeanStdTable, formatMetricTable } from '../eval/metrics.js';
import { stringifyExact } from '../io/index.js';
import { parseIntOption, parseNumberOption } from './train.js';

function parseSeeds(value: string): number[] {
  const seeds = value.split(',').map((s) => s.trim());
  if (seeds.some((s) => !/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)))) throw new Error('--seeds must be a comma-separated list of non-negative integers');
  return seeds.map(Number);
}

function parseGrid(value: string, prev: Record<string, Array<number | string>> = {}): Record<string, Array<number | string>> {
  const m = /^([a-z-]+)=(.+)$/.exec(value.trim());
  if (!m) throw new Error(`--grid: expected KEY=v1,v2,… (keys: ${Object.keys(GRID_KEYS).join(', ')}), received "${value}"`);
  if (m[1]! in prev) throw new Error(`--grid: ${m[1]} is given twice`);
  return { ...prev, [m[1]!]: m[2]!.split(',').map((v) => parseGridValue(m[1]!, v.trim())) };
}

export function formatSweep(s: SweepSummary): string {
  const lines: string[] = [];
  for (const c of s.configs) {
    lines.push(`${c.name}: ${c.runs.length} run${c.runs.length === 1 ? '' : 's'} (seeds ${c.runs.map((r) => r.seed).join(', ')}), test metrics at the best epoch${c.runs.length > 1 ? ' (mean ± std)' : ''}:`);
    const tests = c.runs.map((r) => r.test).filter((t) => t !== null);
    if (c.testMeanStd && tests.length > 1) lines.push(formatMeanStdTable(c.testMeanStd));
    else if (tests.length === 1) lines.push(formatMetricTable(tests[0]!));
    else lines.push('(no test split)');
    lines.push(`best epochs: ${c.runs.map((r) => r.bestEpoch).join(', ')}; runs in ${c.runs.map((r) => r.outDir).join(', ')}`, '');
  }
  for (const f of s.failures) lines.push(`failed: ${f.configName} seed ${f.seed}: ${f.error}`);
  lines.push(`summary: ${s.out}/sweep.json`);
  return lines.join('\n');
}

export function registerSweep(program: Command, out: (s: string) => void): void {
  program
    .command('sweep')
    .description('multi-seed / grid training on many machines: a BullMQ flow of trainings for `merclip worker`s; the parent collects mean ± std of the test metrics')
    .requiredOption('--data <file>', 'dataset file (train, valid, test), on storage every worker sees')
    .requiredOption('--seeds <list>', 'seeds, comma-separated', parseSeeds)
    .option('--grid <key=values>', `a grid axis, e.g. lr=1e-3,3e-4 (repeat for more; keys: ${Object.keys(GRID_KEYS).join(', ')})`, parseGrid)
    .requiredOption('--out <dir>', 'output directory (OUT/<grid point>/seed-<seed>/, OUT/sweep.json), on storage every worker sees')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--config <preset|file>', 'model: "tiny", "paper" or a config.json', 'tiny')
    .option('--epochs <n>', 'the most epochs', parseIntOption('--epochs', 1))
    .option('--batch-size <n>', 'batch size', parseIntOption('--batch-size', 1))
    .option('--lr <x>', 'peak learning rate', parseNumberOption('--lr'))
    .option('--patience <n>', 'early-stopping patience (0: off)', parseIntOption('--patience', 0))
    .option('--checkpoint-every <n>', 'also checkpoint every N steps', parseIntOption('--checkpoint-every', 1))
    .option('--attempts <n>', 'attempts per training', parseIntOption('--attempts', 1), 3)
    .option('--wait', 'follow the runs and print the tables')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { data: string; seeds: number[]; grid?: Record<string, Array<number | string>>; out: string; queue: string; config: string; epochs?: number; batchSize?: number; lr?: number; patience?: number; checkpointEvery?: number; attempts: number; wait?: boolean; json?: boolean }) => {
      const run = await sweep({
        queue: opts.queue, data: opts.data, seeds: opts.seeds, out: opts.out, config: opts.config, attempts: opts.attempts,
        ...(opts.grid ? { grid: opts.grid } : {}), ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
        ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}), ...(opts.lr !== undefined ? { lr: opts.lr } : {}),
        ...(opts.patience !== undefined ? { patience: opts.patience } : {}), ...(opts.checkpointEvery !== undefined ? { checkpointEvery: opts.checkpointEvery } : {}),
      });
      try {
        const head = `sweep ${run.id}: ${run.runs.length} trainings on ${describeUrl(opts.queue)}${run.added ? '' : ' (already enqueued)'}`;
        if (!opts.wait) {
          out(opts.json ? JSON.stringify({ id: run.id, runs: run.runs, added: run.added }) + '\n' : `${head}\nrun \`merclip worker --queue ${opts.queue}\` on each machine; the same command with --wait follows the runs and prints the tables\n`);
          return;
        }
        if (!opts.json) out(head + '\n');
        const summary = await run.wait();
        out(opts.json ? stringifyExact(summary) + '\n' : formatSweep(summary) + '\n');
        if (summary.failures.length > 0) throw new Error(`${summary.failures.length} of ${run.runs.length} trainings failed (see above)`);
      } finally {
        await run.close();
      }
    });
}
