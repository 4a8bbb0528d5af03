// lib/tensor/ops/attention.ts — fused multi-head attention over packed sequences, and memory
// attention (queries attending to a packed memory as keys and values at once).
//
// Layout (lib/tensor/packed.ts): q [Tq, H·Dh], k / v [Tk, H·Dh] with per-sample offsets
// (cu_seqlens); head h is columns h·Dh … of every row, so the kernels read the projections in
// place — no heads copy, no padding rows. Saved for the backward: the log-sum-exp per (head, row)
// (a pool buffer released with the output); the backward kernels recompute the probabilities
// tile by tile and write dq, dk, dv (one handGrad call; memory attention's dx can accumulate).

import { kernels } from '../../kernels/index.js';
import { packedCount } from '../packed.js';
import { pool } from '../pool.js';
import { empty, fmtShape, handGrad, Tensor } from '../tensor.js';
import { fail, record, requireShape } from './common.js';

export interface AttentionOpOptions {
  heads: number;
  /** [B + 1] query row offsets (sample b owns rows c[b] … c[b+1] − 1 of q); c[B] = q rows. */
  cuSeqlensQ: Int32Array;
  /** [B + 1] key / value row offsets; c[B] = k rows. */
  cuSeqlensK: Int32Array;
  /** Default 1/√headDim. */
  scale?: number;
  /** Query i of a sample sees that sample's keys 0 … i. Default false. */
  causal?: boolean;
}

/**
 * Fused multi-head attention over packed sequences (lib/kernels/attention.ts): q [Tq, H·Dh],
 * k, v [Tk, H·Dh] — e.g. straight from the q/k/v projections — with per-sample offsets →
 * [Tq, H·Dh]. A sample without keys gives 0 rows and zero gradients.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpOptions): Tensor {
  const op = 'attention';
  const { heads } = opts;
  if (q.ndim !== 2 || k.ndim !== 2 || v.ndim !== 2) fail(op, `expected 2-D q, k, v [T, heads·headDim], received ${fmtShape(q.shape)}, ${fmtShape(k.shape)}, ${fmtShape(v.shape)}`);
  const [tq, width] = q.shape as [number, number];
  if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) fail(op, `expected heads = ${heads} to divide the width ${width}`);
  const tk = k.dim(0);
  requireShape(op, 'k', k, [tk, width]);
  requireShape(op, 'v', v, [tk, width]);
  const cuQ = opts.cuSeqlensQ.slice(), cuK = opts.cuSeqlensK.slice();
  if (cuQ.length < 2 || cuK.length !== cuQ.length) fail(op, `expected cuSeqlensQ and cuSeqlensK of the same length B + 1 >= 2, received ${cuQ.length} and ${cuK.length}`);
  if (cuQ[cuQ.length - 1] !== tq || cuK[cuK.length - 1] !== tk) fail(op, `the offsets end at ${cuQ[cuQ.length - 1]} / ${cuK[cuK.length - 1]}, q / k have ${tq} / ${tk} rows`);
  const y = empty([tq, width]);
  if (tq === 0 || tk === 0) {
    // nothing to attend to (or from): every output row is 0, every gradient 0 (the kernel takes
    // no empty buffers)
    y.data.fill(0);
    return record(y, op, [q, k, v], () => handGrad([q, k, v], (slots) => slots.forEach((s) => s.buf.fill(0))));
  }
  const shape = {
    batch: cuQ.length - 1, heads, headDim: width / heads, cuSeqlensQ: cuQ, cuSeqlensK: cuK,
    scale: opts.scale, causal: opts.causal ?? false,
  };
  const lse = pool.acquire(heads * tq);
  kernels.attentionForward({ ...shape, q: q.data, k: k.data, v: v.data, out: y.data, lse });
  const node = record(y, op, [q, k, v], (g) => {
    // saved: q, k, v, out, lse
    handGrad([q, k, v], ([dq, dk, dv]) => kernels.attentionBackward({
      ...shape, q: q.data, k: k.data, v: v.data, out: y.data, lse, dOut: g, dq: dq.buf, dk: dk.buf, dv: dv.buf,
    }));
  });
  if (node.requiresGrad) node._save(lse);
  else pool.release(lse);
  return node;
}

/**
 * Memory attention (lib/kernels/memoryAttention.ts): q [B, R, D] query rows per sample attend to the
 * sample's rows of the packed memory x [T, D] (keys and values at once; T = Σ lengths) →
 * [B, R, D]. Scores scale·q·xᵀ (default 1/√D). A sample with length 0 gets zeros.
 */
export function memoryAttention(q: Tensor, x: Tensor, lengths: Int32Array, scale?: number): Tensor {
  const op = 'memoryAttention';
  if (q.ndim !== 3 || x.ndim !== 2 || q.dim(2) !== x.dim(1)) fail(op, `expected q [B, R, D] and x [T, D], received ${fmtShape(q.shape)} and ${fmtShape(x.shape)}`);
  const [batch, rows, dim] = q.shape as [number, number, number];
  if (lengths.length !== batch) fail(op, `expected ${batch} lengths (one per sample), received ${lengths.length}`);
  const total = packedCount(op, lengths);
  if (total !== x.dim(0)) fail(op, `lengths sum to ${total} but x has ${x.dim(0)} rows`);
  const lens = lengths.slice();
  if (total === 0) {
    // no sample has a memory row (the kernels take no empty buffers): zeros, no gradient
    const z = new Tensor(pool.acquireZeroed(q.size), q.shape, { pooled: true });
    return record(z, op, [q, x], () => handGrad([q], ([s]) => s.buf.fill(0)));
  }
  const y = empty(q.shape);
  const lse = pool.acquire(batch * rows);
  const shape = { batch, rows, dim, scale: scale ?? 1 / Math.sqrt(dim), lengths: lens };
  kernels.memoryAttentionForward({ ...shape, q: q.data, x: x.data, out: y.data, lse });
  const node = record(y, op, [q, x], (g) => {
    handGrad([q, x], ([dq, dx]) => kernels.memoryAttentionBackward({
      ...shape, q: q.data, x: x.data, out: y.data, lse, dOut: g, dq: dq.buf, dx: dx.buf, accumulate: dx.accumulate,
    }), { adds: [false, true] });
  });
  if (node.requiresGrad) node._save(lse);
  else pool.release(lse);
  return node;
}
