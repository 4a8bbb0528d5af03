// lib/distributed/score.ts — scoreDistributed(): enqueue a dataset's shards on the score queue,
// follow them, merge the shard results into one results file.
//
// Enqueuing is idempotent (shards.ts: the job id is the shard key). Per shard: no job and no
// finished file → add the job; a failed job → retry it (fix the data, run the same command
// again); a completed job whose file is gone or holds another key → add it again; anything else
// (waiting, active, delayed, or done) is left alone. wait() polls the shards' job states; a job
// that vanished from Redis (a Redis restarted without persistence) and whose file is not there is
// added again. When every shard has completed or failed, wait() either throws ShardsFailedError
// (each failed shard with its recorded error; the other shards' results stay in RESULTS.parts/)
// or merges: the shards in dataset order (file by file, sample by sample), each checked to hold
// exactly its samples — its key, its range, the dataset's ids for that range, the run's label
// set — so every sample is in the results exactly once. The results file is written atomically.
// Progress is read from the jobs' states (not QueueEvents' stream, which a Redis restart without
// persistence loses), which is also how wait() notices a vanished job.
import { Queue } from 'bullmq';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

import { readDatasetInfo, idsKey } from '../data/file.js';
import type { SplitName } from '../data/synth.js';
import { removeStaleTemps } from '../io/index.js';
import { type FailedShard, ShardsFailedError } from './common.js';
import { bullConnection, checkRedis, QUEUES } from './connection.js';
import { readResults, resultsKind, type ResultRow, writeResults } from './results.js';
import { jobIdOf, partsDir, planShards, shardDone, type ShardJobData } from './shards.js';

export { type FailedShard, ShardsFailedError } from './common.js';

export interface ScoreOptions {
  /** redis://HOST:PORT */
  queue: string;
  /** Model directory (config.json + model.safetensors), on storage every worker sees. */
  model: string;
  /** Dataset file(s), on storage every worker sees. */
  data: string | string[];
  /** Default 'test'. */
  split?: SplitName;
  /** Results file (.jsonl or .safetensors); the shards go to RESULTS.parts/. */
  out: string;
  /** Samples per shard (default 256). */
  shardSize?: number;
  /** predict() batch size inside a shard (default 32). */
  batchSize?: number;
  /** Attempts per shard before it counts as failed (default 3; data errors fail at once). */
  attempts?: number;
  /** BullMQ key prefix (default "bull"). */
  prefix?: string;
}

export interface ScoreProgress {
  total: number;
  completed: number;
  failed: number;
  active: number;
  waiting: number;
  /** Jobs added again during wait() because they had vanished from Redis. */
  requeued: number;
}

export interface ScoreSummary {
  out: string;
  samples: number;
  shards: number;
  labelSet: string[];
}

export interface ScoreRun {
  readonly shards: readonly ShardJobData[];
  readonly samples: number;
  /** Jobs this call added (0 when every shard was already enqueued or done). */
  readonly added: number;
  /** Jobs this call retried (they had failed before). */
  readonly retried: number;
  progress(): Promise<ScoreProgress>;
  /** Follows the shards until all are done, then merges (see the header). */
  wait(opts?: { onProgress?: (p: ScoreProgress) => void; pollMs?: number }): Promise<ScoreSummary>;
  close(): Promise<void>;
}

