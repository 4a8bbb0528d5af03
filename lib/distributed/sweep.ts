// lib/distributed/sweep.ts — sweep(): a BullMQ flow of trainings, one child job per (grid point,
// seed) on the train queue, and a parent on the sweep queue that runs when they are all done and
// collects their test metrics into the MMSA table with mean ± std per grid point (OUT/sweep.json).
//
// Layout: OUT/<grid point>/seed-<seed>/ is each run's directory (lib/train's outputs: checkpoint,
// best/, metrics.jsonl, …); the grid point's name is "default" without a grid, else its values
// joined, e.g. "lr=0.001_batch-size=16". A run retried after its worker died resumes from its
// checkpoint (training.ts). A child that fails for good is recorded in the summary (the parent
// still runs: ignoreDependencyOnFailure), so one bad run does not hide the others.
//
// The sweep key (a hash of the data file, the config, the seeds, the grid, the options and OUT)
// names the jobs: sweep-<key> and sweep-<key>-<point>-<seed>. Enqueuing the same sweep again adds
// nothing while it runs or after it succeeded; after a sweep with failed runs it is enqueued
// afresh (its finished runs then return at once: their directories hold finished runs). wait()
// adds the flow again if it vanished from Redis (a restart without persistence).
import { createHash } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { FlowProducer, Queue } from 'bullmq';

import { readDatasetInfo } from '../data/file.js';
import type { MetricsMeanStd } from '../eval/metrics.js';
import { parseExact } from '../io/index.js';
import { bullConnection, checkRedis, QUEUES } from './connection.js';
import { GRID_KEYS, type SweepTrainParams, type TrainJobData, type TrainJobResult } from './training.js';

export { GRID_KEYS, parseGridValue } from './training.js';

export interface SweepOptions extends SweepTrainParams {
  queue: string;
  /** Dataset file (train, valid and test splits), on storage every worker sees. */
  data: string;
  seeds: number[];
  /** Grid: key (GRID_KEYS) → values; every combination is trained with every seed. */
  grid?: Record<string, Array<number | string>>;
  /** Output directory, on storage every worker sees. */
  out: string;
  /** 'tiny' (default), 'paper' or a config.json path. */
  config?: string;
  /** Attempts per training (default 3). */
  attempts?: number;
  prefix?: string;
}

export interface SweepRunSpec {
  jobId: string;
  seed: number;
  configName: string;
  params: Record<string, number | string>;
  outDir: string;
}

export interface SweepJobData {
  out: string;
  seeds: number[];
  configs: Array<{ name: string; params: Record<string, number | string> }>;
  runs: SweepRunSpec[];
}

export interface SweepSummary {
  out: string;
  configs: Array<{ name: string; params: Record<string, number | string>; runs: TrainJobResult[]; testMeanStd: MetricsMeanStd | null }>;
  failures: Array<{ seed: number; configName: string; error: string }>;
}

export interface SweepProgress {
  total: number;
  completed: number;
  failed: number;
  active: number;
  /** Whether the parent (the collection) has run. */
  done: boolean;
}

export interface SweepRun {
  readonly id: string;
  readonly runs: readonly SweepRunSpec[];
  /** False when the sweep was already enqueued (or done). */
  readonly added: boolean;
  progress(): Promise<SweepProgress>;
  wait(opts?: { onProgress?: (p: SweepProgress) => void; pollMs?: number }): Promise<SweepSummary>;
  close(): Promise<void>;
}

function gridPoints(grid: Record<string, Array<number | string>>): Array<{ name: string; params: Record<string, number | string> }> {
  const keys = Object.keys(grid);
  let points: Array<Record<string, number | string>> = [{}];
  for (const k of keys) {
    const vals = grid[k]!;
    if (vals.length === 0) throw new RangeError(`--grid ${k}: no values`);
    points = points.flatMap((p) => vals.map((v) => ({ ...p, [k]: v })));
  }
  return points.map((params) => ({ name: keys.length === 0 ? 'default' : keys.map((k) => `${k}=${params[k]}`).join('_'), params }));
}

