// lib/tensor/ops/matmul.ts — linear, matmul and batched matmul on the native GEMM.
//
// Backward: the GEMM's β lets dx / dW accumulate straight into an existing grad (handGrad with
// adds: no temporary); the bias gradient is the column sum of g (native biasGrad, overwrite).

import { kernels } from '../../kernels/index.js';
import { empty, fmtShape, handGrad, type Tensor } from '../tensor.js';
import { fail, lastDim, record } from './common.js';

/** y[..., out] = x[..., in] · Wᵀ + b, with W [out, in] as PyTorch stores it. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const op = 'linear';
  if (w.ndim !== 2) fail(op, `expected weight to be 2-D [out, in], received ${fmtShape(w.shape)}`);
  const [nOut, nIn] = w.shape as [number, number];
  if (lastDim(op, x) !== nIn) fail(op, `x ${fmtShape(x.shape)} does not match weight ${fmtShape(w.shape)} (last dim must be ${nIn})`);
  if (b && (b.ndim !== 1 || b.size !== nOut)) fail(op, `expected bias of shape [${nOut}], received ${fmtShape(b.shape)}`);
  const rows = x.size / nIn;
  const y = empty([...x.shape.slice(0, -1), nOut]);
  if (rows > 0) kernels.gemm({ a: x.data, b: w.data, bias: b?.data, c: y.data, m: rows, n: nOut, k: nIn, transB: true });
  return record(y, op, b ? [x, w, b] : [x, w], (g) => {
    if (rows === 0) return;
    // y = x·Wᵀ + b  ⇒  dx = g·W,  dW = gᵀ·x,  db = Σ_rows g
    handGrad([x], ([s]) => kernels.gemm({ a: g, b: w.data, c: s.buf, m: rows, n: nIn, k: nOut, beta: s.accumulate ? 1 : 0 }), { adds: true });
    handGrad([w], ([s]) => kernels.gemm({ a: g, b: x.data, c: s.buf, m: nOut, n: nIn, k: rows, transA: true, beta: s.accumulate ? 1 : 0 }), { adds: true });
    if (b) handGrad([b], ([s]) => kernels.biasGrad({ dy: g, m: rows, n: nOut, dBias: s.buf }));
  });
}

/** [m, k] · [k, n] → [m, n]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const op = 'matmul';
  if (a.ndim !== 2 || b.ndim !== 2 || a.dim(1) !== b.dim(0)) fail(op, `cannot multiply ${fmtShape(a.shape)} by ${fmtShape(b.shape)}`);
  const [m, k] = a.shape as [number, number];
  const n = b.dim(1);
  const y = empty([m, n]);
  kernels.gemm({ a: a.data, b: b.data, c: y.data, m, n, k });
  return record(y, op, [a, b], (g) => {
    // y = a·b  ⇒  da = g·bᵀ,  db = aᵀ·g
    handGrad([a], ([s]) => kernels.gemm({ a: g, b: b.data, c: s.buf, m, n: k, k: n, transB: true, beta: s.accumulate ? 1 : 0 }), { adds: true });
    handGrad([b], ([s]) => kernels.gemm({ a: a.data, b: g, c: s.buf, m: k, n, k: m, transA: true, beta: s.accumulate ? 1 : 0 }), { adds: true });
  });
}

/**
 * Batched product: a [G, m, k] · b [G, k, n] → [G, m, n], or with `transB` b is [G, n, k] and
 * used transposed; the product is scaled by `alpha` (default 1).
 */
export function bmm(a: Tensor, b: Tensor, opts: { transB?: boolean; alpha?: number } = {}): Tensor {
  const op = 'bmm';
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  if (a.ndim !== 3 || b.ndim !== 3 || a.dim(0) !== b.dim(0) || a.dim(2) !== b.dim(transB ? 2 : 1)) {
    fail(op, `cannot multiply ${fmtShape(a.shape)} by ${fmtShape(b.shape)}${transB ? ' transposed' : ''}`);
  }
  const [G, m, k] = a.shape as [number, number, number];
  const n = b.dim(transB ? 1 : 2);
  const y = empty([G, m, n]);
  if (y.size > 0) {
    if (k === 0) y.data.fill(0);
    else kernels.gemmBatched({ a: a.data, b: b.data, c: y.data, m, n, k, transB, alpha, batch: G });
  }
  return record(y, op, [a, b], (g) => {
    if (y.size === 0 || k === 0) return;
    // y = α·a·op(b)  ⇒  da = α·g·op(b)ᵀ;  db = α·aᵀ·g (b [k, n]) or α·gᵀ·a (b stored [n, k])
    handGrad([a], ([s]) => kernels.gemmBatched({ a: g, b: b.data, c: s.buf, m, n: k, k: n, transB: !transB, alpha, beta: s.accumulate ? 1 : 0, batch: G }), { adds: true });
    handGrad([b], ([s]) => {
      const beta = s.accumulate ? 1 : 0;
      if (transB) kernels.gemmBatched({ a: g, b: a.data, c: s.buf, m: n, n: k, k: m, transA: true, alpha, beta, batch: G });
      else kernels.gemmBatched({ a: a.data, b: g, c: s.buf, m: k, n, k: m, transA: true, alpha, beta, batch: G });
    }, { adds: true });
  });
}