function jobOptions(attempts: number) {
  return { attempts, backoff: { type: 'exponential' as const, delay: 500 }, removeOnComplete: { age: 7 * 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };
}

/** Enqueues a scoring run (see the header); the returned run holds a Redis connection: close() it. */
export async function scoreDistributed(opts: ScoreOptions): Promise<ScoreRun> {
  const split = opts.split ?? 'test';
  const shardSize = opts.shardSize ?? 256;
  const batchSize = opts.batchSize ?? 32;
  const attempts = opts.attempts ?? 3;
  if (!Number.isInteger(shardSize) || shardSize < 1) throw new RangeError(`score: the shard size must be a positive integer, received ${shardSize}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`score: the batch size must be a positive integer, received ${batchSize}`);
  // a shard is then whole predict() batches, the very batches one predict() over the file makes,
  // so the scores are bit-identical to a one-machine run with that batch size
  if (shardSize % batchSize !== 0) throw new RangeError(`score: the shard size (${shardSize}) must be a multiple of the batch size (${batchSize}), so that the shards' batches are those of a one-machine predict()`);
  resultsKind(opts.out);
  const files = (Array.isArray(opts.data) ? opts.data : [opts.data]).map((f) => resolve(f));
  if (files.length === 0) throw new RangeError('score: give at least one dataset file');
  const infos = await Promise.all(files.map((f) => readDatasetInfo(f)));
  const counts = infos.map((info, i) => {
    const s = info.splits[split];
    if (!s) throw new Error(`${files[i]}: no ${split} split (it has ${info.splitNames.join(', ') || 'none'})`);
    return s.count;
  });
  const out = resolve(opts.out);
  const shards = planShards({ model: opts.model, data: files, counts, split, shardSize, batchSize, out });
  await checkRedis(opts.queue);
  mkdirSync(partsDir(out), { recursive: true });
  const queue = new Queue<ShardJobData>(QUEUES.score, { connection: bullConnection(opts.queue), ...(opts.prefix ? { prefix: opts.prefix } : {}) });
  queue.on('error', () => { /* reconnects; wait() keeps polling */ });
  const add = (s: ShardJobData) => queue.add('shard', s, { ...jobOptions(attempts), jobId: jobIdOf(s) });
  let added = 0;
  let retried = 0;
  try {
    const toAdd: ShardJobData[] = [];
    for (let i = 0; i < shards.length; i += 64) {
      const chunk = shards.slice(i, i + 64);
      const states = await Promise.all(chunk.map((s) => queue.getJobState(jobIdOf(s))));
      for (const [j, s] of chunk.entries()) {
        const state = states[j]!;
        if (state === 'failed') {
          const job = await queue.getJob(jobIdOf(s));
          if (job) {
            await job.retry('failed');
            retried++;
          }
        } else if (state === 'completed' || state === 'unknown') {
          if (await shardDone(s)) continue;
          if (state === 'completed') await queue.remove(jobIdOf(s));
          toAdd.push(s);
        }
      }
    }
    // in dataset order, so the shards are taken roughly in that order
    for (let i = 0; i < toAdd.length; i += 500) {
      await queue.addBulk(toAdd.slice(i, i + 500).map((s) => ({ name: 'shard', data: s, opts: { ...jobOptions(attempts), jobId: jobIdOf(s) } })));
    }
    added = toAdd.length;
  } catch (err) {
    await queue.close();
    throw err;
  }
  const samples = counts.reduce((a, b) => a + b, 0);
  let requeued = 0;
  const finished = new Map<string, 'completed' | FailedShard>();

  async function poll(): Promise<ScoreProgress> {
    let active = 0;
    let waiting = 0;
    const open = shards.filter((s) => !finished.has(s.key));
    for (let i = 0; i < open.length; i += 128) {
      await Promise.all(open.slice(i, i + 128).map(async (s) => {
        const state = await queue.getJobState(jobIdOf(s));
        if (state === 'completed') finished.set(s.key, 'completed');
        else if (state === 'failed') {
          const job = await queue.getJob(jobIdOf(s));
          finished.set(s.key, { data: s.data, start: s.start, end: s.end, jobId: jobIdOf(s), error: job?.failedReason ?? 'failed (no reason recorded)' });
        } else if (state === 'unknown') {
          if (await shardDone(s)) finished.set(s.key, 'completed');
          else {
            await add(s);
            requeued++;
            waiting++;
          }
        } else if (state === 'active') active++;
        else waiting++;
      }));
    }
    const failed = [...finished.values()].filter((v) => v !== 'completed').length;
    return { total: shards.length, completed: finished.size - failed, failed, active, waiting, requeued };
  }

  async function merge(): Promise<ScoreSummary> {
    removeStaleTemps(partsDir(out));
    const rows: ResultRow[] = [];
    let labelSet: string[] | null = null;
    const idsByFile = infos.map((info, f) => {
      const ids = JSON.parse(info.metadata[idsKey(split)] ?? '[]') as string[];
      if (ids.length !== counts[f]) throw new Error(`${files[f]}: ${ids.length} ids for ${counts[f]} samples`);
      return ids;
    });
    const nextStart = files.map(() => 0);
    for (const s of shards) {
      const where = `${s.shardFile} (${s.data} samples ${s.start}–${s.end - 1})`;
      if (s.start !== nextStart[s.fileIndex]) throw new Error(`merge: ${where} does not start where the previous shard of its file ended (sample ${nextStart[s.fileIndex]})`);
      const r = await readResults(s.shardFile);
      if (r.metadata.shard_key !== s.key) throw new Error(`merge: ${where} holds another run's results (shard key ${r.metadata.shard_key})`);
      if (r.rows.length !== s.end - s.start) throw new Error(`merge: ${where} holds ${r.rows.length} samples, expected ${s.end - s.start}`);
      const ids = idsByFile[s.fileIndex]!;
      r.rows.forEach((row, i) => {
        if (row.id !== ids[s.start + i]) throw new Error(`merge: ${where} row ${i} is sample "${row.id}", expected "${ids[s.start + i]}"`);
      });
      if (labelSet === null) labelSet = r.labelSet;
      else if (JSON.stringify(labelSet) !== JSON.stringify(r.labelSet)) throw new Error(`merge: ${where} has the label set ${JSON.stringify(r.labelSet)}, the others ${JSON.stringify(labelSet)}`);
      for (const row of r.rows) rows.push(row);
      nextStart[s.fileIndex] = s.end;
    }
    nextStart.forEach((n, f) => {
      if (n !== counts[f]) throw new Error(`merge: the shards of ${files[f]} cover samples 0–${n - 1} of ${counts[f]}`);
    });
    if (rows.length !== samples) throw new Error(`merge: ${rows.length} samples in the shards, the dataset has ${samples}`);
    await writeResults(out, rows, labelSet ?? [], { source: 'merclip score', data: JSON.stringify(files), split });
    return { out, samples, shards: shards.length, labelSet: labelSet ?? [] };
  }

  return {
    shards,
    samples,
    added,
    retried,
    progress: poll,
    async wait(w = {}) {
      const pollMs = w.pollMs ?? 500;
      for (;;) {
        let p: ScoreProgress;
        try {
          p = await poll();
        } catch {
          await new Promise((r) => setTimeout(r, pollMs)); // Redis away: keep trying
          continue;
        }
        w.onProgress?.(p);
        if (p.completed + p.failed === p.total) break;
        await new Promise((r) => setTimeout(r, pollMs));
      }
      const failed = [...finished.values()].filter((v): v is FailedShard => v !== 'completed');
      if (failed.length > 0) throw new ShardsFailedError(failed, shards.length, partsDir(out));
      return merge();
    },
    close: () => queue.close(),
  };
}
