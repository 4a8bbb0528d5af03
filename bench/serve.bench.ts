// bench/serve.bench.ts — `npm run bench -- serve`: the paper-size model (makeConfig('paper'),
// seed 1, saved to a temporary directory) behind `merclip serve` (a child process, dist/), loaded
// by autocannon from this process at 1, 8 and 64 connections, each request one MOSI-shaped sample
// (synthetic, seed 7; text 50×768, audio 375×5, vision 500×20 padded, sent at their true lengths)
// in the KServe binary tensor format (a JSON row at 8 connections shows the cost of JSON bodies).
// Per run: requests/s, samples/s, p50/p99 latency, mean batch size (from the server's
// merclip_batch_size histogram) and how busy the model was (Σ batch time / run time, batches
// finished within the run). Then, in this process without HTTP: 64 concurrent single-sample
// callers (each calls again as soon as it is answered) through a DynamicBatcher against B32
// predict() calls on the same samples, in adjacent pairs, samples/s ratio (issue 16's target
// ≥ 85 %). Nothing is asserted.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';

import { gatherBatch } from '../lib/data/batch.js';
import { generateSynthetic } from '../lib/data/synth.js';
import { makeConfig } from '../lib/model/config.js';
import { MerClip } from '../lib/model/merclip.js';
import type { Prediction, PredictOptions, Sample } from '../lib/model/predict.js';
import { DynamicBatcher } from '../lib/model/batcher.js';
import { median, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';

const MODALITIES = ['text', 'audio', 'vision'] as const;
const N = 64;
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32];
const BIN = join(fileURLToPath(new URL('..', import.meta.url)), 'bin', 'merclip.js');

function metricValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** One sample as a binary-extension infer body (each modality at its true length). */
function binaryBody(s: Sample): { body: Buffer; headerLength: number } {
  const inputs: unknown[] = [];
  const parts: Buffer[] = [];
  for (const m of MODALITIES) {
    const x = s[m] as { features: Float32Array; length: number; dim: number };
    const data = x.features.subarray(0, x.length * x.dim);
    inputs.push({ name: m, datatype: 'FP32', shape: [1, x.length, x.dim], parameters: { binary_data_size: data.byteLength } });
    parts.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  const header = Buffer.from(JSON.stringify({ inputs }));
  return { body: Buffer.concat([header, ...parts]), headerLength: header.length };
}

function jsonBody(s: Sample): string {
  return JSON.stringify({ inputs: MODALITIES.map((m) => {
    const x = s[m] as { features: Float32Array; length: number; dim: number };
    return { name: m, datatype: 'FP32', shape: [1, x.length, x.dim], data: Array.from(x.features.subarray(0, x.length * x.dim)) };
  }) });
}

async function startServer(dir: string): Promise<{ base: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--model', dir, '--name', 'paper', '--port', '0', '--max-batch', '32', '--max-delay-ms', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`merclip serve exited (${code}) before listening: ${out}`)));
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return { base, stop: async () => { child.kill('SIGTERM'); await exited; } };
}

export async function runServeBench(_limits: MachineLimits): Promise<{ rows: Row[]; results: unknown[] }> {
  const config = makeConfig('paper');
  const ds = generateSynthetic({ seed: 7, sizes: { train: N, valid: 1, test: 1 } });
  const batch = gatherBatch(ds.splits.train, Int32Array.from({ length: N }, (_, i) => i));
  const samples: Sample[] = Array.from({ length: N }, (_, i) => Object.fromEntries(MODALITIES.map((m) => {
    const x = batch[m];
    const lo = x.offsets[i]!, hi = x.offsets[i + 1]!;
    return [m, { features: x.rows.subarray(lo * x.dim, hi * x.dim), length: hi - lo, dim: x.dim }];
  })) as Sample);
  const dir = join(mkdtempSync(join(tmpdir(), 'merclip-serve-bench-')), 'paper');
  const rows: Row[] = [];
  const results: unknown[] = [];
  try {
    const model = new MerClip(config, undefined, { seed: 1 });
    await model.save(dir);

    // In process: one B32 predict() against 64 closed-loop single-sample callers through the batcher.
    const b32 = samples.slice(0, 32);
    await model.predict(b32);
    const timeB32 = async (): Promise<number[]> => {
      const ts: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        await model.predict(b32);
        ts.push((performance.now() - t0) / 1000);
      }
      return ts;
    };
    const t32 = await timeB32();
    // Paired, adjacent in time (the load from other jobs drifts): 4 B32 calls, then 64 callers
    // each making 2 calls in a closed loop (the same 128 samples); the ratio of each pair.
    const sizes: number[] = [];
    const batcher = new DynamicBatcher<Sample, Prediction, PredictOptions>((s, o) => model.predict(s, { ...o, batchSize: 32 }), {
      maxBatchSize: 32, maxDelayMs: 2, onBatch: (i) => sizes.push(i.size),
    });
    const ROUNDS = 2;
    const pairs: Array<{ b32Seconds: number; callersSeconds: number; ratio: number }> = [];
    for (let p = 0; p < 3; p++) {
      let t0 = performance.now();
      for (let r = 0; r < 2 * ROUNDS; r++) await model.predict(b32);
      const tB = (performance.now() - t0) / 1000;
      t0 = performance.now();
      await Promise.all(samples.map(async (s) => {
        for (let r = 0; r < ROUNDS; r++) await batcher.submit([s]);
      }));
      const tC = (performance.now() - t0) / 1000;
      pairs.push({ b32Seconds: tB, callersSeconds: tC, ratio: tB / tC });
    }
    await batcher.close();
    await model.close(); // its worker stops while the server runs (predict() restarts it)
    let sps32 = 32 / median(t32);
    const ratios = pairs.map((p) => p.ratio);
    const spsLoop = (N * ROUNDS) / median(pairs.map((p) => p.callersSeconds));
    const meanBatch = sizes.reduce((a, x) => a + x, 0) / sizes.length;
    results.push({ b32Seconds: t32, callers: N, rounds: ROUNDS, pairs, batchSizes: sizes });

    // Over HTTP: merclip serve in a child process, autocannon here.
    const server = await startServer(dir);
    const path = '/v2/models/paper/infer';
    const binary = samples.slice(0, 8).map(binaryBody);
    const binaryRequests = binary.map((b) => ({ method: 'POST' as const, path, body: b.body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(b.headerLength) } }));
    const jsonRequests = samples.slice(0, 8).map((s) => ({ method: 'POST' as const, path, body: jsonBody(s), headers: { 'content-type': 'application/json' } }));
    const scrape = async (): Promise<{ sum: number; count: number; busy: number; buckets: number[] }> => {
      const text = await (await fetch(`${server.base}/metrics`)).text();
      const buckets = SIZE_BUCKETS.map((le) => metricValue(text, `merclip_batch_size_bucket{le="${le}"}`));
      return { sum: metricValue(text, 'merclip_batch_size_sum'), count: metricValue(text, 'merclip_batch_size_count'), busy: metricValue(text, 'merclip_batch_duration_seconds_sum'), buckets };
    };
    const load = async (connections: number, duration: number, requests: typeof binaryRequests | typeof jsonRequests) => {
      const before = await scrape();
      const r = await autocannon({ url: server.base, connections, duration, timeout: 120, requests });
      const after = await scrape();
      // batches per size range (the histogram's cumulative buckets, differenced)
      const cum = after.buckets.map((c, i) => c - before.buckets[i]!);
      const sizes = Object.fromEntries(SIZE_BUCKETS.map((le, i) => [`${i ? SIZE_BUCKETS[i - 1]! + 1 : 1}-${le}`, cum[i]! - (i ? cum[i - 1]! : 0)]).filter(([, n]) => n));
      // the share of the run the model spent running batches (near 100 %: the model, not the HTTP side, is the limit)
      const busy = (after.busy - before.busy) / r.duration;
      return { r, meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count), sizes, busy };
    };
    try {
      await load(4, 4, binaryRequests); // warm-up
      const runs: Array<[string, number, number, typeof binaryRequests | typeof jsonRequests]> = [
        ['binary', 1, 12, binaryRequests], ['binary', 8, 12, binaryRequests], ['binary', 64, 30, binaryRequests], ['JSON', 8, 12, jsonRequests],
      ];
      for (const [format, connections, duration, requests] of runs) {
        const { r, meanBatch: mb, sizes: dist, busy } = await load(connections, duration, requests);
        console.log(`serve: ${format} ${connections} connections — batches by size: ${Object.entries(dist).map(([k, n]) => `${k}: ${n}`).join(', ')}`);
        const rps = r.requests.average;
        rows.push({
          case: `HTTP ${format}, ${connections} connection${connections > 1 ? 's' : ''}, 1 sample/request`,
          'req/s': rps, 'samples/s': r['2xx'] / r.duration, 'p50 ms': r.latency.p50, 'p99 ms': r.latency.p99, 'mean batch': mb, 'model busy': `${(100 * Math.min(1, busy)).toFixed(0)} %`,
          'non-2xx+errors': r.non2xx + r.errors + r.timeouts, 'vs B32 predict()': '',
        });
        results.push({ format, connections, duration, requestsAverage: rps, ok: r['2xx'], latency: r.latency, meanBatch: mb, batchSizes: dist, modelBusy: busy, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts });
      }
    } finally {
      await server.stop();
    }
    // B32 again after the HTTP runs: the HTTP ratios use the mean of before and after (the load
    // from other jobs on a shared machine drifts over minutes)
    const t32After = await timeB32();
    await model.close();
    sps32 = (sps32 + 32 / median(t32After)) / 2;
    for (const row of rows) {
      row['vs B32 predict()'] = `${((100 * (row['samples/s'] as number)) / sps32).toFixed(0)} %`;
    }
    results.push({ b32SecondsAfter: t32After });
    rows.push({ case: 'predict() B32, one call (in process; mean of before and after the HTTP runs)', 'req/s': sps32 / 32, 'samples/s': sps32, 'p50 ms': 32e3 / sps32, 'p99 ms': '-', 'mean batch': 32, 'model busy': '-', 'non-2xx+errors': 0, 'vs B32 predict()': '100 %' });
    rows.push({
      case: `${N} concurrent single-sample callers, DynamicBatcher (in process)`, 'req/s': spsLoop, 'samples/s': spsLoop, 'p50 ms': '-', 'p99 ms': '-', 'mean batch': meanBatch, 'model busy': '-',
      'non-2xx+errors': 0,
      'vs B32 predict()': `${(100 * median(ratios)).toFixed(0)} % (median of 3 adjacent pairs, ${(100 * Math.min(...ratios)).toFixed(0)}–${(100 * Math.max(...ratios)).toFixed(0)} %; target ≥ 85 %)`,
    });
    console.log('serve: the machine is shared (2 cores, other jobs running): figures are noisy; the server and the client share the cores');
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
  return { rows, results };
}
