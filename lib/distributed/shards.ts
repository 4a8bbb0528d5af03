// lib/distributed/shards.ts — how a scoring run is cut into shard jobs, and what each job carries.
//
// The dataset is one or more dataset files (lib/data/file.ts) on storage every worker sees, by the
// same absolute path (a shared mount); each file's split is cut into shards of `shardSize`
// consecutive samples (a shard never crosses files). Shard k of file f covers samples
// [start, end) and writes its results to RESULTS.parts/shard-<f>-<start>-<end>.safetensors (the
// results format, lib/distributed/results.ts, with metadata shard_key / file / start / end).
//
// The shard key — a hash of the model files (path, size, mtime), the data file (path, size,
// mtime), the split, the range, the batch size and the results path — is the job id
// (`score-<key>`) and is recorded in the shard's file: enqueuing the same run twice adds no job,
// a shard whose file already holds its key is never recomputed, and changing the model or a data
// file gives new keys (so new work) for exactly the shards it affects.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { SplitName } from '../data/synth.js';
import { readSafetensorsHeader } from '../io/index.js';

export interface ShardJobData {
  key: string;
  model: string;
  data: string;
  fileIndex: number;
  split: SplitName;
  start: number;
  end: number;
  /** Where the shard's results go (absolute). */
  shardFile: string;
  batchSize: number;
}

export interface ShardResult {
  key: string;
  count: number;
  shardFile: string;
  /** True when the shard's file already held this key (nothing recomputed). */
  reused: boolean;
  /** The job's time in the processor, and the part of it spent in predict(). */
  seconds: number;
  predictSeconds: number;
}

function stamp(file: string): string {
  let s;
  try {
    s = statSync(file);
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return `${resolve(file)}:${s.size}:${s.mtimeMs}`;
}

export function partsDir(out: string): string {
  return `${resolve(out)}.parts`;
}

export function shardFileName(fileIndex: number, start: number, end: number): string {
  return `shard-${fileIndex}-${start}-${end}.safetensors`;
}

/** The shards of a run (see the header); `counts[f]` is file f's split size. */
export function planShards(opts: { model: string; data: string[]; counts: number[]; split: SplitName; shardSize: number; batchSize: number; out: string }): ShardJobData[] {
  const model = resolve(opts.model);
  const modelStamp = ['config.json', 'model.safetensors'].map((f) => stamp(join(model, f))).join('|');
  const dir = partsDir(opts.out);
  const shards: ShardJobData[] = [];
  opts.data.forEach((file, f) => {
    const data = resolve(file);
    const dataStamp = stamp(data);
    for (let start = 0; start < opts.counts[f]!; start += opts.shardSize) {
      const end = Math.min(opts.counts[f]!, start + opts.shardSize);
      const shardFile = join(dir, shardFileName(f, start, end));
      const key = createHash('sha256').update(JSON.stringify([modelStamp, dataStamp, f, opts.split, start, end, opts.batchSize, shardFile])).digest('hex').slice(0, 32);
      shards.push({ key, model, data, fileIndex: f, split: opts.split, start, end, shardFile, batchSize: opts.batchSize });
    }
  });
  return shards;
}

export const jobIdOf = (s: { key: string }): string => `score-${s.key}`;

/** True when the shard's file exists, is a readable safetensors header and records this key. */
export async function shardDone(s: ShardJobData): Promise<boolean> {
  try {
    const h = await readSafetensorsHeader(s.shardFile);
    return h.metadata.shard_key === s.key;
  } catch {
    return false;
  }
}
