// lib/eval/metrics.ts — the regression metrics MMSA reports for CMU-MOSI / CMU-MOSEI.
//
// Follows MMSA's `MetricsTop.__eval_mosi_regression` (metricsTop.py) exactly:
//   MAE      mean |ŷ − y|
//   Corr     Pearson correlation (np.corrcoef); NaN when either side is constant or N = 1, as
//            numpy gives (0/0) — we return NaN rather than inventing a value
//   Acc-7    ŷ and y clipped to [−3, 3], rounded half-to-even (np.round), compared
//   Acc-5    the same with clipping to [−2, 2]
//   Acc-2 / F1 has-0:  negative (< 0) vs non-negative (≥ 0), for ŷ and y alike
//   Acc-2 / F1 non-0:  samples with y = 0 dropped, then ŷ > 0 vs y > 0
//   F1       sklearn f1_score(y_true, y_pred, average='weighted') over the two classes: per-class
//            F1 = 2TP / (2TP + FP + FN), weighted by the class's support in y_true. A class that
//            occurs in y_true but is never predicted has F1 0 (sklearn's zero_division default
//            gives precision 0 there; TP = 0 makes F1 0 either way); a class that is predicted
//            but absent from y_true has weight 0. When no label is non-zero, the non-0 figures are
//            NaN (there is nothing to score).
// Accuracies are fractions in [0, 1] (the table prints them as percentages). Arithmetic is float64
// (MMSA works on float32 arrays; the clipping/rounding comparisons are identical because every
// float32 value is exact in float64, and MAE/Corr differ only in the last float32 digit).

export type NumArray = Float32Array | Float64Array | readonly number[];

export interface RegressionMetrics {
  mae: number;
  corr: number;
  acc7: number;
  acc5: number;
  acc2Has0: number;
  f1Has0: number;
  acc2Non0: number;
  f1Non0: number;
  /** Number of samples. */
  count: number;
  /** Number of samples with a non-zero label (those scored by the non-0 forms). */
  countNon0: number;
}

/** The metric fields that are averaged over runs (everything but the counts). */
export const METRIC_FIELDS = ['acc2Has0', 'acc2Non0', 'f1Has0', 'f1Non0', 'acc7', 'acc5', 'mae', 'corr'] as const;
export type MetricField = (typeof METRIC_FIELDS)[number];

/**
 * Round half to even, as numpy's np.round / np.rint: 0.5 → 0, 1.5 → 2, 2.5 → 2, −0.5 → −0,
 * −1.5 → −2. Exact for every double: Math.round rounds ties up, and r − x is computed exactly
 * (Sterbenz), so a tie is detected only for true ties.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

function clip(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

function checkInputs(preds: NumArray, labels: NumArray): number {
  const isArr = (a: unknown): boolean => Array.isArray(a) || a instanceof Float32Array || a instanceof Float64Array;
  if (!isArr(preds)) throw new TypeError('evaluateRegression: preds must be a Float32Array, Float64Array or number[]');
  if (!isArr(labels)) throw new TypeError('evaluateRegression: labels must be a Float32Array, Float64Array or number[]');
  if (preds.length !== labels.length) {
    throw new RangeError(`evaluateRegression: preds has ${preds.length} values but labels has ${labels.length}`);
  }
  if (preds.length < 1) throw new RangeError('evaluateRegression: need at least one sample');
  for (let i = 0; i < preds.length; i++) {
    const p = preds[i];
    if (typeof p !== 'number' || !Number.isFinite(p)) throw new RangeError(`evaluateRegression: preds[${i}] = ${String(p)} is not a finite number`);
    const y = labels[i];
    if (typeof y !== 'number' || !Number.isFinite(y)) throw new RangeError(`evaluateRegression: labels[${i}] = ${String(y)} is not a finite number`);
  }
  return preds.length;
}

/** Pearson correlation in float64; NaN when either input has zero variance (as np.corrcoef). */
export function pearson(a: NumArray, b: NumArray): number {
  const n = a.length;
  if (n !== b.length || n === 0) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return NaN;
  const r = sab / Math.sqrt(saa * sbb);
  return r > 1 ? 1 : r < -1 ? -1 : r; // np.corrcoef clips to [−1, 1] too
}

/**
 * sklearn's f1_score(yTrue, yPred, average='weighted') for boolean labels: per-class F1 weighted
 * by support in yTrue. NaN for empty input.
 */
export function weightedF1Binary(yTrue: readonly boolean[] | Uint8Array, yPred: readonly boolean[] | Uint8Array): number {
  const n = yTrue.length;
  if (n === 0 || yPred.length !== n) return NaN;
  let tp = 0; // class "true" as the positive class
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < n; i++) {
    const t = Boolean(yTrue[i]);
    const p = Boolean(yPred[i]);
    if (t && p) tp++;
    else if (!t && p) fp++;
    else if (t && !p) fn++;
    else tn++;
  }
  const f1 = (tpc: number, fpc: number, fnc: number): number => {
    const den = 2 * tpc + fpc + fnc;
    return den === 0 ? 0 : (2 * tpc) / den;
  };
  const supportTrue = tp + fn;
  const supportFalse = tn + fp;
  // For class "false": its TP = tn, FP = fn, FN = fp.
  return (supportTrue * f1(tp, fp, fn) + supportFalse * f1(tn, fn, fp)) / n;
}

