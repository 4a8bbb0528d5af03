// lib/distributed/index.ts — distributed batch scoring and training sweeps on BullMQ + Redis.
export { scoreDistributed, ShardsFailedError, type ScoreOptions, type ScoreRun, type ScoreProgress, type ScoreSummary, type FailedShard } from './score.js';
export { runWorker, type WorkerOptions, type WorkerHandle, type WorkerEvent } from './worker.js';
export { sweep, GRID_KEYS, parseGridValue, type SweepOptions, type SweepRun, type SweepProgress, type SweepSummary, type SweepRunSpec } from './sweep.js';
export { checkRedis, RedisUnavailableError, QUEUES } from './connection.js';
export { readResults, writeResults, resultsKind, type ResultRow, type ResultsFile } from './results.js';
export type { TrainJobResult, SweepTrainParams } from './training.js';
