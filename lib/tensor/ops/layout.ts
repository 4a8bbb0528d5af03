// lib/tensor/ops/layout.ts — ops that move rows and columns: the heads permutes, slices,
// concatenation, gathers (rows, a position per sample, embedding rows), learned positions added
// to packed rows (lib/tensor/packed.ts), and withZeroGrad.
//
// Backward: the adjoint move — a gather's backward scatter-adds into a zeroed pooled buffer
// handed over owned; embedding and position tables scatter-add straight into the table's grad
// (handGrad with adds); the permutes run the inverse native permute into a slot.

import { kernels } from '../../kernels/index.js';
import { packedCount } from '../packed.js';
import { pool } from '../pool.js';
import { empty, fmtShape, handGrad, type Shape, Tensor } from '../tensor.js';
import { fail, NATIVE_MIN, record } from './common.js';

/** [B, L, H·Dh] → [B, H, L, Dh] (a copy; a view when H or L is 1: the order is the same). */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const op = 'splitHeads';
  if (x.ndim !== 3 || !Number.isInteger(heads) || heads < 1 || x.dim(2) % heads !== 0) {
    fail(op, `expected x [B, L, heads·headDim] with heads = ${heads} dividing the last dim, received ${fmtShape(x.shape)}`);
  }
  const [B, L, D] = x.shape as [number, number, number];
  const dh = D / heads;
  if (heads === 1 || L === 1) return x.reshape([B, heads, L, dh]); // the same order: a view
  const y = empty([B, heads, L, dh]);
  permute0213(y.data, x.data, B, L, heads, dh);
  return record(y, op, [x], (g) => {
    handGrad([x], ([dx]) => permute0213(dx.buf, g, B, heads, L, dh));
  });
}

/** [B, H, L, Dh] → [B, L, H·Dh] (a copy; a view when H or L is 1). */
export function mergeHeads(x: Tensor): Tensor {
  const op = 'mergeHeads';
  if (x.ndim !== 4) fail(op, `expected x [B, H, L, Dh], received ${fmtShape(x.shape)}`);
  const [B, H, L, dh] = x.shape as [number, number, number, number];
  if (H === 1 || L === 1) return x.reshape([B, L, H * dh]); // the same order: a view
  const y = empty([B, L, H * dh]);
  permute0213(y.data, x.data, B, H, L, dh);
  return record(y, op, [x], (g) => {
    handGrad([x], ([dx]) => permute0213(dx.buf, g, B, L, H, dh));
  });
}

/** dst [A, C, B, D] ← src [A, B, C, D] (the native kernel: threads, one memcpy per row). */
function permute0213(dst: Float32Array, src: Float32Array, A: number, Bn: number, C: number, D: number): void {
  if (A * Bn * C * D === 0) return;
  kernels.permute0213({ src, dst, a: A, b: Bn, c: C, d: D });
}

