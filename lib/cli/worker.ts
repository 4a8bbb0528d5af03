// lib/cli/worker.ts — `merclip worker`: serves the score, train and sweep queues (BullMQ on Redis)
// until SIGINT/SIGTERM, then lets its active jobs finish and exits. One line per job on stdout.
import type { Command } from 'commander';

import { describeUrl, QUEUES, runWorker } from '../distributed/index.js';
import { parseIntOption } from './train.js';

function parseQueues(value: string): Array<keyof typeof QUEUES> {
  const qs = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const q of qs) if (!(q in QUEUES)) throw new Error(`--queues: unknown queue "${q}" (score, train, sweep)`);
  return qs as Array<keyof typeof QUEUES>;
}

export function registerWorker(program: Command, out: (s: string) => void): void {
  program
    .command('worker')
    .description('run scoring shards and sweep trainings from a Redis queue (run one per machine, or several)')
    .requiredOption('--queue <url>', 'Redis URL, e.g. redis://127.0.0.1:6379')
    .option('--concurrency <n>', 'shards at once', parseIntOption('--concurrency', 1), 1)
    .option('--queues <list>', 'which queues to serve (score,train,sweep)', parseQueues)
    .option('--lock-duration <ms>', "a job's lock: a dead worker's job is taken over after this", parseIntOption('--lock-duration', 100), 30_000)
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs', parseIntOption('--stalled-interval', 100), 30_000)
    .option('--quiet', 'no line per job')
    .action(async (opts: { queue: string; concurrency: number; queues?: Array<keyof typeof QUEUES>; lockDuration: number; stalledInterval: number; quiet?: boolean }) => {
      const log = (s: string): void => {
        if (!opts.quiet) out(s + '\n');
      };
      const handle = await runWorker({
        queue: opts.queue, concurrency: opts.concurrency, lockDuration: opts.lockDuration, stalledInterval: opts.stalledInterval,
        ...(opts.queues ? { queues: opts.queues } : {}),
        onEvent: (e) => {
          if (e.type === 'completed') log(`done ${e.queue} ${e.jobId}: ${e.message}`);
          else if (e.type === 'failed') log(`${e.final ? 'failed' : 'will retry'} ${e.queue} ${e.jobId}: ${e.error}`);
          else log(`redis: ${e.error}`);
        },
      });
      out(`merclip worker ${process.pid}: ready on ${describeUrl(opts.queue)} (${(opts.queues ?? ['score', 'train', 'sweep']).join(', ')}; concurrency ${opts.concurrency})\n`);
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      log(`${signal}: finishing the active jobs`);
      await handle.close();
    });
}
