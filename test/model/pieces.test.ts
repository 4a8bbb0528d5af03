// test/model/pieces.test.ts — predict()'s worker runs a batch as pieces of at most
// MERCLIP_PREDICT_PIECE_ROWS rows per modality (batchPieces / sliceBatch in lib/model/batch.ts),
// so its activations are bounded by the piece. Checked here: the pieces cover the batch in order
// and are the greedy maximal ones under the budget; a slice is the batch's samples (rows, layout,
// labels, raw tokens and frames); the model's forward over the pieces equals its forward over the
// whole batch; and predict() with a small budget (set before the worker starts) equals the
// main thread's forward of the whole batch.
import { afterAll, describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import type { RgbFrame } from '../../lib/clip/image.js';
import { MODALITIES } from '../../lib/data/batch.js';
import { batchPieces, type ModelBatch, packSamples, type Sample, sliceBatch } from '../../lib/model/batch.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';
import { layoutOf } from '../../lib/tensor/packed.js';
import { expectClose } from '../helpers/compare.js';

process.env.MERCLIP_PREDICT_PIECE_ROWS = '300'; // read by the worker when it starts (below)

const config = makeConfig('tiny', {
  width: 32,
  heads: 2,
  modalities: { text: { dim: 12, maxLength: 40 }, audio: { dim: 5, maxLength: 300 }, vision: { dim: 6, maxLength: 400 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});
const model = new MerClip(config, undefined, { seed: 4 });
afterAll(async () => {
  await model.close();
  delete process.env.MERCLIP_PREDICT_PIECE_ROWS;
});

const rng = new Rng(11);
const mod = (L: number, D: number, min = 0): { features: Float32Array; length: number } =>
  ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(min, L) });
/** Samples with every modality's length drawn in [0, L] (0: absent), at least one present. */
function samplesOf(n: number): Sample[] {
  return Array.from({ length: n }, (_, i) => ({ text: mod(40, 12, i % 3 === 0 ? 1 : 0), audio: mod(300, 5), vision: mod(400, 6) }));
}

/** A batch of the given per-modality lengths (rows numbered so a slice can be checked by value). */
function layoutBatch(lengths: Record<'text' | 'audio' | 'vision', number[]>): ModelBatch {
  const count = lengths.text.length;
  const b: ModelBatch = { count, labels: Float32Array.from({ length: count }, (_, i) => i / 10) };
  for (const m of MODALITIES) {
    const lay = layoutOf(lengths[m]);
    const dim = 3;
    b[m] = lay.offsets[count] === 0 ? null : { rows: Float32Array.from({ length: lay.offsets[count]! * dim }, (_, i) => i), dim, ...lay };
  }
  return b;
}

describe('batchPieces', () => {
  it('covers the batch in order with the greedy maximal pieces under the budget', () => {
    for (let trial = 0; trial < 200; trial++) {
      const count = rng.int(1, 20);
      const draw = (max: number): number[] => Array.from({ length: count }, () => (rng.next() < 0.2 ? 0 : rng.int(0, max)));
      const b = layoutBatch({ text: draw(30), audio: draw(200), vision: draw(400) });
      const budget = rng.int(1, 900);
      const pieces = batchPieces(b, budget);
      const rowsOf = (b0: number, b1: number): number[] => MODALITIES.map((m) => (b[m] ? b[m]!.offsets[b1]! - b[m]!.offsets[b0]! : 0));
      let next = 0;
      for (const [b0, b1] of pieces) {
        expect(b0).toBe(next);
        expect(b1).toBeGreaterThan(b0);
        // within the budget, unless the piece is one sample that alone exceeds it
        if (b1 - b0 > 1) for (const r of rowsOf(b0, b1)) expect(r).toBeLessThanOrEqual(budget);
        // maximal: the next sample would pass the budget of some modality
        if (b1 < count) expect(rowsOf(b0, b1 + 1).some((r) => r > budget)).toBe(true);
        next = b1;
      }
      expect(next).toBe(count);
    }
  });

  it('gives the whole batch as one piece when it fits, one sample per piece when none fit two', () => {
    const b = layoutBatch({ text: [5, 6, 7], audio: [10, 0, 10], vision: [0, 3, 4] });
    expect(batchPieces(b, 25)).toEqual([[0, 3]]);
    expect(batchPieces(b, 1)).toEqual([[0, 1], [1, 2], [2, 3]]);
    expect(batchPieces(b, 12)).toEqual([[0, 2], [2, 3]]); // text 5 + 6 = 11 ≤ 12, + 7 passes
    expect(() => batchPieces(b, 0)).toThrow(/rowBudget must be a positive integer, received 0/);
    expect(() => batchPieces(b, 2.5)).toThrow(/rowBudget must be a positive integer/);
  });
});

describe('sliceBatch', () => {
  it('is the samples [b0, b1): their rows, rebased layout, labels; null where none has the modality', () => {
    const b = layoutBatch({ text: [2, 0, 3, 1], audio: [0, 0, 4, 0], vision: [1, 2, 0, 3] });
    const s = sliceBatch(b, 1, 3);
    expect(s.count).toBe(2);
    expect(Array.from(s.labels!)).toEqual([b.labels![1], b.labels![2]]);
    expect(Array.from(s.text!.lengths)).toEqual([0, 3]);
    expect(Array.from(s.text!.offsets)).toEqual([0, 0, 3]);
    expect(s.text!.maxLength).toBe(3);
    expect(Array.from(s.text!.rows)).toEqual(Array.from(b.text!.rows.slice(2 * 3, 5 * 3)));
    expect(Array.from(s.audio!.rows)).toEqual(Array.from(b.audio!.rows));
    expect(Array.from(s.vision!.offsets)).toEqual([0, 2, 2]);
    expect(Array.from(s.vision!.rows)).toEqual(Array.from(b.vision!.rows.slice(1 * 3, 3 * 3)));
    expect(sliceBatch(b, 0, 2).audio).toBeNull(); // no audio rows among samples 0, 1
    expect(s.text!.rows.buffer).toBe(b.text!.rows.buffer); // a view, not a copy
    for (const [b0, b1] of [[0, 0], [2, 1], [-1, 2], [0, 5], [0.5, 2]]) {
      expect(() => sliceBatch(b, b0!, b1!)).toThrow(/sliceBatch: expected 0 ≤ b0 < b1 ≤ 4/);
    }
  });

  it('slices raw transcripts and frames with their samples', () => {
    const b = layoutBatch({ text: [2, 3, 0, 1], audio: [1, 1, 1, 1], vision: [1, 2, 2, 0] });
    const frame = (v: number): RgbFrame => ({ data: new Uint8Array(12).fill(v), width: 2, height: 2, channels: 3 });
    b.raw = {
      text: { ids: Int32Array.from([10, 11, 20, 21, 22, 40]), lengths: Int32Array.from([2, 3, 0, 1]) },
      vision: { frames: [frame(1), frame(2), frame(3)], lengths: Int32Array.from([1, 0, 2, 0]) }, // sample 1's vision: features
    };
    const s = sliceBatch(b, 1, 4);
    expect(Array.from(s.raw!.text!.ids)).toEqual([20, 21, 22, 40]);
    expect(Array.from(s.raw!.text!.lengths)).toEqual([3, 0, 1]);
    expect(s.raw!.vision!.frames.map((f) => f.data[0])).toEqual([2, 3]);
    expect(Array.from(s.raw!.vision!.lengths)).toEqual([0, 2, 0]);
    const first = sliceBatch(b, 1, 2); // sample 1: raw text, vision from features
    expect(Array.from(first.raw!.text!.ids)).toEqual([20, 21, 22]);
    expect(first.raw!.vision).toBeUndefined();
  });
});

describe('a batch run in pieces', () => {
  it('the forward over the pieces equals the forward over the whole batch', () => {
    const samples = samplesOf(9);
    const [batch] = packSamples(samples, config, samples.length);
    const whole = noGrad(() => tidy(() => model.forward(batch!).probs.toArray()));
    const pieces = batchPieces(batch!, 250);
    expect(pieces.length).toBeGreaterThan(2);
    const got = pieces.flatMap(([b0, b1]) => noGrad(() => tidy(() => model.forward(sliceBatch(batch!, b0, b1)).probs.toArray())));
    expectClose(Float32Array.from(got), Float32Array.from(whole), { atol: 1e-6, rtol: 1e-6 });
  });

  it('predict() with a 300-row budget equals the main thread forward of the whole batch', async () => {
    const samples = samplesOf(12);
    const [batch] = packSamples(samples, config, samples.length);
    expect(batchPieces(batch!, 300).length).toBeGreaterThan(3); // the worker's budget splits it
    const want = noGrad(() => tidy(() => {
      const out = model.forward(batch!, { labels: ['calm', 'joy', 'anger'], values: [0, 1, -1] });
      return { probs: out.probs.toArray(), score: out.score.toArray() };
    }));
    const got = await model.predict(samples, { labels: ['calm', 'joy', 'anger'], values: [0, 1, -1] });
    expect(got).toHaveLength(12);
    expectClose(Float32Array.from(got.flatMap((p) => p.probs)), Float32Array.from(want.probs), { atol: 1e-6, rtol: 1e-6 });
    expectClose(Float32Array.from(got.map((p) => p.score)), Float32Array.from(want.score), { atol: 1e-6, rtol: 1e-6 });
  });
});