/** Slice [start, end) of axis `axis`. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const op = 'slice';
  const ax = axis < 0 ? x.ndim + axis : axis;
  if (ax < 0 || ax >= x.ndim) fail(op, `axis ${axis} out of range for shape ${fmtShape(x.shape)}`);
  const len = x.dim(ax);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > len || start > end) {
    fail(op, `expected 0 ≤ start ≤ end ≤ ${len} on axis ${ax}, received [${start}, ${end})`);
  }
  const outer = x.shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const shape = [...x.shape];
  shape[ax] = end - start;
  const y = empty(shape);
  const w = (end - start) * inner;
  for (let o = 0; o < outer; o++) {
    const s = (o * len + start) * inner;
    y.data.set(x.data.subarray(s, s + w), o * w);
  }
  return record(y, op, [x], (g) => {
    const gx = pool.acquireZeroed(x.size);
    for (let o = 0; o < outer; o++) gx.set(g.subarray(o * w, o * w + w), (o * len + start) * inner);
    handGrad(x, gx);
  });
}

/** Concatenation along `axis`; every other dimension must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const op = 'concat';
  const first = xs[0];
  if (!first) fail(op, 'expected at least one tensor');
  const ax = axis < 0 ? first.ndim + axis : axis;
  if (ax < 0 || ax >= first.ndim) fail(op, `axis ${axis} out of range for shape ${fmtShape(first.shape)}`);
  for (const t of xs) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      fail(op, `shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${ax}`);
    }
  }
  const outer = first.shape.slice(0, ax).reduce((p, d) => p * d, 1);
  const inner = first.shape.slice(ax + 1).reduce((p, d) => p * d, 1);
  const total = xs.reduce((s, t) => s + t.dim(ax), 0);
  const shape = [...first.shape];
  shape[ax] = total;
  const y = empty(shape);
  const rowW = total * inner;
  let off = 0;
  for (const t of xs) {
    const w = t.dim(ax) * inner;
    for (let o = 0; o < outer; o++) y.data.set(t.data.subarray(o * w, o * w + w), o * rowW + off);
    off += w;
  }
  return record(y, op, xs, (g) => {
    let off2 = 0;
    for (const t of xs) {
      const w = t.dim(ax) * inner;
      if (t.requiresGrad) {
        const gt = pool.acquire(t.size);
        for (let o = 0; o < outer; o++) gt.set(g.subarray(o * rowW + off2, o * rowW + off2 + w), o * w);
        handGrad(t, gt);
      }
      off2 += w;
    }
  });
}

/** y[b, :] = x[b, index[b], :] for x [B, L, D] → [B, D] (e.g. CLIP's pooling at the EOS token). */
export function gatherSeq(x: Tensor, index: ArrayLike<number>): Tensor {
  const op = 'gatherSeq';
  if (x.ndim !== 3) fail(op, `expected x [B, L, D], received ${fmtShape(x.shape)}`);
  const [B, L, D] = x.shape as [number, number, number];
  if (index.length !== B) fail(op, `expected ${B} indices, received ${index.length}`);
  for (let b = 0; b < B; b++) {
    const i = index[b]!;
    if (!Number.isInteger(i) || i < 0 || i >= L) fail(op, `index[${b}] = ${i} is outside [0, ${L})`);
  }
  const idx = Array.from(index);
  const y = empty([B, D]);
  for (let b = 0; b < B; b++) y.data.set(x.data.subarray((b * L + idx[b]!) * D, (b * L + idx[b]! + 1) * D), b * D);
  return record(y, op, [x], (g) => {
    const gx = pool.acquireZeroed(x.size);
    for (let b = 0; b < B; b++) gx.set(g.subarray(b * D, b * D + D), (b * L + idx[b]!) * D);
    handGrad(x, gx);
  });
}

/** y[i, :] = x[index[i], :] for x [N, D] → [M, D]; the backward scatter-adds (rows may repeat). */
export function gatherRows(x: Tensor, index: Int32Array): Tensor {
  const op = 'gatherRows';
  if (x.ndim !== 2) fail(op, `expected x [N, D], received ${fmtShape(x.shape)}`);
  const [N, D] = x.shape as [number, number];
  for (let i = 0; i < index.length; i++) {
    const r = index[i]!;
    if (r < 0 || r >= N) fail(op, `index[${i}] = ${r} is outside [0, ${N})`);
  }
  const idx = index.slice();
  const y = empty([idx.length, D]);
  let increasing = true; // every row at most once (e.g. the valid rows of a dense batch): the backward copies
  for (let i = 0; i < idx.length; i++) {
    y.data.set(x.data.subarray(idx[i]! * D, idx[i]! * D + D), i * D);
    if (i > 0 && idx[i]! <= idx[i - 1]!) increasing = false;
  }
  return record(y, op, [x], (g) => {
    let gx: Float32Array;
    if (increasing) {
      // one pass: each used row copied, the rows between them zeroed
      gx = pool.acquire(x.size);
      let end = 0;
      for (let i = 0; i < idx.length; i++) {
        const o = idx[i]! * D;
        if (o > end) gx.fill(0, end, o);
        gx.set(g.subarray(i * D, i * D + D), o);
        end = o + D;
      }
      gx.fill(0, end);
    } else {
      gx = pool.acquireZeroed(x.size);
      for (let i = 0; i < idx.length; i++) {
        const o = idx[i]! * D;
        for (let d = 0; d < D; d++) gx[o + d]! += g[i * D + d]!;
      }
    }
    handGrad(x, gx);
  });
}

