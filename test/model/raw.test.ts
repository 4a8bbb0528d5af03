// test/model/raw.test.ts — raw inputs through CLIP: a tiny random CLIP in the Hugging Face layout
// on disk, a MER-CLIP with text and vision 'clip' sources built from it (configFromClip +
// MerClip.fromClip); the text path's hidden states and the vision path's per-frame embeddings
// against the float64 towers (test/helpers/clipRef.ts), for RgbFrames and for PNG / JPEG files;
// predict(raw) = predict(featurize(raw)) = a forward on features built from the float64 towers,
// batched and not, raw and feature samples mixed in one batch.
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { preprocessImagesData, type RgbFrame } from '../../lib/clip/image.js';
import type { Clip } from '../../lib/clip/model.js';
import { packSamples, type Sample, validateSamples } from '../../lib/model/batch.js';
import { configFromClip } from '../../lib/model/clipWeights.js';
import type { MerClipConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import type { Prediction } from '../../lib/model/predict.js';
import { featurize } from '../../lib/model/raw.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';
import { projectRef, textTowerRef, visionTowerRef } from '../helpers/clipRef.js';
import { expectClose } from '../helpers/compare.js';
import { TEXT_REF, TINY_BASE, VISION_REF, weights64, writeTinyClip } from '../helpers/tinyClip.js';

export const BASE = TINY_BASE;

let dir = '';
let clip: Clip;
let config: MerClipConfig;
let model: MerClip;
const models: MerClip[] = [];

beforeAll(async () => {
  ({ dir, clip } = await writeTinyClip(1));
  config = configFromClip(clip, BASE, { text: true, vision: { maxLength: 6 } });
  model = await MerClip.fromClip(config, dir, { seed: 3 });
  models.push(model);
});
afterAll(async () => {
  for (const m of models) await m.close();
  rmSync(dir, { recursive: true, force: true });
});

function randomFrame(rng: Rng, width: number, height: number): RgbFrame {
  return { data: Uint8Array.from({ length: width * height * 3 }, () => rng.int(0, 255)), width, height, channels: 3 };
}

/** The float64 text path: each transcript's tokens through the float64 tower, rows concatenated. */
function textRef(m: MerClip, texts: string[]): Float64Array {
  const p = weights64(m.label_encoder.text_model.namedParameters());
  const parts = texts.map((t) => textTowerRef(m.labels.tokenizer.encode(t), p, TEXT_REF));
  return Float64Array.from(parts.flatMap((x) => [...x]));
}

/** The float64 vision path: frames preprocessed, through the float64 tower, projected (or pooled). */
function visionRef(c: Clip, frames: RgbFrame[], embedding: 'projected' | 'pooled' = 'projected'): Float64Array {
  const { data } = preprocessImagesData(frames, { size: 32, crop: 32 });
  const { pooled } = visionTowerRef(data, weights64(c.vision_model!.namedParameters()), frames.length, VISION_REF);
  if (embedding === 'pooled') return pooled;
  return projectRef(pooled, Float64Array.from(c.visual_projection!.weight.data), 16, 12);
}

const towerRowsOf = (m: MerClip, samples: Sample[]): { text?: number[]; vision?: number[] } => {
  const [batch] = packSamples(samples, m.config, samples.length, { tokenizer: m.labels.tokenizer });
  return noGrad(() => tidy(() => {
    const r = m.towerRows(batch!);
    return { ...(r.text ? { text: r.text.toArray() } : {}), ...(r.vision ? { vision: r.vision.toArray() } : {}) };
  })) as { text?: number[]; vision?: number[] };
};

// Probabilities within atol; the score (Σ_c p_c·v_c) then within atol·Σ_c |v_c|, the bound those
// imply — its terms cancel (values −3 … 3), so a float32 rounding difference of the batch's own
// blocking (other GEMM / attention splits for 5 samples than for 2) shows up there several times
// over: 1.07e-6 on a score of 1e-4 at the AVX-512 level, with every probability within 1e-6.
function expectSamePredictions(a: Prediction[], b: Prediction[], atol: number): void {
  expect(a.length).toBe(b.length);
  expectClose(a.flatMap((p) => p.probs), b.flatMap((p) => p.probs), { rtol: 0, atol, label: 'probs' });
  const scoreAtol = atol * config.labelValues.reduce((s, v) => s + Math.abs(v), 0);
  expectClose(a.map((p) => p.score!), b.map((p) => p.score!), { rtol: 0, atol: scoreAtol, label: 'scores' });
}

describe('raw text through the CLIP text tower', () => {
  it('gives the float64 tower\'s hidden states after the final layer norm for every token, SOT … EOT', () => {
    const texts = ['I loved it', 'this was NOT good at all...', ''];
    const rows = towerRowsOf(model, texts.map((text) => ({ text })));
    const tokens = texts.map((t) => model.labels.tokenizer.encode(t).length);
    expect(tokens[2]).toBe(2); // the empty transcript is SOT, EOT
    expect(rows.text!.length).toBe(tokens.reduce((a, b) => a + b, 0) * 16);
    expectClose(rows.text!, textRef(model, texts), { rtol: 1e-4, atol: 2e-5, label: 'text hidden states' });
  });

  it("tower 'own' holds a copy (text_tower.text_model.*) loaded from the same checkpoint: the same rows", async () => {
    const own = await MerClip.fromClip(configFromClip(clip, BASE, { text: { tower: 'own' } }), clip);
    models.push(own);
    const names = [...own.namedParameters()].map(([n]) => n);
    expect(names).toContain('text_tower.text_model.encoder.layers.1.self_attn.q_proj.weight');
    expect(own.text_tower!.text_model === own.label_encoder.text_model).toBe(false);
    const texts = ['what a day', 'meh'];
    expectClose(towerRowsOf(own, texts.map((text) => ({ text }))).text!, textRef(model, texts), { rtol: 1e-4, atol: 2e-5 });
  });

  it('cuts a transcript longer than maxLength to maxLength tokens with EOT last (truncate, the default), or rejects it', async () => {
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const short = configFromClip(clip, BASE, { text: { maxLength: 10 } });
    expect(short.modalities.text.maxLength).toBe(10);
    const [b] = packSamples([{ text: long }], short, 1);
    const full = model.labels.tokenizer.encode(long);
    expect(full.length).toBeGreaterThan(10);
    expect([...b!.raw!.text!.ids]).toEqual([...full.slice(0, 9), 49407]);
    const strict = configFromClip(clip, BASE, { text: { maxLength: 10, truncate: false } });
    expect(() => packSamples([{ text: long }], strict, 1)).toThrow(/sample 0 text.*tokens.*more than the context length 10.*maxLength is 10/s);
  });

  it('validateSamples throws what packSamples throws, copies nothing, and a later pack reuses only ids of the same text and length', () => {
    const rng = new Rng(12);
    const frames = [randomFrame(rng, 9, 7)];
    const good: Sample[] = [{ text: 'a happy day' }, { text: 'so sad', vision: { frames } }];
    expect(() => validateSamples(good, config)).not.toThrow();
    const bad: Sample[][] = [
      [{ text: 'fine' }, {}],
      [{ vision: { frames: Array.from({ length: 7 }, () => frames[0]!) } }],
      [{ vision: { frames: [{ data: new Uint8Array(5), width: 2, height: 2, channels: 3 }] } }],
      [{ audio: new Float32Array(7) }],
      [{ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ') }],
    ];
    const strict = configFromClip(clip, BASE, { text: { maxLength: 10, truncate: false }, vision: { maxLength: 6 } });
    for (const [i, samples] of bad.entries()) {
      const cfg = i === 4 ? strict : config;
      let want = '';
      try { packSamples(samples, cfg, samples.length); } catch (e) { want = (e as Error).message; }
      expect(want, `case ${i} must fail`).not.toBe('');
      expect(() => validateSamples(samples, cfg), `case ${i}`).toThrow(want);
    }
    // After validation, the pack of the same objects equals the pack of fresh copies ...
    const fresh = (xs: Sample[]): Sample[] => xs.map((x) => ({ ...x }));
    const [packed] = packSamples(good, config, 2);
    const [wantPack] = packSamples(fresh(good), config, 2);
    expect([...packed!.raw!.text!.ids]).toEqual([...wantPack!.raw!.text!.ids]);
    // ... the frames were not copied by validation but are by the pack (the caller's stay theirs)
    expect(packed!.raw!.vision!.frames[0]!.data).not.toBe(frames[0]!.data);
    // ... and a sample whose text changed after validation is tokenized again.
    const edited: Sample[] = [{ text: 'a happy day' }];
    validateSamples(edited, config);
    edited[0]!.text = 'completely different words here';
    const [again] = packSamples(edited, config, 1);
    const [wantAgain] = packSamples([{ text: 'completely different words here' }], config, 1);
    expect([...again!.raw!.text!.ids]).toEqual([...wantAgain!.raw!.text!.ids]);
    // The same object under another maxLength is not served the cached ids either.
    const short = configFromClip(clip, BASE, { text: { maxLength: 3 } });
    const one: Sample[] = [{ text: 'a happy day today' }];
    validateSamples(one, config);
    expect(packSamples(one, short, 1)[0]!.raw!.text!.ids.length).toBe(3);
  });
});

describe('raw frames through the CLIP vision tower', () => {
  const rng = new Rng(5);
  const frames = [randomFrame(rng, 40, 36), randomFrame(rng, 32, 50), randomFrame(rng, 64, 64)];

  it('gives the float64 tower\'s projected embedding per frame (RgbFrames)', () => {
    const rows = towerRowsOf(model, [{ vision: { frames: frames.slice(0, 2), fps: 25 } }, { vision: { frames: [frames[2]!] } }]);
    expectClose(rows.vision!, visionRef(clip, frames), { rtol: 1e-4, atol: 2e-5, label: 'frame embeddings' });
  });

  it("embedding 'pooled' is the post-LN CLS state before the projection, in chunks of clip.batchSize frames", async () => {
    const c = configFromClip(clip, BASE, { vision: { embedding: 'pooled', batchSize: 2 } });
    expect(c.modalities.vision.dim).toBe(16);
    const pooled = await MerClip.fromClip(c, clip);
    models.push(pooled);
    expect(pooled.vision_tower!.visual_projection).toBeNull();
    const rows = towerRowsOf(pooled, [{ vision: { frames } }]);
    expectClose(rows.vision!, visionRef(clip, frames, 'pooled'), { rtol: 1e-4, atol: 2e-5 });
  });

  it('reads PNG files pixel-exactly and JPEG files through their decoded pixels', async () => {
    const f = frames[0]!;
    const png = join(dir, 'f0.png'), jpg = join(dir, 'f0.jpg');
    await sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: 3 } }).png().toFile(png);
    await sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality: 80 }).toFile(jpg);
    const jpgPixels = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
    const jpgFrame: RgbFrame = { data: new Uint8Array(jpgPixels.data), width: jpgPixels.info.width, height: jpgPixels.info.height, channels: 3 };
    expect(jpgFrame.data).not.toEqual(f.data); // lossy: the reference must use the decoded pixels
    const [s] = await featurize(model, [{ vision: { frames: [png, jpg] } }]);
    const feats = (s!.vision as { features: Float32Array }).features;
    expectClose(feats, visionRef(clip, [f, jpgFrame]), { rtol: 1e-4, atol: 2e-5, label: 'PNG, JPEG frame embeddings' });
    // PNG: the same numbers as the RgbFrame itself
    const [t] = await featurize(model, [{ vision: { frames: [f] } }]);
    expect((t!.vision as { features: Float32Array }).features).toEqual(feats.subarray(0, 12));
  });
});

