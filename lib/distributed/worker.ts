// lib/distributed/worker.ts — runWorker(): one process's share of the work on all three queues.
//
// - score (a shard per job, `concurrency` at a time), processed in this process: the model is
//   loaded once per worker (again only when its files change) and shared by the concurrent shards;
//   predict() runs on the model's own worker thread, so the event loop stays free to renew job
//   locks — except while MerClip.load runs (about 2 s for the tiny preset, synchronous in parts):
//   the lock duration must exceed a model's load time (the 30 s default does). The dataset file's split is read once and kept
//   (the last two files). The shard's results are written atomically to its file (results.ts); a
//   shard whose file already records its key is not recomputed. Data errors (a corrupt or
//   incompatible dataset file, non-finite features) fail the job at once (UnrecoverableError: no
//   retry can fix them), other errors are retried up to the job's attempts.
// - train (a training per job, one at a time): a sandboxed processor in a worker thread
//   (trainProcessor.ts).
// - sweep (a sweep's parent job, run when all its trainings are done): collects the children's
//   results, the mean ± std of their test metrics per grid point, writes OUT/sweep.json.
// A worker that dies loses its job locks; after `lockDuration` another worker's stalled-job check
// (every `stalledInterval`) puts the job back in the queue, and it runs again (a training resumes
// from its checkpoint). close() lets the active jobs finish, then disconnects.
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

import { type Job, UnrecoverableError, Worker } from 'bullmq';

import { packageRoot } from '../backend/index.js';
import type { DataSplit } from '../data/batch.js';
import { DatasetFileError, readDataset } from '../data/file.js';
import { meanStd } from '../eval/metrics.js';
import { parseExact, SafetensorsError, stringifyExact, writeFileAtomic } from '../io/index.js';
import { MODALITIES } from '../model/config.js';
import { MerClip } from '../model/merclip.js';
import type { Sample } from '../model/predict.js';
import { bullConnection, checkRedis, QUEUES } from './connection.js';
import { writeResults } from './results.js';
import { shardDone, type ShardJobData, type ShardResult } from './shards.js';
import type { SweepJobData, SweepSummary } from './sweep.js';
import type { TrainJobResult } from './training.js';

export interface WorkerOptions {
  /** redis://HOST:PORT */
  queue: string;
  /** Shards processed at once (default 1). */
  concurrency?: number;
  /** Trainings run at once (default 1). */
  trainConcurrency?: number;
  /** How long a job's lock lasts without renewal (ms, default 30000): a dead worker's job is taken over after this. */
  lockDuration?: number;
  /** How often this worker looks for stalled jobs (ms, default 30000). */
  stalledInterval?: number;
  /** How many times a job may stall before it fails (default 3). */
  maxStalledCount?: number;
  /** BullMQ key prefix (default "bull"). */
  prefix?: string;
  /** Which queues to serve (default all three). */
  queues?: Array<keyof typeof QUEUES>;
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'completed'; queue: string; jobId: string; message: string }
  | { type: 'failed'; queue: string; jobId: string; error: string; final: boolean }
  | { type: 'error'; error: string };

export interface WorkerHandle {
  /** Stops taking jobs, lets the active ones finish, disconnects and closes the models. */
  close(): Promise<void>;
}

function stampOf(files: string[]): string {
  return files.map((f) => {
    const s = statSync(f);
    return `${s.size}:${s.mtimeMs}`;
  }).join('|');
}

/** Samples [start, end) of a split as predict() takes them (views, no copies). */
export function samplesOf(split: DataSplit, start: number, end: number): Sample[] {
  const out: Sample[] = [];
  for (let i = start; i < end; i++) {
    const s: Sample = {};
    for (const m of MODALITIES) {
      const md = split[m];
      const row = md.length * md.dim;
      s[m] = { features: md.features.subarray(i * row, (i + 1) * row), length: md.lengths[i]! };
    }
    out.push(s);
  }
  return out;
}

function isDataError(err: unknown): boolean {
  return err instanceof DatasetFileError || err instanceof SafetensorsError || err instanceof RangeError || err instanceof TypeError;
}

function trainProcessorPath(): string {
  const here = fileURLToPath(new URL('./trainProcessor.js', import.meta.url));
  // from the sources (tsx, vitest) the compiled processor is the one a thread can load
  return existsSync(here) ? here : join(packageRoot(), 'dist', 'distributed', 'trainProcessor.js');
}

/** The score queue's work: caches of models and dataset splits, and the shard processor. */
class Scorer {
  private models = new Map<string, { stamp: string; model: Promise<MerClip> }>();
  private splits = new Map<string, Promise<DataSplit>>();

  private async model(dir: string): Promise<MerClip> {
    const stamp = stampOf([join(dir, 'config.json'), join(dir, 'model.safetensors')]);
    const have = this.models.get(dir);
    if (have && have.stamp === stamp) return have.model;
    if (have) void have.model.then((m) => m.close()).catch(() => undefined);
    const model = MerClip.load(dir);
    this.models.set(dir, { stamp, model });
    model.catch(() => this.models.delete(dir));
    return model;
  }

  private split(file: string, split: string): Promise<DataSplit> {
    const key = `${file}|${stampOf([file])}|${split}`;
    let p = this.splits.get(key);
    if (!p) {
      p = readDataset(file).then(({ splits }) => {
        const s = splits[split as keyof typeof splits];
        if (!s) throw new DatasetFileError('missing_split', file, split, undefined, 'no such split');
        return s;
      });
      this.splits.set(key, p);
      p.catch(() => this.splits.delete(key));
      while (this.splits.size > 2) this.splits.delete(this.splits.keys().next().value!);
    }
    return p;
  }

