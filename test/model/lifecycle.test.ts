// test/model/lifecycle.test.ts — the model lifecycle leaks nothing: MerClip.load(dir) → predict()
// → close() 200 times in one process keeps RSS, the JS heap and the ArrayBuffer memory flat, and
// models dropped without close() have their workers stopped once collected.
//
// The loop runs in a child process (test/helpers/lifecycleLoop.mjs, node --expose-gc, the
// compiled dist/ that `npm test` builds first) so that a full GC precedes each measurement and
// nothing of vitest's own process is measured.
//
// Bounds, from measurements on the 2-core development machine (tiny config, 3.3 MB of weights):
// with close(), RSS went 112 MB (iteration 1) → 162–179 MB (20) → 166–182 MB (200), wandering
// ±10 MB between checkpoints (malloc arenas of the worker threads); the JS heap moved < 0.2 MB and
// ArrayBuffers not at all. A leak of one model per iteration would add ≥ 3.3 MB per iteration
// (≈ 600 MB over 180 iterations), of one worker ≈ 20 MB per iteration, of the model's JS objects
// tens of MB of heap: the bounds below (RSS 48 MB, heap 4 MB, ArrayBuffers 4 MB) sit far above
// the noise and far below any per-iteration leak. Without the finalizer, dropped models grew RSS
// by ~20 MB each (566 MB after 20, 966 MB after 40: each idle worker kept its thread and heap);
// with it, RSS stayed within a few MB from iteration 10 to 60.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { Rng } from '../../lib/tensor/index.js';

const config = makeConfig('tiny', {
  width: 16,
  heads: 1,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});
const MB = 2 ** 20;
const root = packageRoot();
const script = join(root, 'test', 'helpers', 'lifecycleLoop.mjs');
const rng = new Rng(21);
// one sample with text (3 steps) and audio (2 steps), no vision
const sample = { text: Array.from(rng.fillNormal(new Float32Array(3 * 12))), audio: Array.from(rng.fillNormal(new Float32Array(2 * 5))) };

let dir = '';
let reference = 0;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merclip-lifecycle-'));
  await new MerClip(config, undefined, { seed: 13 }).save(dir);
  const model = await MerClip.load(dir);
  try {
    reference = (await model.predict({ text: Float32Array.from(sample.text), audio: Float32Array.from(sample.audio) })).score!;
  } finally {
    await model.close();
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Checkpoint {
  iteration: number;
  seconds: number;
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

function loop(iterations: number, every: number, end: 'close' | 'drop'): { checkpoints: Map<number, Checkpoint>; predictions: number; distinctScores: number[] } {
  const r = spawnSync(process.execPath, ['--expose-gc', script, root, dir, String(iterations), String(every), end, JSON.stringify(sample)], { encoding: 'utf8', timeout: 150_000 });
  if (r.status !== 0) throw new Error(`lifecycleLoop exited with ${r.status} (${r.signal ?? 'no signal'}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Checkpoint & { done?: true; predictions: number; distinctScores: number[] });
  const done = lines.find((l) => l.done)!;
  const checkpoints = new Map(lines.filter((l) => !l.done).map((l) => [l.iteration, l]));
  return { checkpoints, predictions: done.predictions, distinctScores: done.distinctScores };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('model lifecycle', () => {
  it('load → predict → close, 200 times: RSS, heap and ArrayBuffers stay flat', () => {
    // a predict() (so a worker starts, runs and is stopped) every 5th iteration: 40 workers
    const { checkpoints, predictions, distinctScores } = loop(200, 5, 'close');
    expect(predictions).toBe(40);
    expect(distinctScores).toEqual([reference]); // every fresh worker answered, and right
    const at = (its: number[], key: 'rss' | 'heapUsed' | 'arrayBuffers'): number => median(its.map((i) => checkpoints.get(i)![key]));
    const early = [20, 30, 40];
    const late = [180, 190, 200];
    const growth = {
      rss: (at(late, 'rss') - at(early, 'rss')) / MB,
      heapUsed: (at(late, 'heapUsed') - at(early, 'heapUsed')) / MB,
      arrayBuffers: (at(late, 'arrayBuffers') - at(early, 'arrayBuffers')) / MB,
    };
    const rss = (i: number): string => `${(checkpoints.get(i)!.rss / MB).toFixed(1)} MB`;
    console.log(`lifecycle: RSS ${rss(1)} (1), ${rss(20)} (20), ${rss(200)} (200); growth 20–40 → 180–200 (medians): RSS ${growth.rss.toFixed(1)} MB, ` +
      `heap ${growth.heapUsed.toFixed(2)} MB, ArrayBuffers ${growth.arrayBuffers.toFixed(2)} MB; ${checkpoints.get(200)!.seconds.toFixed(1)} s`);
    expect(growth.rss).toBeLessThan(48);
    expect(growth.heapUsed).toBeLessThan(4);
    expect(growth.arrayBuffers).toBeLessThan(4);
  }, 180_000);

  it('models dropped without close(): their workers are stopped once the models are collected', () => {
    const { checkpoints, predictions } = loop(30, 1, 'drop');
    expect(predictions).toBe(30);
    const growth = (checkpoints.get(30)!.rss - checkpoints.get(10)!.rss) / MB;
    console.log(`lifecycle (dropped models): RSS ${(checkpoints.get(10)!.rss / MB).toFixed(1)} MB (10) → ${(checkpoints.get(30)!.rss / MB).toFixed(1)} MB (30)`);
    // 20 more workers left running would be ≥ 300 MB
    expect(growth).toBeLessThan(60);
  }, 180_000);
});
