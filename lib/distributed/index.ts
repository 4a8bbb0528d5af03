// lib/distributed/index.ts — distributed batch scoring and training sweeps on BullMQ + Redis.
// scoreDistributed / runWorker / sweep load BullMQ (and ioredis) on their first call, so importing
// the package does not.
import type { ScoreOptions, ScoreRun } from './score.js';
import type { SweepOptions, SweepRun } from './sweep.js';
import type { WorkerHandle, WorkerOptions } from './worker.js';

/** Enqueues a scoring run (score.ts); close() the returned run. */
export async function scoreDistributed(opts: ScoreOptions): Promise<ScoreRun> {
  return (await import('./score.js')).scoreDistributed(opts);
}

/** Starts a worker on the queues (worker.ts); close() it. */
export async function runWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  return (await import('./worker.js')).runWorker(opts);
}

/** Enqueues a training sweep (sweep.ts); close() the returned run. */
export async function sweep(opts: SweepOptions): Promise<SweepRun> {
  return (await import('./sweep.js')).sweep(opts);
}

/** One connection attempt: resolves when Redis answers, else RedisUnavailableError. */
export async function checkRedis(url: string, timeoutMs?: number): Promise<void> {
  return (await import('./connection.js')).checkRedis(url, timeoutMs);
}

export { QUEUES, RedisUnavailableError, ShardsFailedError, describeUrl, type FailedShard } from './common.js';
export { readResults, writeResults, resultsKind, type ResultRow, type ResultsFile } from './results.js';
export { GRID_KEYS, parseGridValue, type SweepTrainParams, type TrainJobResult } from './training.js';
export type { ScoreOptions, ScoreRun, ScoreProgress, ScoreSummary } from './score.js';
export type { WorkerOptions, WorkerHandle, WorkerEvent } from './worker.js';
export type { SweepOptions, SweepRun, SweepProgress, SweepSummary, SweepRunSpec } from './sweep.js';