  async process(job: Job<ShardJobData>): Promise<ShardResult> {
    const d = job.data;
    const t0 = performance.now();
    if (await shardDone(d)) return { key: d.key, count: d.end - d.start, shardFile: d.shardFile, reused: true, seconds: 0, predictSeconds: 0 };
    const model = await this.model(d.model);
    let predictSeconds = 0;
    try {
      const split = await this.split(d.data, d.split);
      if (split.count < d.end) throw new RangeError(`${d.data}: the ${d.split} split has ${split.count} samples, the shard needs ${d.start}–${d.end - 1} (the file changed after the run was enqueued?)`);
      for (const m of model.config.modalityOrder) {
        const want = model.config.modalities[m];
        if (split[m].dim !== want.dim) throw new RangeError(`${d.data}: ${m} features have dim ${split[m].dim}, the model expects ${want.dim}`);
      }
      const tp = performance.now();
      const preds = await model.predict(samplesOf(split, d.start, d.end), { batchSize: d.batchSize });
      predictSeconds = (performance.now() - tp) / 1000;
      const rows = preds.map((p, i) => ({ id: split.ids[d.start + i]!, ...p }));
      await writeResults(d.shardFile, rows, model.config.labels, { shard_key: d.key, data: d.data, split: d.split, file: String(d.fileIndex), start: String(d.start), end: String(d.end) });
    } catch (err) {
      if (isDataError(err)) throw new UnrecoverableError((err as Error).message);
      throw err;
    }
    return { key: d.key, count: d.end - d.start, shardFile: d.shardFile, reused: false, seconds: (performance.now() - t0) / 1000, predictSeconds };
  }

  async close(): Promise<void> {
    const models = [...this.models.values()];
    this.models.clear();
    this.splits.clear();
    await Promise.all(models.map((m) => m.model.then((x) => x.close()).catch(() => undefined)));
  }
}

/** The sweep parent: the children's results grouped per grid point, mean ± std, OUT/sweep.json. */
async function processSweep(job: Job<SweepJobData>): Promise<{ json: string }> {
  const d = job.data;
  const values = await job.getChildrenValues<{ json: string }>();
  const failures = await job.getIgnoredChildrenFailures();
  const byId = new Map(d.runs.map((r) => [r.jobId, r]));
  const results = Object.values(values).map((v) => parseExact(v.json) as TrainJobResult);
  const summary: SweepSummary = {
    out: d.out,
    configs: d.configs.map((c) => {
      const runs = d.seeds.map((seed) => results.find((r) => r.configName === c.name && r.seed === seed)).filter((r): r is TrainJobResult => r !== undefined);
      const tests = runs.map((r) => r.test).filter((t) => t !== null);
      return { name: c.name, params: c.params, runs, testMeanStd: tests.length > 0 ? meanStd(tests) : null };
    }),
    failures: Object.entries(failures).map(([key, error]) => {
      const run = byId.get(key.slice(key.lastIndexOf(':') + 1));
      return { seed: run?.seed ?? -1, configName: run?.configName ?? '?', error };
    }),
  };
  const json = stringifyExact(summary);
  await writeFileAtomic(join(d.out, 'sweep.json'), json + '\n');
  return { json };
}

/** Starts a worker on the queues (see the header); resolves once it is connected. */
export async function runWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  await checkRedis(opts.queue);
  const emit = opts.onEvent ?? ((): void => {});
  const base = {
    connection: bullConnection(opts.queue),
    lockDuration: opts.lockDuration ?? 30_000,
    stalledInterval: opts.stalledInterval ?? 30_000,
    maxStalledCount: opts.maxStalledCount ?? 3,
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
  };
  const which = new Set(opts.queues ?? ['score', 'train', 'sweep']);
  const scorer = new Scorer();
  const workers: Worker[] = [];
  if (which.has('score')) workers.push(new Worker<ShardJobData, ShardResult>(QUEUES.score, (job) => scorer.process(job), { ...base, concurrency: opts.concurrency ?? 1 }));
  if (which.has('train')) workers.push(new Worker(QUEUES.train, trainProcessorPath(), { ...base, concurrency: opts.trainConcurrency ?? 1, useWorkerThreads: true }));
  if (which.has('sweep')) workers.push(new Worker<SweepJobData>(QUEUES.sweep, processSweep, { ...base, concurrency: 1 }));
  for (const w of workers) {
    w.on('completed', (job: Job, rv: unknown) => {
      let message = '';
      if (w.name === QUEUES.score) {
        const r = rv as ShardResult;
        const d = job.data as ShardJobData;
        message = `${d.data} samples ${d.start}–${d.end - 1}: ${r.reused ? 'already done' : `${r.count} scored in ${r.seconds.toFixed(2)} s`}`;
      } else if (w.name === QUEUES.train) {
        const r = parseExact((rv as { json: string }).json) as TrainJobResult;
        message = `${r.configName} seed ${r.seed}: ${r.alreadyFinished ? 'already finished' : `${r.epochs} epochs${r.resumedAtStep > 0 ? ` (resumed at step ${r.resumedAtStep})` : ''}`}, best epoch ${r.bestEpoch}, ${r.seconds.toFixed(1)} s`;
      } else message = `sweep ${(job.data as SweepJobData).out}: results in sweep.json`;
      emit({ type: 'completed', queue: w.name, jobId: job.id ?? '?', message });
    });
    w.on('failed', (job: Job | undefined, err: Error) => {
      const final = !job || err instanceof UnrecoverableError || err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
      emit({ type: 'failed', queue: w.name, jobId: job?.id ?? '?', error: err.message, final });
    });
    w.on('error', (err: Error) => emit({ type: 'error', error: err.message }));
  }
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  let closing: Promise<void> | null = null;
  return {
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((w) => w.close()));
        await scorer.close();
      })();
      return closing;
    },
  };
}