/** Enqueues a sweep (see the header); the returned run holds Redis connections: close() it. */
export async function sweep(opts: SweepOptions): Promise<SweepRun> {
  if (!Array.isArray(opts.seeds) || opts.seeds.length === 0 || opts.seeds.some((s) => !Number.isSafeInteger(s) || s < 0)) throw new RangeError('sweep: seeds must be a non-empty list of non-negative integers');
  if (new Set(opts.seeds).size !== opts.seeds.length) throw new RangeError('sweep: the seeds repeat');
  const data = resolve(opts.data);
  const info = await readDatasetInfo(data);
  if (!info.splits.train || !info.splits.valid) throw new Error(`${data}: training needs a train and a valid split (it has ${info.splitNames.join(', ')})`);
  const out = resolve(opts.out);
  const config = opts.config === undefined || opts.config === 'tiny' || opts.config === 'paper' ? (opts.config ?? 'tiny') : resolve(opts.config);
  const base: SweepTrainParams = {};
  for (const k of ['epochs', 'batchSize', 'lr', 'weightDecay', 'patience', 'warmupFloor', 'monitor', 'checkpointEvery', 'drop'] as const) {
    if (opts[k] !== undefined) (base as Record<string, unknown>)[k] = opts[k];
  }
  const points = gridPoints(opts.grid ?? {});
  const s = statSync(data);
  const cs = config === 'tiny' || config === 'paper' ? config : `${config}:${statSync(config).mtimeMs}`;
  const key = createHash('sha256').update(JSON.stringify([data, s.size, s.mtimeMs, cs, opts.seeds, points, base, out])).digest('hex').slice(0, 24);
  const parentId = `sweep-${key}`;
  const runs: SweepRunSpec[] = [];
  const children = points.flatMap((p, pi) => opts.seeds.map((seed) => {
    const train: SweepTrainParams = { ...base };
    for (const [k, v] of Object.entries(p.params)) (train as Record<string, unknown>)[GRID_KEYS[k]!] = v;
    const spec: SweepRunSpec = { jobId: `${parentId}-${pi}-${seed}`, seed, configName: p.name, params: p.params, outDir: join(out, p.name, `seed-${seed}`) };
    runs.push(spec);
    const d: TrainJobData = { sweep: key, data, config, seed, configName: p.name, params: p.params, train, outDir: spec.outDir };
    return { name: 'train', queueName: QUEUES.train, data: d, opts: { jobId: spec.jobId, attempts: opts.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 }, ignoreDependencyOnFailure: true } };
  }));
  const parentData: SweepJobData = { out, seeds: opts.seeds, configs: points, runs };
  await checkRedis(opts.queue);
  mkdirSync(out, { recursive: true });
  const connection = bullConnection(opts.queue);
  const qopts = { connection, ...(opts.prefix ? { prefix: opts.prefix } : {}) };
  const flow = new FlowProducer(qopts);
  const parentQ = new Queue(QUEUES.sweep, qopts);
  const trainQ = new Queue(QUEUES.train, qopts);
  flow.on('error', () => { /* reconnects */ });
  for (const q of [parentQ, trainQ]) q.on('error', () => { /* reconnects */ });
  const addFlow = () => flow.add({ name: 'sweep', queueName: QUEUES.sweep, data: parentData, opts: { jobId: parentId }, children });
  const closeAll = async (): Promise<void> => {
    await Promise.all([flow.close(), parentQ.close(), trainQ.close()]);
  };
  let added = false;
  try {
    const state = await parentQ.getJobState(parentId);
    let redo = state === 'unknown' || state === 'failed';
    if (state === 'completed') {
      const job = await parentQ.getJob(parentId);
      const summary = job?.returnvalue ? parseExact((job.returnvalue as { json: string }).json) as SweepSummary : null;
      redo = !summary || summary.failures.length > 0;
    }
    if (redo) {
      if (state !== 'unknown') await parentQ.remove(parentId, { removeChildren: true });
      for (const r of runs) await trainQ.remove(r.jobId).catch(() => 0);
      await addFlow();
      added = true;
    }
  } catch (err) {
    await closeAll();
    throw err;
  }

  async function progress(): Promise<SweepProgress> {
    let completed = 0;
    let failed = 0;
    let active = 0;
    await Promise.all(runs.map(async (r) => {
      const st = await trainQ.getJobState(r.jobId);
      if (st === 'completed') completed++;
      else if (st === 'failed') failed++;
      else if (st === 'active') active++;
    }));
    const ps = await parentQ.getJobState(parentId);
    return { total: runs.length, completed, failed, active, done: ps === 'completed' || ps === 'failed' };
  }

  return {
    id: parentId,
    runs,
    added,
    progress,
    async wait(w = {}) {
      const pollMs = w.pollMs ?? 500;
      for (;;) {
        try {
          const st = await parentQ.getJobState(parentId);
          if (st === 'completed') {
            const job = await parentQ.getJob(parentId);
            if (job?.returnvalue) return parseExact((job.returnvalue as { json: string }).json) as SweepSummary;
          } else if (st === 'failed') {
            const job = await parentQ.getJob(parentId);
            throw new Error(`sweep ${parentId}: collecting the results failed: ${job?.failedReason ?? 'no reason recorded'}`);
          } else if (st === 'unknown') {
            await addFlow(); // vanished from Redis: the runs resume from their checkpoints
          }
          w.onProgress?.(await progress());
        } catch (err) {
          if ((err as Error).message.startsWith(`sweep ${parentId}`)) throw err;
          // Redis away: keep trying
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
    close: closeAll,
  };
}
