// MMSA's MOSI/MOSEI regression metrics on hand-made cases: .5 boundaries (half-to-even rounding),
// clipping, zero labels (the has-0 / non-0 forms), a class that is never predicted (weighted F1),
// perfect predictions, and a case worked out by hand.
import { describe, expect, it } from 'vitest';

import {
  evaluateRegression,
  formatMeanStdTable,
  formatMeanStdValue,
  formatMetricTable,
  meanStd,
  pearson,
  roundHalfEven,
  weightedF1Binary,
  type RegressionMetrics,
} from '../../lib/eval/index.js';
import { makeRng } from '../helpers/seed.js';

describe('roundHalfEven (np.round semantics)', () => {
  it('rounds ties to the even neighbour', () => {
    const cases: Array<[number, number]> = [
      [0.5, 0],
      [1.5, 2],
      [2.5, 2],
      [3.5, 4],
      [-1.5, -2],
      [-2.5, -2],
      [-3.5, -4],
      [0.49999999999999994, 0],
      [0.5000000000000001, 1],
      [-0.5000000000000001, -1],
      [2.4999999999999996, 2],
      [1.4, 1],
      [1.6, 2],
      [-1.4, -1],
      [-1.6, -2],
      [7, 7],
      [-7, -7],
      [2 ** 53, 2 ** 53],
      [4503599627370497, 4503599627370497], // 2^52 + 1: already an integer
    ];
    for (const [x, want] of cases) expect(roundHalfEven(x), `round(${x})`).toBe(want);
  });

  it('gives −0 for −0.5 and small negatives, like numpy', () => {
    expect(Object.is(roundHalfEven(-0.5), -0)).toBe(true);
    expect(Object.is(roundHalfEven(-0.3), -0)).toBe(true);
    expect(Object.is(roundHalfEven(0.5), 0)).toBe(true);
    // −0 and 0 are the same class in the comparison
    expect(roundHalfEven(-0.5) === roundHalfEven(0.4)).toBe(true);
  });

  it('agrees with a floor-based reference on random values, including every x.5', () => {
    const rng = makeRng(7);
    const ref = (x: number): number => {
      const f = Math.floor(x);
      const d = x - f;
      if (d < 0.5) return f;
      if (d > 0.5) return f + 1;
      return f % 2 === 0 ? f : f + 1;
    };
    for (let i = 0; i < 2000; i++) {
      const x = i < 200 ? (i - 100) + 0.5 : rng.uniform(-10, 10);
      expect(roundHalfEven(x) === ref(x), `x = ${x}`).toBe(true);
    }
  });
});

