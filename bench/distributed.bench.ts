// bench/distributed.bench.ts — `npm run bench -- distributed`: scoring throughput through the
// BullMQ queue with 1, 2 and 3 `merclip worker` processes on this machine, and the queue's
// per-shard overhead against predict() alone. Setup: its own redis-server (temp dir, no
// persistence) on a free port; 1536 MOSI-shaped samples (text 50×768, audio 375×5, vision 500×20)
// in one dataset file; the tiny preset with random weights; shards of 256, predict() batches of 32.
// Each worker count runs the job four times: a warm-up (model loads, first predict), then three
// measured runs (new results files, so every shard is recomputed; best of 3 reported); the wall
// time covers enqueuing, the workers' shards, the polling and the merge. After each measured run,
// predict() alone: the same six 256-sample calls in this process (interleaved, so both see the
// same background load). The queue's overhead is measured with 1 worker as the wall time minus
// the time the worker spent inside predict() (from the jobs' return values): enqueuing, job
// hand-over, slicing, the shard file writes, polling, the merge. All the workers share this
// machine's cores (the table says how many).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageRoot } from '../lib/backend/index.js';
import { writeDatasetSync } from '../lib/data/file.js';
import { generateSynthetic } from '../lib/data/synth.js';
import { Queue } from 'bullmq';

import { bullConnection, QUEUES } from '../lib/distributed/connection.js';
import { scoreDistributed } from '../lib/distributed/index.js';
import type { ShardResult } from '../lib/distributed/shards.js';
import { samplesOf } from '../lib/distributed/worker.js';
import { makeConfig } from '../lib/model/config.js';
import { MerClip, saveModel } from '../lib/model/merclip.js';
import type { Row } from './harness.js';

const N = 1536;
const SHARD = 256;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

function waitForLine(p: ChildProcess, what: string, stream: 'stdout' | 'stderr' = 'stdout'): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    p[stream]!.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes(what)) resolve();
    });
    p.on('exit', (code) => reject(new Error(`exited (${code}) before "${what}": ${buf}`)));
  });
}

export async function runDistributedBench(): Promise<{ rows: Row[]; results: unknown[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'merclip-bench-dist-'));
  const port = await freePort();
  mkdirSync(join(dir, 'redis'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', join(dir, 'redis'), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = `redis://127.0.0.1:${port}`;
  const workers: ChildProcess[] = [];
  try {
    await waitForLine(redis, 'Ready to accept connections');
    const data = join(dir, 'data.safetensors');
    const ds = generateSynthetic({ seed: 1, sizes: { train: 1, valid: 1, test: N } });
    writeDatasetSync(data, ds.splits, { source: 'bench' });
    const modelDir = join(dir, 'model');
    await saveModel(new MerClip(makeConfig('tiny'), undefined, { seed: 1 }), modelDir);

    // predict() alone, in this process (the same calls a worker makes for the six shards)
    const model = await MerClip.load(modelDir);
    const split = ds.splits.test;
    await model.predict(samplesOf(split, 0, SHARD));
    const predictAlone = async (): Promise<number> => {
      const t0 = performance.now();
      for (let s = 0; s < N; s += SHARD) await model.predict(samplesOf(split, s, s + SHARD), { batchSize: 32 });
      return (performance.now() - t0) / 1000;
    };
    const queue = new Queue(QUEUES.score, { connection: bullConnection(url) });
    const alone: number[] = [];
    const rows: Row[] = [];
    const results: unknown[] = [];
    let overhead: { wall: number; inPredict: number; inJobs: number } | null = null;
    for (const W of [1, 2, 3]) {
      for (let i = 0; i < W; i++) {
        const p = spawn(process.execPath, [join(packageRoot(), 'bin', 'merclip.js'), 'worker', '--queue', url, '--queues', 'score', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
        workers.push(p);
        await waitForLine(p, 'ready');
      }
      const walls: number[] = [];
      for (const pass of ['warm', 'run1', 'run2', 'run3']) {
        const t0 = performance.now();
        const run = await scoreDistributed({ queue: url, model: modelDir, data, out: join(dir, `${pass}-${W}.safetensors`), shardSize: SHARD, batchSize: 32 });
        await run.wait({ pollMs: 10 });
        const wall = (performance.now() - t0) / 1000;
        if (pass !== 'warm') {
          walls.push(wall);
          if (W === 1) {
            // what the worker spent in predict() and in its processor, against the wall time
            const rv = await Promise.all(run.shards.map(async (s) => (await queue.getJob(`score-${s.key}`))!.returnvalue as ShardResult));
            const o = { wall, inPredict: rv.reduce((a, r) => a + r.predictSeconds, 0), inJobs: rv.reduce((a, r) => a + r.seconds, 0) };
            if (!overhead || o.wall - o.inPredict < overhead.wall - overhead.inPredict) overhead = o;
          }
          alone.push(await predictAlone()); // interleaved, so both see the same background load
        }
        await run.close();
      }
      const best = Math.min(...walls);
      rows.push({ measure: `queue, ${W} worker${W > 1 ? 's' : ''} (all on these ${cpus().length} cores), enqueue → merged file, best of 3`, value: +best.toFixed(3), unit: 's' });
      rows.push({ measure: `queue, ${W} worker${W > 1 ? 's' : ''}, throughput`, value: Math.round(N / best), unit: 'samples/s' });
      results.push({ what: 'queue', workers: W, seconds: walls, samplesPerSec: N / best });
      await Promise.all(workers.splice(0).map((p) => new Promise((r) => { p.once('exit', r); p.kill('SIGTERM'); })));
    }
    await queue.close();
    await model.close();
    const bestAlone = Math.min(...alone);
    rows.unshift(
      { measure: `predict() alone, ${N / SHARD} calls of ${SHARD} samples (this process), best of ${alone.length}`, value: +bestAlone.toFixed(3), unit: 's' },
      { measure: 'predict() alone, throughput', value: Math.round(N / bestAlone), unit: 'samples/s' },
    );
    const o = overhead!;
    const shards = N / SHARD;
    rows.push({ measure: `1 worker: wall − its predict() time, per ${SHARD}-sample shard`, value: +(1000 * (o.wall - o.inPredict) / shards).toFixed(1), unit: 'ms' });
    rows.push({ measure: '1 worker: queue overhead relative to predict() (wall / predict − 1)', value: +(100 * (o.wall / o.inPredict - 1)).toFixed(1), unit: '%' });
    rows.push({ measure: '  of which in the processor besides predict() (slicing, the shard file write)', value: +(1000 * (o.inJobs - o.inPredict) / shards).toFixed(1), unit: 'ms/shard' });
    results.push({ what: 'predict-alone', seconds: alone }, { what: 'overhead', ...o, shards });
    return { rows, results };
  } finally {
    for (const p of workers) p.kill('SIGKILL');
    redis.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