/** MMSA's MOSI/MOSEI regression metrics. Throws RangeError on mismatched, empty or non-finite input. */
export function evaluateRegression(preds: NumArray, labels: NumArray): RegressionMetrics {
  const n = checkInputs(preds, labels);
  let absSum = 0;
  let hit7 = 0;
  let hit5 = 0;
  let hit2 = 0;
  const tHas0: boolean[] = [];
  const pHas0: boolean[] = [];
  const tNon0: boolean[] = [];
  const pNon0: boolean[] = [];
  let hitNon0 = 0;
  for (let i = 0; i < n; i++) {
    const p = preds[i]!;
    const y = labels[i]!;
    absSum += Math.abs(p - y);
    if (roundHalfEven(clip(p, -3, 3)) === roundHalfEven(clip(y, -3, 3))) hit7++;
    if (roundHalfEven(clip(p, -2, 2)) === roundHalfEven(clip(y, -2, 2))) hit5++;
    const tb = y >= 0;
    const pb = p >= 0;
    tHas0.push(tb);
    pHas0.push(pb);
    if (tb === pb) hit2++;
    if (y !== 0) {
      const tn = y > 0;
      const pn = p > 0;
      tNon0.push(tn);
      pNon0.push(pn);
      if (tn === pn) hitNon0++;
    }
  }
  const countNon0 = tNon0.length;
  return {
    mae: absSum / n,
    corr: pearson(preds, labels),
    acc7: hit7 / n,
    acc5: hit5 / n,
    acc2Has0: hit2 / n,
    f1Has0: weightedF1Binary(tHas0, pHas0),
    acc2Non0: countNon0 > 0 ? hitNon0 / countNon0 : NaN,
    f1Non0: countNon0 > 0 ? weightedF1Binary(tNon0, pNon0) : NaN,
    count: n,
    countNon0,
  };
}

/** Mean and sample standard deviation (n − 1) per metric over several runs. */
export interface MetricsMeanStd {
  mean: Record<MetricField, number>;
  /** Sample std (ddof = 1); NaN when there is a single run. */
  std: Record<MetricField, number>;
  runs: number;
}

export function meanStd(runs: readonly RegressionMetrics[]): MetricsMeanStd {
  if (!Array.isArray(runs) || runs.length < 1) throw new RangeError('meanStd: need at least one set of metrics');
  const n = runs.length;
  const mean = {} as Record<MetricField, number>;
  const std = {} as Record<MetricField, number>;
  for (const f of METRIC_FIELDS) {
    let s = 0;
    for (const r of runs) s += r[f];
    const m = s / n;
    let ss = 0;
    for (const r of runs) ss += (r[f] - m) * (r[f] - m);
    mean[f] = m;
    std[f] = n > 1 ? Math.sqrt(ss / (n - 1)) : NaN;
  }
  return { mean, std, runs: n };
}

function isAccuracy(f: MetricField): boolean {
  return f !== 'mae' && f !== 'corr';
}

/** One value as the table prints it: accuracies as percentages with 1 decimal, MAE/Corr with 3. */
export function formatValue(field: MetricField, v: number): string {
  if (Number.isNaN(v)) return 'nan';
  return isAccuracy(field) ? (100 * v).toFixed(1) : v.toFixed(3);
}

/** `84.1±0.7` (the std in the same units as the mean); just the mean when std is NaN. */
export function formatMeanStdValue(field: MetricField, mean: number, std: number): string {
  const m = formatValue(field, mean);
  return Number.isNaN(std) ? m : `${m}±${formatValue(field, std)}`;
}

const HEADERS = ['Acc-2 (has0/non0)', 'F1 (has0/non0)', 'Acc-7', 'Acc-5', 'MAE', 'Corr'] as const;

function table(cells: string[]): string {
  const widths = HEADERS.map((h, i) => Math.max(h.length, cells[i]!.length));
  const row = (xs: readonly string[]): string => xs.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${row(HEADERS)}\n${row(cells)}`;
}

/**
 * The paper-style table, header and one row:
 *   Acc-2 (has0/non0)  F1 (has0/non0)  Acc-7  Acc-5  MAE    Corr
 *   85.3/86.1          85.2/86.0        45.1   50.2   0.712  0.801
 */
export function formatMetricTable(m: RegressionMetrics): string {
  const v = (f: MetricField): string => formatValue(f, m[f]);
  return table([`${v('acc2Has0')}/${v('acc2Non0')}`, `${v('f1Has0')}/${v('f1Non0')}`, v('acc7'), v('acc5'), v('mae'), v('corr')]);
}

/** The same table with `mean±std` cells, for results over several seeds. */
export function formatMeanStdTable(ms: MetricsMeanStd): string {
  const v = (f: MetricField): string => formatMeanStdValue(f, ms.mean[f], ms.std[f]);
  return table([`${v('acc2Has0')}/${v('acc2Non0')}`, `${v('f1Has0')}/${v('f1Non0')}`, v('acc7'), v('acc5'), v('mae'), v('corr')]);
}