describe('evaluateRegression', () => {
  it('matches a case worked out by hand', () => {
    //  i   pred   label | Acc-7 (clip ±3, round)  | Acc-5 (clip ±2)   | has-0 t/p | non-0 t/p
    //  0   -2.6   -3    | -3 vs -3 ✓              | -2 vs -2 ✓        | F/F ✓     | F/F ✓
    //  1   -0.4    0    | -0 vs  0 ✓              | ✓                 | T/F ✗     | (dropped: y = 0)
    //  2    0.5    0.4  |  0 vs  0 ✓ (0.5 → 0)    | ✓                 | T/T ✓     | T/T ✓
    //  3    1.5    2    |  2 vs  2 ✓ (1.5 → 2)    | ✓                 | T/T ✓     | T/T ✓
    //  4    2.5    2    |  2 vs  2 ✓ (2.5 → 2)    | ✓                 | T/T ✓     | T/T ✓
    //  5    3.5    3    |  3 vs  3 ✓ (clipped)    | 2 vs 2 ✓          | T/T ✓     | T/T ✓
    //  6   -0.5   -1    | -0 vs -1 ✗              | ✗                 | F/F ✓     | F/F ✓
    //  7    0.2   -0.3  |  0 vs -0 ✓              | ✓                 | F/T ✗     | F/T ✗
    //  8    2.4    3    |  2 vs  3 ✗              | 2 vs 2 ✓          | T/T ✓     | T/T ✓
    //  9   -1.5   -2.5  | -2 vs -2 ✓ (both ties)  | ✓                 | F/F ✓     | F/F ✓
    // Acc-7 = 8/10, Acc-5 = 9/10, Acc-2 has-0 = 8/10, Acc-2 non-0 = 8/9.
    // F1 has-0: class T: TP 5 (2,3,4,5,8), FP 1 (7), FN 1 (1) → 10/12, support 6;
    //           class F: TP 3 (0,6,9), FP 1 (1), FN 1 (7) → 6/8, support 4;  (6·10/12 + 4·6/8)/10 = 0.8
    // F1 non-0: class T: TP 5, FP 1 (7), FN 0 → 10/11, support 5;
    //           class F: TP 3, FP 0, FN 1 (7) → 6/7, support 4;  (50/11 + 24/7)/9 = 614/693
    // MAE: |d| = .4 .4 .1 .5 .5 .5 .5 .5 .6 1.0 → 5.0 / 10 = 0.5
    const preds = [-2.6, -0.4, 0.5, 1.5, 2.5, 3.5, -0.5, 0.2, 2.4, -1.5];
    const labels = [-3, 0, 0.4, 2, 2, 3, -1, -0.3, 3, -2.5];
    const m = evaluateRegression(preds, labels);
    expect(m.count).toBe(10);
    expect(m.countNon0).toBe(9);
    expect(m.acc7).toBeCloseTo(0.8, 12);
    expect(m.acc5).toBeCloseTo(0.9, 12);
    expect(m.acc2Has0).toBeCloseTo(0.8, 12);
    expect(m.f1Has0).toBeCloseTo(0.8, 12);
    expect(m.acc2Non0).toBeCloseTo(8 / 9, 12);
    expect(m.f1Non0).toBeCloseTo(614 / 693, 12);
    expect(m.mae).toBeCloseTo(0.5, 12);
    // Corr against an independent one-pass formula
    const n = preds.length;
    let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (let i = 0; i < n; i++) {
      const x = preds[i]!;
      const y = labels[i]!;
      sx += x; sy += y; sxx += x * x; syy += y * y; sxy += x * y;
    }
    const r = (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
    expect(m.corr).toBeCloseTo(r, 10);
  });

  it('Pearson on a small hand case, and NaN for constant input (as np.corrcoef)', () => {
    // deviations (-1, 0, 1) and (-1, 1, 0): Σab = 1, Σa² = Σb² = 2 → r = 0.5
    expect(pearson([1, 2, 3], [1, 3, 2])).toBeCloseTo(0.5, 14);
    expect(evaluateRegression([1, 2, 3], [1, 3, 2]).corr).toBeCloseTo(0.5, 14);
    expect(Number.isNaN(evaluateRegression([1, 1, 1], [1, 2, 3]).corr)).toBe(true);
    expect(Number.isNaN(evaluateRegression([1, 2, 3], [2, 2, 2]).corr)).toBe(true);
    expect(Number.isNaN(evaluateRegression([0.3], [0.3]).corr)).toBe(true);
  });

  it('perfect predictions score 1 everywhere and MAE 0', () => {
    const labels = new Float32Array([-3, -2, -1.3333333, -0.6666667, 0, 0.3333333, 1, 2.6666667, 3]);
    const m = evaluateRegression(labels, labels);
    expect(m).toMatchObject({ mae: 0, acc7: 1, acc5: 1, acc2Has0: 1, f1Has0: 1, acc2Non0: 1, f1Non0: 1, count: 9, countNon0: 8 });
    expect(m.corr).toBeCloseTo(1, 12);
  });

  it('zero labels count as non-negative for has-0 and are dropped for non-0', () => {
    // labels 0, 0, 1, -1; preds -0.1, 0.1, 0.5, 0.5
    // has-0: truth T T T F, pred F T T T → 2/4.  non-0: keeps (1 vs 0.5: T/T ✓), (-1 vs 0.5: F/T ✗) → 1/2
    const m = evaluateRegression([-0.1, 0.1, 0.5, 0.5], [0, 0, 1, -1]);
    expect(m.acc2Has0).toBe(0.5);
    expect(m.acc2Non0).toBe(0.5);
    expect(m.countNon0).toBe(2);
    // non-0 F1: class T: TP 1, FP 1, FN 0 → 2/3 (support 1); class F: TP 0 → 0 (support 1) → 1/3
    expect(m.f1Non0).toBeCloseTo(1 / 3, 12);
    // a prediction of exactly 0 is non-negative (has-0) but not positive (non-0)
    const z = evaluateRegression([0, 0], [0.5, -0.5]);
    expect(z.acc2Has0).toBe(0.5); // T/T ✓, F/T ✗
    expect(z.acc2Non0).toBe(0.5); // T/F ✗, F/F ✓
  });

  it('all-zero labels leave nothing for the non-0 forms: NaN', () => {
    const m = evaluateRegression([0.2, -0.2], [0, 0]);
    expect(m.countNon0).toBe(0);
    expect(Number.isNaN(m.acc2Non0)).toBe(true);
    expect(Number.isNaN(m.f1Non0)).toBe(true);
    expect(m.acc2Has0).toBe(0.5);
  });

  it('a class never predicted gets F1 0 and its support still weighs (sklearn weighted F1)', () => {
    // truth (has-0): T T F F; every prediction positive.
    // class T: TP 2, FP 2, FN 0 → 4/6; class F: TP 0 → 0; weighted (2·2/3 + 2·0)/4 = 1/3
    const m = evaluateRegression([1, 1, 1, 1], [1, 2, -1, -2]);
    expect(m.acc2Has0).toBe(0.5);
    expect(m.f1Has0).toBeCloseTo(1 / 3, 12);
    expect(m.f1Non0).toBeCloseTo(1 / 3, 12);
    // a class predicted but absent from the truth has weight 0
    // truth all T; preds T F T T → class T: TP 3, FN 1 → 6/7, support 4; class F: support 0
    expect(weightedF1Binary([true, true, true, true], [true, false, true, true])).toBeCloseTo(6 / 7, 12);
    // one class only, all correct → 1
    expect(weightedF1Binary([false, false], [false, false])).toBe(1);
  });

  it('Acc-7 and Acc-5 clip before rounding', () => {
    // 3.5 → clip 3 → 3 (unclipped np.round would give 4); −2.6 → clip −2 for Acc-5
    expect(evaluateRegression([3.5], [3]).acc7).toBe(1);
    expect(evaluateRegression([10], [2.6]).acc7).toBe(1);
    expect(evaluateRegression([-2.6], [-1.5]).acc5).toBe(1); // −2 vs −2
    expect(evaluateRegression([-2.6], [-1.5]).acc7).toBe(0); // −3 vs −2
    expect(evaluateRegression([2.5], [1.5]).acc7).toBe(1); // 2 vs 2 (both ties)
    expect(evaluateRegression([0.5], [-0.5]).acc7).toBe(1); // 0 vs −0
  });

  it('accepts Float32Array, Float64Array and number[] alike', () => {
    const p = [0.1, -1.2, 2.2, 0.9];
    const y = [0.3, -0.9, 1.8, -0.2];
    const a = evaluateRegression(p, y);
    const b = evaluateRegression(Float64Array.from(p), Float64Array.from(y));
    expect(b).toEqual(a);
    const c = evaluateRegression(Float32Array.from(p), Float32Array.from(y));
    expect(c.acc7).toBe(a.acc7);
    expect(c.mae).toBeCloseTo(a.mae, 6);
  });

  it('rejects bad input with a RangeError that says what is wrong', () => {
    expect(() => evaluateRegression([1, 2], [1])).toThrow(/preds has 2 values but labels has 1/);
    expect(() => evaluateRegression([], [])).toThrow(RangeError);
    expect(() => evaluateRegression([1, NaN], [1, 2])).toThrow(/preds\[1\] = NaN/);
    expect(() => evaluateRegression([1, 2], [Infinity, 2])).toThrow(/labels\[0\] = Infinity/);
    expect(() => evaluateRegression(new Float32Array([1]), new Float32Array([-Infinity]))).toThrow(RangeError);
  });
});

describe('formatting and mean ± std', () => {
  const m1: RegressionMetrics = evaluateRegression(
    [-2.6, -0.4, 0.5, 1.5, 2.5, 3.5, -0.5, 0.2, 2.4, -1.5],
    [-3, 0, 0.4, 2, 2, 3, -1, -0.3, 3, -2.5],
  );

  it('prints the paper-style table', () => {
    const t = formatMetricTable(m1);
    const [head, row] = t.split('\n');
    expect(head).toMatch(/^Acc-2 \(has0\/non0\) {2}F1 \(has0\/non0\) {2}Acc-7 {2}Acc-5 {2}MAE {4}Corr$/);
    expect(row).toMatch(/^80\.0\/88\.9 +80\.0\/88\.6 +80\.0 +90\.0 +0\.500 +0\.\d{3}$/);
    // columns line up: every cell starts where its header starts
    for (const h of ['F1', 'Acc-7', 'Acc-5', 'MAE', 'Corr']) {
      const col = head!.indexOf(h);
      expect(row![col - 1], h).toBe(' ');
      expect(row![col], h).not.toBe(' ');
    }
  });

  it('meanStd gives the mean and the sample std per field', () => {
    const m2: RegressionMetrics = { ...m1, acc2Has0: 0.9, mae: 0.7 };
    const ms = meanStd([m1, m2]);
    expect(ms.runs).toBe(2);
    expect(ms.mean.acc2Has0).toBeCloseTo(0.85, 12);
    expect(ms.std.acc2Has0).toBeCloseTo(Math.SQRT2 * 0.05, 12); // ddof = 1
    expect(ms.mean.mae).toBeCloseTo(0.6, 12);
    expect(ms.std.acc7).toBe(0);
    expect(formatMeanStdValue('acc2Has0', ms.mean.acc2Has0, ms.std.acc2Has0)).toBe('85.0±7.1');
    expect(formatMeanStdValue('mae', ms.mean.mae, ms.std.mae)).toBe('0.600±0.141');
    const t = formatMeanStdTable(ms);
    expect(t.split('\n')[1]).toMatch(/^85\.0±7\.1\/88\.9±0\.0 /);
    // one run: std undefined → NaN, printed as the mean alone
    const one = meanStd([m1]);
    expect(Number.isNaN(one.std.mae)).toBe(true);
    expect(formatMeanStdValue('mae', one.mean.mae, one.std.mae)).toBe('0.500');
    expect(() => meanStd([])).toThrow(RangeError);
  });
});
