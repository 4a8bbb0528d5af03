// test/train/train.test.ts — training on a small synthetic set: it learns, writes checkpoints,
// best/ and metrics.jsonl; a run stopped mid-way and resumed from its checkpoint ends with
// bit-identical weights to an uninterrupted run; a NaN loss stops training with a clear error and
// leaves the last good checkpoint in place.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { generateSynthetic } from '../../lib/data/synth.js';
import { readSafetensors } from '../../lib/io/index.js';
import { makeConfig } from '../../lib/model/config.js';
import { loadModel } from '../../lib/model/merclip.js';
import { evaluate, train, TrainingDivergedError } from '../../lib/train/index.js';
import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'merclip-train-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const data = generateSynthetic({
  seed: 3,
  sizes: { train: 96, valid: 32, test: 32 },
  text: { length: 8, dim: 12 },
  audio: { length: 10, dim: 5 },
  vision: { length: 12, dim: 6 },
}).splits;

const small = makeConfig('tiny', {
  width: 16,
  heads: 2,
  modalities: { text: { dim: 12, maxLength: 8 }, audio: { dim: 5, maxLength: 10 }, vision: { dim: 6, maxLength: 12 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});

async function finalWeights(dir: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(join(dir, 'checkpoint.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

describe('train', () => {
  it('learns, and writes checkpoint, best/ and one metrics line per epoch', async () => {
    const out = tmp();
    const events: string[] = [];
    const r = await train(data, { model: small, epochs: 3, batchSize: 16, lr: 3e-3, seed: 1, outDir: out, onEvent: (e) => events.push(e.type) });
    expect(r.finished).toBe(true);
    expect(r.history).toHaveLength(3);
    expect(r.history[2]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    expect(r.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(r.test).not.toBeNull();
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number });
    expect(lines.map((l) => l.epoch)).toEqual([1, 2, 3]);
    expect(events.filter((e) => e === 'step')).toHaveLength(3 * 6);
    // best/ holds the best epoch's weights: evaluating it reproduces the reported test metrics
    const best = await loadModel(join(out, 'best'));
    expect(evaluate(best, data.test).metrics).toEqual(r.test);
  });

  it('resumes from a checkpoint to bit-identical final weights', async () => {
    const full = tmp();
    await train(data, { model: small, epochs: 2, batchSize: 16, seed: 7, outDir: full });
    const cut = tmp();
    const first = await train(data, { model: small, epochs: 2, batchSize: 16, seed: 7, outDir: cut, checkpointEvery: 2, maxStepsThisRun: 9 });
    expect(first.finished).toBe(false);
    // 9 steps taken, the last checkpoint is at step 8 (mid-epoch 2): resume repeats step 9
    const resumed = await train(data, { model: small, epochs: 2, batchSize: 16, seed: 7, outDir: cut, resume: true });
    expect(resumed.finished).toBe(true);
    expect(resumed.steps).toBe(12);
    const a = await finalWeights(full);
    const b = await finalWeights(cut);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, v] of a) expect(Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength).equals(Buffer.from(v.buffer, v.byteOffset, v.byteLength)), k).toBe(true);
  });

  it('stops on a NaN loss with a clear message, keeping the last good checkpoint', async () => {
    const out = tmp();
    const bad = { ...data, train: { ...data.train, text: { ...data.train.text, features: data.train.text.features.slice() } } };
    bad.train.text.features.fill(Number.NaN); // every sample's valid text positions: NaN
    await expect(train(bad, { model: small, epochs: 1, batchSize: 16, outDir: out })).rejects.toThrow(TrainingDivergedError);
    await expect(train(bad, { model: small, epochs: 1, batchSize: 16, outDir: out })).rejects.toThrow(/the (loss|gradient norm) became NaN at step 1 \(epoch 1\)/);
    // a run that checkpointed, then diverged: the checkpoint on disk is the last good one
    const out2 = tmp();
    // epoch 1 of a 2-epoch run, stopped after its end-of-epoch checkpoint
    await train(data, { model: small, epochs: 2, batchSize: 16, outDir: out2, maxStepsThisRun: Math.ceil(data.train.count / 16) });
    const before = await finalWeights(out2);
    await expect(train(bad, { model: small, epochs: 2, batchSize: 16, outDir: out2, resume: true })).rejects.toThrow(/last good checkpoint is .*checkpoint\.safetensors/);
    expect(await finalWeights(out2)).toEqual(before);
  });

  it('rejects bad options', async () => {
    await expect(train(data, { model: small, epochs: 0 })).rejects.toThrow(/epochs must be a positive integer/);
    await expect(train(data, { model: small, lr: -1 })).rejects.toThrow(/lr must be a positive number/);
  });
});
