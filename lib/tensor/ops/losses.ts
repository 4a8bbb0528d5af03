// lib/tensor/ops/losses.ts — reductions (sum, mean) and the losses: softmax cross-entropy
// (native kernels; the per-row log-sum-exp saved for the backward), L1 and MSE against constant
// targets. Backward: a gradient filled into a pooled buffer is handed over owned; the
// cross-entropy kernel writes dLogits (a slot).

import { kernels } from '../../kernels/index.js';
import { pool } from '../pool.js';
import { empty, fmtShape, handGrad, Tensor } from '../tensor.js';
import { fail, lastDim, record } from './common.js';
import { scale } from './elementwise.js';

/** Σ of all elements → [] ; with axis = -1, Σ over the last axis → the leading shape. */
export function sum(x: Tensor, axis?: -1): Tensor {
  if (axis === undefined) {
    const y = empty([]);
    let s = 0;
    const xd = x.data;
    for (let i = 0; i < xd.length; i++) s += xd[i]!;
    y.data[0] = s;
    return record(y, 'sum', [x], (g) => {
      const gx = pool.acquire(x.size);
      gx.fill(g[0]!);
      handGrad(x, gx);
    });
  }
  const n = lastDim('sum', x);
  const rows = n ? x.size / n : 0;
  const y = empty(x.shape.slice(0, -1));
  const xd = x.data;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += xd[r * n + j]!;
    y.data[r] = s;
  }
  return record(y, 'sum', [x], (g) => {
    const gx = pool.acquire(x.size);
    for (let r = 0; r < rows; r++) gx.fill(g[r]!, r * n, r * n + n);
    handGrad(x, gx);
  });
}

/** Mean of all elements → [] ; with axis = -1, over the last axis. */
export function mean(x: Tensor, axis?: -1): Tensor {
  const n = axis === undefined ? x.size : lastDim('mean', x);
  if (n === 0) fail('mean', `mean of an empty tensor ${fmtShape(x.shape)}`);
  return scale(sum(x, axis), 1 / n);
}

/** Mean softmax cross-entropy of logits [N, C] against class indices → []. */
export function crossEntropy(logits: Tensor, targets: Int32Array): Tensor {
  const op = 'crossEntropy';
  if (logits.ndim !== 2) fail(op, `expected logits [N, C], received ${fmtShape(logits.shape)}`);
  const [rows, cols] = logits.shape as [number, number];
  if (targets.length !== rows) fail(op, `expected ${rows} targets, received ${targets.length}`);
  const lse = pool.acquire(rows);
  const saved = targets.slice();
  const { loss } = kernels.softmaxCrossEntropyForward({ logits: logits.data, targets: saved, rows, cols, lse });
  const y = empty([]);
  y.data[0] = loss;
  record(y, op, [logits], (g) => {
    handGrad([logits], ([dLogits]) => kernels.softmaxCrossEntropyBackward({ logits: logits.data, lse, targets: saved, rows, cols, dLoss: g[0]!, dLogits: dLogits.buf }));
  });
  if (y.requiresGrad) y._save(lse);
  else pool.release(lse);
  return y;
}

/** mean |pred − target| → []; target is a constant (no gradient flows to it). */
export function l1Loss(pred: Tensor, target: Tensor | Float32Array): Tensor {
  const op = 'l1Loss';
  const td = target instanceof Tensor ? target.data : target;
  if (td.length !== pred.size) fail(op, `pred ${fmtShape(pred.shape)} has ${pred.size} elements, target ${td.length}`);
  if (pred.size === 0) fail(op, 'empty input');
  const pd = pred.data;
  let s = 0;
  for (let i = 0; i < pd.length; i++) s += Math.abs(pd[i]! - td[i]!);
  const y = empty([]);
  y.data[0] = s / pd.length;
  const tSaved = Float32Array.from(td);
  return record(y, op, [pred], (g) => {
    const k = g[0]! / pd.length;
    const gx = pool.acquire(pred.size);
    for (let i = 0; i < gx.length; i++) {
      const d = pd[i]! - tSaved[i]!;
      gx[i] = d > 0 ? k : d < 0 ? -k : 0;
    }
    handGrad(pred, gx);
  });
}

/** mean (pred − target)² → []. */
export function mseLoss(pred: Tensor, target: Tensor | Float32Array): Tensor {
  const op = 'mseLoss';
  const td = target instanceof Tensor ? target.data : target;
  if (td.length !== pred.size) fail(op, `pred ${fmtShape(pred.shape)} has ${pred.size} elements, target ${td.length}`);
  if (pred.size === 0) fail(op, 'empty input');
  const pd = pred.data;
  let s = 0;
  for (let i = 0; i < pd.length; i++) s += (pd[i]! - td[i]!) ** 2;
  const y = empty([]);
  y.data[0] = s / pd.length;
  const tSaved = Float32Array.from(td);
  return record(y, op, [pred], (g) => {
    const k = (2 * g[0]!) / pd.length;
    const gx = pool.acquire(pred.size);
    for (let i = 0; i < gx.length; i++) gx[i] = k * (pd[i]! - tSaved[i]!);
    handGrad(pred, gx);
  });
}
