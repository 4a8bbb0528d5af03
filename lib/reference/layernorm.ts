// lib/reference/layernorm.ts — float64 reference LayerNorm over the last dimension, forward and
// backward side by side (llm.c style).
//
// Forward saves exactly what the backward needs: mean[rows] and rstd[rows] = 1/sqrt(var + eps)
// with the biased variance (divide by dim), as torch.nn.LayerNorm. weight/bias omitted → 1 / 0.
// Every output is a new Float64Array; inputs are never modified.

import { checkLength, checkSize } from './check.js';

export interface LayerNormForwardRefOptions {
  x: ArrayLike<number>;
  weight?: ArrayLike<number> | null | undefined;
  bias?: ArrayLike<number> | null | undefined;
  rows: number;
  dim: number;
  eps?: number | undefined;
}

export interface LayerNormBackwardRefOptions {
  dOut: ArrayLike<number>;
  x: ArrayLike<number>;
  weight?: ArrayLike<number> | null | undefined;
  mean: ArrayLike<number>;
  rstd: ArrayLike<number>;
  rows: number;
  dim: number;
}

// ---------------------------------------------------------------------------------------------
// x [rows,dim], weight [dim], bias [dim] → out [rows,dim], mean [rows], rstd [rows]
export function layernormForward(opts: LayerNormForwardRefOptions): {
  out: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
} {
  const fn = 'reference.layernormForward';
  const { x, weight, bias, rows, dim } = opts;
  const eps = opts.eps ?? 1e-5;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'dim', dim);
  checkLength(fn, 'x', x, rows * dim, 'rows·dim');
  if (weight) checkLength(fn, 'weight', weight, dim, 'dim');
  if (bias) checkLength(fn, 'bias', bias, dim, 'dim');

  const out = new Float64Array(rows * dim);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    // two passes: mean, then the biased variance around it
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[base + i]!;
    const mu = sum / dim;
    let sq = 0;
    for (let i = 0; i < dim; i++) {
      const d = x[base + i]! - mu;
      sq += d * d;
    }
    const s = 1 / Math.sqrt(sq / dim + eps);
    for (let i = 0; i < dim; i++) {
      const xhat = (x[base + i]! - mu) * s;
      const w = weight ? weight[i]! : 1;
      const b = bias ? bias[i]! : 0;
      out[base + i] = xhat * w + b;
    }
    mean[r] = mu;
    rstd[r] = s;
  }
  return { out, mean, rstd };
}

// ---------------------------------------------------------------------------------------------
// dOut [rows,dim], x [rows,dim], weight [dim], mean/rstd [rows] (saved by the forward)
//   → dx [rows,dim], dWeight [dim], dBias [dim]
// Undoes, per row: out = xhat·w + b  (dBias += dOut, dWeight += dOut·xhat, dxhat = dOut·w), then
// xhat = (x − mean)·rstd, whose Jacobian gives
//   dx = rstd · (dxhat − mean(dxhat) − xhat · mean(dxhat · xhat)).
export function layernormBackward(opts: LayerNormBackwardRefOptions): {
  dx: Float64Array;
  dWeight: Float64Array;
  dBias: Float64Array;
} {
  const fn = 'reference.layernormBackward';
  const { dOut, x, weight, mean, rstd, rows, dim } = opts;
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'dim', dim);
  checkLength(fn, 'dOut', dOut, rows * dim, 'rows·dim');
  checkLength(fn, 'x', x, rows * dim, 'rows·dim');
  if (weight) checkLength(fn, 'weight', weight, dim, 'dim');
  checkLength(fn, 'mean', mean, rows, 'rows');
  checkLength(fn, 'rstd', rstd, rows, 'rows');

  const dx = new Float64Array(rows * dim);
  const dWeight = new Float64Array(dim);
  const dBias = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    const mu = mean[r]!;
    const s = rstd[r]!;
    // pass 1: the two row means the Jacobian of the normalisation needs
    let meanDxhat = 0;
    let meanDxhatXhat = 0;
    for (let i = 0; i < dim; i++) {
      const xhat = (x[base + i]! - mu) * s;
      const dxhat = dOut[base + i]! * (weight ? weight[i]! : 1);
      meanDxhat += dxhat;
      meanDxhatXhat += dxhat * xhat;
    }
    meanDxhat /= dim;
    meanDxhatXhat /= dim;
    // pass 2: dx, and the parameter gradients accumulated over rows
    for (let i = 0; i < dim; i++) {
      const xhat = (x[base + i]! - mu) * s;
      const g = dOut[base + i]!;
      const dxhat = g * (weight ? weight[i]! : 1);
      dx[base + i] = s * (dxhat - meanDxhat - xhat * meanDxhatXhat);
      dWeight[i] = dWeight[i]! + g * xhat;
      dBias[i] = dBias[i]! + g;
    }
  }
  return { dx, dWeight, dBias };
}