describe('predict on raw inputs', () => {
  const rng = new Rng(9);
  const frames = Array.from({ length: 5 }, (_, i) => randomFrame(rng, 32 + 4 * i, 40 - 2 * i));
  const audio = (): { features: Float32Array; length: number } => ({ features: rng.fillNormal(new Float32Array(30 * 5)), length: rng.int(1, 30) });
  const samples: Sample[] = [
    { text: 'I loved it', audio: audio(), vision: { frames: frames.slice(0, 3) } },
    { text: 'It was awful, honestly.', audio: audio() },
    { vision: { frames: [frames[3]!] }, audio: audio() },
    { text: 'fine i guess', vision: { frames: frames.slice(3, 5) } },
    { text: 'no video here' },
  ];

  it('predict(raw) = predict(featurize(raw)) ≤ 1e-6, raw and feature samples mixed in one batch too', async () => {
    const raw = await model.predict(samples);
    const progress: Array<[number, number]> = [];
    const feats = await featurize(model, samples, { batchSize: 2, onProgress: (d, t) => progress.push([d, t]) });
    expect(progress).toEqual([[2, 5], [4, 5], [5, 5]]);
    expect((feats[0]!.text as { features: Float32Array }).features.length).toBe(model.labels.tokenizer.encode('I loved it').length * 16);
    expect(feats[0]!.audio).toBe(samples[0]!.audio); // features are kept as they are
    expectSamePredictions(await model.predict(feats), raw, 1e-6);
    const mixed = samples.map((s, i) => (i % 2 ? feats[i]! : s));
    expectSamePredictions(await model.predict(mixed), raw, 1e-6);
    expectSamePredictions(await model.predict(samples, { batchSize: 2 }), raw, 1e-6);
  });

  it('equals a forward on features built from the float64 towers', async () => {
    const raw = await model.predict(samples);
    const hand: Sample[] = samples.map((s) => ({
      ...s,
      text: typeof s.text === 'string' ? { features: Float32Array.from(textRef(model, [s.text])) } : s.text,
      vision: s.vision && 'frames' in s.vision ? { features: Float32Array.from(visionRef(clip, s.vision.frames as RgbFrame[])) } : s.vision,
    }));
    const [batch] = packSamples(hand, config, hand.length);
    const fwd = noGrad(() => tidy(() => model.forward(batch!).score.toArray()));
    expectClose(raw.map((p) => p.score!), fwd, { rtol: 0, atol: 1e-4, label: 'scores' });
  });

  it('works with dynamic batching: concurrent raw calls coalesced give the same numbers', async () => {
    const alone = await model.predict(samples);
    await model.setBatching({ maxBatchSize: 3, maxDelayMs: 20 });
    try {
      const each = await Promise.all(samples.map((s) => model.predict(s)));
      expectSamePredictions(each, alone, 1e-6);
    } finally {
      await model.setBatching(null);
    }
  });

  it('reads image files in predict() (decoded before packing) and names a missing one', async () => {
    const f = frames[0]!;
    const png = join(dir, 'p0.png');
    await sharp(Buffer.from(f.data), { raw: { width: f.width, height: f.height, channels: 3 } }).png().toFile(png);
    const [a, b] = await Promise.all([model.predict({ text: 'ok', vision: { frames: [png] } }), model.predict({ text: 'ok', vision: { frames: [f] } })]);
    expect(a.probs).toEqual(b.probs);
    await expect(model.predict({ vision: { frames: [join(dir, 'nope.png')] } })).rejects.toThrow(/sample 0 vision frame 0 \(.*nope\.png\): no such file/);
  });
});