/** Rows of weight [V, D] picked by ids → [...idsShape, D]. */
export function embedding(weight: Tensor, ids: Int32Array, idsShape: Shape = [ids.length]): Tensor {
  const op = 'embedding';
  if (weight.ndim !== 2) fail(op, `expected weight [V, D], received ${fmtShape(weight.shape)}`);
  const [V, D] = weight.shape as [number, number];
  if (idsShape.reduce((p, d) => p * d, 1) !== ids.length) fail(op, `ids has ${ids.length} entries, shape ${fmtShape(idsShape)} needs ${idsShape.reduce((p, d) => p * d, 1)}`);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= V) fail(op, `ids[${i}] = ${id} is outside [0, ${V})`);
  }
  const y = empty([...idsShape, D]);
  const wd = weight.data;
  for (let i = 0; i < ids.length; i++) y.data.set(wd.subarray(ids[i]! * D, ids[i]! * D + D), i * D);
  const saved = ids.slice();
  return record(y, op, [weight], (g) => {
    // scatter-add: rows used several times get the sum of their gradients
    handGrad([weight], ([{ buf, accumulate }]) => {
      if (!accumulate) buf.fill(0);
      for (let i = 0; i < saved.length; i++) {
        const o = saved[i]! * D;
        for (let j = 0; j < D; j++) buf[o + j]! += g[i * D + j]!;
      }
    }, { adds: true });
  });
}


/**
 * x [T, D] packed + positions: row t of sample b (its j-th token) gets pos[j] added
 * (pos [maxLen, D], a learned position table). The backward sums each position's gradient over
 * the samples (the native broadcast add, one call per sample).
 */
export function addPackedPositions(x: Tensor, pos: Tensor, lengths: Int32Array): Tensor {
  const op = 'addPackedPositions';
  if (x.ndim !== 2 || pos.ndim !== 2 || x.dim(1) !== pos.dim(1)) fail(op, `expected x [T, D] and pos [maxLen, D], received ${fmtShape(x.shape)} and ${fmtShape(pos.shape)}`);
  const T = packedCount(op, lengths, pos.dim(0));
  if (x.dim(0) !== T) fail(op, `x has ${x.dim(0)} rows, the lengths add up to ${T}`);
  const D = x.dim(1);
  const lens = lengths.slice();
  const y = empty(x.shape);
  let o = 0;
  for (const l of lens) {
    const n = l * D;
    if (n > 0) {
      if (n >= NATIVE_MIN) kernels.addScaled({ x: x.data.subarray(o, o + n), y: pos.data.subarray(0, n), out: y.data.subarray(o, o + n) });
      else for (let i = 0; i < n; i++) y.data[o + i] = x.data[o + i]! + pos.data[i]!;
    }
    o += n;
  }
  return record(y, op, [x, pos], (g, take) => {
    handGrad([pos], ([{ buf, accumulate }]) => {
      if (!accumulate) buf.fill(0);
      let p = 0;
      for (const l of lens) {
        const n = l * D;
        if (n > 0) kernels.addScaled({ x: buf.subarray(0, n), y: g.subarray(p, p + n), out: buf.subarray(0, n) });
        p += n;
      }
    }, { adds: true });
    if (x.requiresGrad) handGrad(x, take());
  });
}

/**
 * y itself (a view), with `inputs` recorded as inputs whose gradient is exactly zero: for
 * parameters y provably does not depend on (a key bias under the softmax, which is invariant to
 * a shift of a row's scores), so they still receive a gradient (zeros), and an optimiser treats
 * them as PyTorch does (weight decay applies to a parameter with a gradient).
 */
export function withZeroGrad(y: Tensor, ...inputs: Tensor[]): Tensor {
  const v = new Tensor(y.data, y.shape, { storage: y._storage });
  return record(v, 'withZeroGrad', [y, ...inputs], (_g, take) => {
    handGrad(y, take());
    for (const p of inputs) handGrad([p], ([{ buf, accumulate }]) => { if (!accumulate) buf.fill(0); }, { adds: true });
  });
}

