// The synthetic MOSI-shaped dataset: shapes, determinism, lengths and padding junk, label
// distribution, and the planted signal — the generator-aware oracle reaches the Bayes floor only
// with all three modalities *and* the masks; any one modality or any pair does much worse.
import { describe, expect, it } from 'vitest';

import {
  MODALITIES,
  MOSI_SHAPES,
  generateSynthetic,
  oraclePredict,
  type ModalityName,
  type SyntheticDataset,
} from '../../lib/data/index.js';
import { evaluateRegression } from '../../lib/eval/index.js';

const small = {
  sizes: { train: 40, valid: 7, test: 9 },
  text: { length: 10, dim: 6 },
  audio: { length: 21, dim: 3 },
  vision: { length: 15, dim: 4 },
};

describe('generateSynthetic', () => {
  it('has the split layout and shapes asked for', () => {
    const ds = generateSynthetic({ seed: 1, ...small });
    for (const s of ['train', 'valid', 'test'] as const) {
      const sp = ds.splits[s];
      expect(sp.count).toBe(small.sizes[s]);
      expect(sp.ids.length).toBe(sp.count);
      expect(new Set(sp.ids).size).toBe(sp.count);
      expect(sp.labels).toBeInstanceOf(Float32Array);
      expect(sp.labels.length).toBe(sp.count);
      for (const m of MODALITIES) {
        const { length: L, dim: D } = small[m];
        expect(sp[m].length).toBe(L);
        expect(sp[m].dim).toBe(D);
        expect(sp[m].features).toBeInstanceOf(Float32Array);
        expect(sp[m].features.length).toBe(sp.count * L * D);
        expect(sp[m].lengths).toBeInstanceOf(Int32Array);
        expect(sp[m].lengths.length).toBe(sp.count);
        expect(sp[m].features.every(Number.isFinite)).toBe(true);
      }
    }
    expect(ds.splits.train.ids[0]).toBe('train_0000');
  });

  it('is deterministic in the seed; splits and labels are independent of other sizes and dims', () => {
    const a = generateSynthetic({ seed: 5, ...small });
    const b = generateSynthetic({ seed: 5, ...small });
    const c = generateSynthetic({ seed: 6, ...small });
    expect(a.splits.train.text.features).toEqual(b.splits.train.text.features);
    expect(a.splits.test.vision.features).toEqual(b.splits.test.vision.features);
    expect(a.splits.train.labels).toEqual(b.splits.train.labels);
    expect(a.splits.train.labels).not.toEqual(c.splits.train.labels);
    // a bigger train split leaves valid/test untouched
    const d = generateSynthetic({ seed: 5, ...small, sizes: { ...small.sizes, train: 80 } });
    expect(d.splits.test.audio.features).toEqual(a.splits.test.audio.features);
    expect(d.splits.train.labels.subarray(0, 40)).toEqual(a.splits.train.labels);
    // other feature dims: same latents, lengths, labels
    const e = generateSynthetic({ seed: 5, ...small, text: { length: 10, dim: 32 } });
    expect(e.splits.train.labels).toEqual(a.splits.train.labels);
    expect(e.splits.train.text.lengths).toEqual(a.splits.train.text.lengths);
  });

  it('draws true lengths in [⌈0.3·L⌉, L] and fills padding with large junk', () => {
    const ds = generateSynthetic({ seed: 2, ...small, sizes: { train: 300, valid: 0, test: 0 } });
    const sp = ds.splits.train;
    for (const m of MODALITIES) {
      const { length: L, dim: D } = sp[m];
      const lens = Array.from(sp[m].lengths);
      expect(Math.min(...lens)).toBe(Math.ceil(0.3 * L));
      expect(Math.max(...lens)).toBe(L);
      let validAbs = 0, validN = 0, padAbs = 0, padN = 0;
      for (let i = 0; i < sp.count; i++) {
        for (let t = 0; t < L; t++) {
          for (let d = 0; d < D; d++) {
            const v = Math.abs(sp[m].features[(i * L + t) * D + d]!);
            if (t < lens[i]!) { validAbs += v; validN++; } else { padAbs += v; padN++; }
          }
        }
      }
      expect(validAbs / validN, m).toBeLessThan(4);
      expect(padAbs / padN, m).toBeGreaterThan(20); // uniform ±50 has mean |x| = 25
    }
    // lengths of at least 1 even for tiny L
    const t = generateSynthetic({ seed: 2, sizes: { train: 50, valid: 0, test: 0 }, text: { length: 1, dim: 2 }, audio: { length: 2, dim: 1 }, vision: { length: 3, dim: 1 } });
    expect(t.splits.train.text.lengths.every((n) => n === 1)).toBe(true);
  });

  it('gives MOSI-like labels: in [−3, 3], steps of 1/3, every Acc-7 class present', () => {
    const ds = generateSynthetic({ seed: 3, ...small, sizes: { train: 1284, valid: 0, test: 0 } });
    const y = ds.splits.train.labels;
    const hist = new Array<number>(7).fill(0);
    for (const v of y) {
      expect(v).toBeGreaterThanOrEqual(-3);
      expect(v).toBeLessThanOrEqual(3);
      expect(Math.abs(v * 3 - Math.round(v * 3))).toBeLessThan(1e-5);
      hist[Math.round(v) + 3]!++;
    }
    for (let c = 0; c < 7; c++) expect(hist[c], `class ${c - 3}: ${hist.join(' ')}`).toBeGreaterThan(0.04 * y.length);
    const unquantized = generateSynthetic({ seed: 3, ...small, quantizeLabels: false });
    expect(unquantized.splits.train.labels.some((v) => Math.abs(v * 3 - Math.round(v * 3)) > 0.01)).toBe(true);
  });

  it('rejects bad options with a RangeError', () => {
    expect(() => generateSynthetic({ seed: 1.5 })).toThrow(/seed/);
    expect(() => generateSynthetic({ seed: 1, ...small, text: { length: 0, dim: 3 } })).toThrow(/text\.length/);
    expect(() => generateSynthetic({ seed: 1, ...small, sizes: { train: -1, valid: 0, test: 0 } })).toThrow(/sizes\.train/);
    expect(() => generateSynthetic({ seed: 1, ...small, minLengthFraction: 2 })).toThrow(/minLengthFraction/);
  });
});

