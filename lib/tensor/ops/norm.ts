// lib/tensor/ops/norm.ts — LayerNorm and softmax over the last dimension (native kernels).
//
// LayerNorm saves the per-row mean and 1/σ (pool buffers released with the output); its backward
// kernel writes dx, dWeight and dBias at once (one handGrad call: a missing weight or bias, or an
// x that needs no grad, gets a scratch slot). Softmax's backward reads the saved output.

import { kernels } from '../../kernels/index.js';
import { pool } from '../pool.js';
import { empty, handGrad, type Tensor } from '../tensor.js';
import { lastDim, record, requireShape } from './common.js';

/** LayerNorm over the last dimension (biased variance, as PyTorch). */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  const dim = lastDim(op, x);
  if (weight) requireShape(op, 'weight', weight, [dim]);
  if (bias) requireShape(op, 'bias', bias, [dim]);
  const rows = x.size / dim;
  const y = empty(x.shape);
  const mean = pool.acquire(rows);
  const rstd = pool.acquire(rows);
  kernels.layerNormForward({ x: x.data, weight: weight?.data, bias: bias?.data, rows, dim, eps, out: y.data, mean, rstd });
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  const node = record(y, op, inputs, (g) => {
    // saved: x, mean, rstd (per row)
    handGrad([x, weight ?? dim, bias ?? dim], ([dx, dWeight, dBias]) => kernels.layerNormBackward({
      dOut: g, x: x.data, weight: weight?.data, mean, rstd, rows, dim, dx: dx.buf, dWeight: dWeight.buf, dBias: dBias.buf,
    }));
  });
  if (node.requiresGrad) node._save(mean, rstd);
  else {
    pool.release(mean);
    pool.release(rstd);
  }
  return node;
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  const cols = lastDim('softmax', x);
  const rows = x.size / cols;
  const y = empty(x.shape);
  kernels.softmax({ x: x.data, rows, cols, out: y.data });
  return record(y, 'softmax', [x], (g) => {
    handGrad([x], ([dx]) => kernels.softmaxBackward({ dOut: g, out: y.data, rows, cols, dx: dx.buf }));
  });
}
