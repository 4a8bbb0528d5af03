// test/model/predict.test.ts — MerClip.predict(): same numbers as the forward pass, one sample or
// many, a missing modality skipped (not fed zeros), another label set without retraining,
// concurrent calls equal to sequential ones, the event loop kept free, save/load, clear errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { afterAll, describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { packSamples, type Sample } from '../../lib/model/batch.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';

const config = makeConfig('tiny', {
  width: 16,
  heads: 1,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});
const model = new MerClip(config, undefined, { seed: 4 });
const dirs: string[] = [];
afterAll(async () => {
  await model.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function sample(rng: Rng, opts: { audio?: boolean } = {}): Sample {
  const mod = (L: number, D: number): { features: Float32Array; length: number } => {
    const features = rng.fillNormal(new Float32Array(L * D));
    return { features, length: rng.int(1, L) };
  };
  return { text: mod(20, 12), audio: opts.audio === false ? null : mod(30, 5), vision: mod(40, 6) };
}

/** The forward pass on the main thread, for comparison. */
function direct(samples: Sample[]): { scores: number[]; probs: number[][] } {
  const [batch] = packSamples(samples, config, samples.length);
  return noGrad(() => tidy(() => {
    const out = model.forward(batch!);
    const C = config.labels.length;
    return { scores: out.score.toArray(), probs: samples.map((_, b) => out.probs.toArray().slice(b * C, b * C + C)) };
  }));
}

describe('predict', () => {
  const rng = new Rng(11);
  const samples = Array.from({ length: 6 }, () => sample(rng));

  it('gives the forward pass numbers, for a batch and for one sample', async () => {
    const preds = await model.predict(samples);
    const ref = direct(samples);
    expect(preds.map((p) => p.score)).toEqual(ref.scores);
    expect(preds.map((p) => p.probs)).toEqual(ref.probs);
    for (const p of preds) {
      expect(p.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(config.labels[p.probs.indexOf(Math.max(...p.probs))]).toBe(p.label);
    }
    const one = await model.predict(samples[2]!);
    expect(one.score).toBeCloseTo(ref.scores[2]!, 5);
  });

  it('skips a missing modality for that sample (its audio content is irrelevant; not the same as zeros)', async () => {
    const base = sample(new Rng(5));
    const without = { ...base, audio: null };
    const zeroLength = { ...base, audio: { features: new Float32Array(30 * 5).fill(123), length: 0 } };
    const zeros = { ...base, audio: { features: new Float32Array(30 * 5), length: 30 } };
    const [a, b, c] = await model.predict([without, zeroLength, zeros]);
    expect(b!.probs).toEqual(a!.probs);
    expect(c!.probs).not.toEqual(a!.probs);
    // alone in its batch, or next to samples that have audio: the same numbers
    const [d] = await model.predict([without, samples[0]!, samples[1]!]);
    expect(d!.score).toBeCloseTo(a!.score!, 6);
  });

  it('answers about another label set without retraining', async () => {
    const preds = await model.predict(samples.slice(0, 3), { labels: ['negative', 'positive'], values: [-1, 1] });
    for (const p of preds) {
      expect(p.probs).toHaveLength(2);
      expect(p.score!).toBeGreaterThanOrEqual(-1);
      expect(p.score!).toBeLessThanOrEqual(1);
      expect(['negative', 'positive']).toContain(p.label);
    }
    const noValues = await model.predict(samples[0]!, { labels: ['happy', 'sad', 'angry'] });
    expect(noValues.score).toBeNull();
    expect(noValues.probs).toHaveLength(3);
  });

  it('concurrent calls give the results of sequential calls', async () => {
    const sequential = [];
    for (const s of samples) sequential.push(await model.predict([s, samples[0]!]));
    const concurrent = await Promise.all(samples.map((s) => model.predict([s, samples[0]!])));
    expect(concurrent).toEqual(sequential);
  });

  it('keeps the event loop free during a large predict', async () => {
    const many = Array.from({ length: 512 }, () => sample(new Rng(9)));
    await model.predict(many.slice(0, 2)); // worker started and warm
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const t0 = performance.now();
    const preds = await model.predict(many, { batchSize: 64 });
    const elapsed = performance.now() - t0;
    h.disable();
    expect(preds).toHaveLength(512);
    // the forward passes run on the worker; the loop only packs inputs between ticks. The delay
    // bound is loose (shared CI machines) but far below the time the predict itself takes.
    expect(h.max / 1e6).toBeLessThan(Math.max(150, elapsed / 3));
  });

  it('round-trips through save/load with identical predictions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merclip-model-'));
    dirs.push(dir);
    await model.save(dir);
    const loaded = await MerClip.load(dir);
    try {
      expect(await loaded.predict(samples)).toEqual(await model.predict(samples));
    } finally {
      await loaded.close();
    }
  });

  it('rejects bad samples with messages that say what is wrong', async () => {
    await expect(model.predict({ text: new Float32Array(13) })).rejects.toThrow(/sample 0 text: 13 values are not a whole number of rows of 12 features/);
    await expect(model.predict([samples[0]!, { vision: { features: new Float32Array(12), length: 3 } }])).rejects.toThrow(/sample 1 vision: length 3 is outside \[0, 2\]/);
    const nan = new Float32Array(24);
    nan[13] = Number.NaN;
    await expect(model.predict({ text: nan })).rejects.toThrow(/sample 0 text: value NaN at step 1, feature 1/);
    await expect(model.predict({ audio: new Float32Array(31 * 5) })).rejects.toThrow(/31 steps exceed the model's maxLength 30/);
    await expect(model.predict(samples[0]!, { labels: ['a', 'b'], values: [1] })).rejects.toThrow(/expected 2 finite values/);
    await expect(model.predict([null as unknown as Sample])).rejects.toThrow(/sample 0 must be an object/);
  });
});