describe('the planted cross-modal signal (oracle on the full-size default dataset)', () => {
  // Default sizes and shapes (1284/229/686; text 50×768, audio 375×5, vision 500×20): ≈ 440 MB
  // of features, generated in ≈ 1.7 s on a 2-core machine.
  let ds: SyntheticDataset;
  let genMs = 0;
  const acc = (use: readonly ModalityName[], extra: { ignoreLengths?: boolean } = {}) => {
    const test = ds.splits.test;
    return evaluateRegression(oraclePredict(ds, test, { use, ...extra }), test.labels);
  };

  it('generates the default MOSI shapes quickly', () => {
    const t0 = performance.now();
    ds = generateSynthetic({ seed: 1 });
    genMs = performance.now() - t0;
    expect(genMs).toBeLessThan(10_000);
    expect(ds.splits.train.count).toBe(1284);
    expect(ds.splits.valid.count).toBe(229);
    expect(ds.splits.test.count).toBe(686);
    for (const m of MODALITIES) {
      expect(ds.splits.train[m].length).toBe(MOSI_SHAPES[m].length);
      expect(ds.splits.train[m].dim).toBe(MOSI_SHAPES[m].dim);
      expect(ds.splits.train[m].features.length).toBe(1284 * MOSI_SHAPES[m].length * MOSI_SHAPES[m].dim);
    }
  });

  it('all three modalities with masks: near-perfect (the Bayes floor)', () => {
    const m = acc(MODALITIES);
    // measured (seed 1): Acc-2 0.959/0.989, Acc-7 0.862, MAE 0.124, Corr 0.992
    expect(m.acc2Has0).toBeGreaterThanOrEqual(0.95);
    expect(m.acc2Non0).toBeGreaterThanOrEqual(0.97);
    expect(m.mae).toBeLessThan(0.2);
    expect(m.corr).toBeGreaterThan(0.98);
    expect(m.acc7).toBeGreaterThan(0.8);
  });

  it('any single modality is close to chance', () => {
    // measured (seed 1): text 0.570, audio 0.516, vision 0.552 (Acc-2 has-0); MAE ≈ 1.35–1.37,
    // against 1.405 for predicting 0 everywhere
    for (const m of MODALITIES) {
      const r = acc([m]);
      expect(r.acc2Has0, m).toBeLessThanOrEqual(0.62);
      expect(r.corr, m).toBeLessThan(0.3);
      expect(r.mae, m).toBeGreaterThan(1.2);
    }
  });

  it('any pair of modalities is informative but far from enough', () => {
    // measured (seed 1): text+audio 0.688, text+vision 0.733, audio+vision 0.713; MAE ≈ 1.0,
    // Corr ≈ 0.54–0.61
    const pairs: ModalityName[][] = [['text', 'audio'], ['text', 'vision'], ['audio', 'vision']];
    for (const p of pairs) {
      const r = acc(p);
      expect(r.acc2Has0, p.join('+')).toBeLessThanOrEqual(0.76);
      expect(r.mae, p.join('+')).toBeGreaterThan(0.8);
      expect(r.corr, p.join('+')).toBeLessThan(0.7);
    }
  });

  it('ignoring the masks (pooling over padding) destroys the signal', () => {
    // measured (seed 1): Acc-2 0.528, Corr 0.03
    const r = acc(MODALITIES, { ignoreLengths: true });
    expect(r.acc2Has0).toBeLessThanOrEqual(0.6);
    expect(Math.abs(r.corr)).toBeLessThan(0.2);
  });
});
