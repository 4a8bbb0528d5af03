// lib/reference/softmax.ts — float64 reference row softmax and fused softmax + cross-entropy
// (mean over rows), forward and backward side by side.
//
// Softmax forward: out[r,:] = exp(x[r,:] − max_r) / Σ exp(x[r,:] − max_r) (max subtracted).
// It saves nothing beyond `out`; the backward takes `out` (not x):
//   dx[r,:] = out[r,:] ∘ (dOut[r,:] − Σ_c dOut[r,c] · out[r,c]).
// Cross-entropy:
// Forward: lse[r] = log Σ_c exp(logits[r,c]);  loss = (1/rows) Σ_r (lse[r] − logits[r, t_r]).
// It saves lse [rows] — exactly what the backward needs to recompute the probabilities:
//   dLogits[r,c] = dLoss/rows · (exp(logits[r,c] − lse[r]) − [c == t_r]).
// Outputs are new (Float64Array / number); inputs are never modified.

import { checkLength, checkSize } from './check.js';

// ---------------------------------------------------------------------------------------------
// x [rows,cols] → out [rows,cols]
export function softmaxForward(opts: { x: ArrayLike<number>; rows: number; cols: number }): Float64Array {
  const fn = 'reference.softmaxForward';
  const { x, rows, cols } = opts;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'cols', cols);
  checkLength(fn, 'x', x, rows * cols, 'rows·cols');
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const e = Math.exp(x[base + c]! - max);
      out[base + c] = e;
      sum += e;
    }
    for (let c = 0; c < cols; c++) out[base + c] = out[base + c]! / sum;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// dOut [rows,cols], out [rows,cols] (the forward's output) → dx [rows,cols]
// Undoes out = softmax(x): its Jacobian is diag(out) − out outᵀ per row.
export function softmaxBackward(opts: {
  dOut: ArrayLike<number>;
  out: ArrayLike<number>;
  rows: number;
  cols: number;
}): Float64Array {
  const fn = 'reference.softmaxBackward';
  const { dOut, out, rows, cols } = opts;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'cols', cols);
  checkLength(fn, 'dOut', dOut, rows * cols, 'rows·cols');
  checkLength(fn, 'out', out, rows * cols, 'rows·cols');
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dOut[base + c]! * out[base + c]!;
    for (let c = 0; c < cols; c++) dx[base + c] = out[base + c]! * (dOut[base + c]! - dot);
  }
  return dx;
}

function checkTargets(fn: string, targets: ArrayLike<number>, rows: number, cols: number): void {
  checkLength(fn, 'targets', targets, rows, 'rows');
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    if (!Number.isInteger(t) || t < 0 || t >= cols) {
      throw new RangeError(`${fn}: expected targets[${r}] to be an integer in [0, ${cols - 1}], received ${t}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// logits [rows,cols], targets [rows] in [0, cols) → loss (mean over rows), lse [rows]
export function softmaxXentForward(opts: {
  logits: ArrayLike<number>;
  targets: ArrayLike<number>;
  rows: number;
  cols: number;
}): { loss: number; lse: Float64Array } {
  const fn = 'reference.softmaxXentForward';
  const { logits, targets, rows, cols } = opts;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'cols', cols);
  checkLength(fn, 'logits', logits, rows * cols, 'rows·cols');
  checkTargets(fn, targets, rows, cols);
  const lse = new Float64Array(rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[base + c]!);
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(logits[base + c]! - max);
    const l = max + Math.log(sum);
    lse[r] = l;
    total += l - logits[base + targets[r]!]!;
  }
  return { loss: total / rows, lse };
}

// ---------------------------------------------------------------------------------------------
// logits [rows,cols], lse [rows] (saved by the forward), targets [rows] → dLogits [rows,cols]
// Undoes loss = mean_r(lse[r] − logits[r,t_r]): ∂lse/∂logits = softmax, ∂(−logits[t])= −onehot.
export function softmaxXentBackward(opts: {
  logits: ArrayLike<number>;
  lse: ArrayLike<number>;
  targets: ArrayLike<number>;
  rows: number;
  cols: number;
  dLoss?: number | undefined;
}): Float64Array {
  const fn = 'reference.softmaxXentBackward';
  const { logits, lse, targets, rows, cols } = opts;
  const dLoss = opts.dLoss ?? 1;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'cols', cols);
  checkLength(fn, 'logits', logits, rows * cols, 'rows·cols');
  checkLength(fn, 'lse', lse, rows, 'rows');
  checkTargets(fn, targets, rows, cols);
  const dLogits = new Float64Array(rows * cols);
  const scale = dLoss / rows;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const t = targets[r]!;
    for (let c = 0; c < cols; c++) {
      const p = Math.exp(logits[base + c]! - lse[r]!);
      dLogits[base + c] = scale * (p - (c === t ? 1 : 0));
    }
  }
  return dLogits;
}
