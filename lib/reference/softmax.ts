// lib/reference/softmax.ts — float64 reference row softmax, forward and backward side by side.
//
// Forward: out[r,:] = exp(x[r,:] − max_r) / Σ exp(x[r,:] − max_r)  (max subtracted for range).
// It saves nothing beyond `out`; the backward takes `out` (not x):
//   dx[r,:] = out[r,:] ∘ (dOut[r,:] − Σ_c dOut[r,c] · out[r,c]).
// Outputs are new Float64Arrays; inputs are never modified.

import { checkLength, checkSize } from './check.js';

// ---------------------------------------------------------------------------------------------
// x [rows,cols] → out [rows,cols]
export function softmax(opts: { x: ArrayLike<number>; rows: number; cols: number }): Float64Array {
  const fn = 'reference.softmax';
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
