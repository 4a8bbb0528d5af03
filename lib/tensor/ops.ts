// lib/tensor/ops.ts — the differentiable ops MER-CLIP and CLIP need, forward and backward side
// by side (micrograd style: each forward records the rule that undoes it).
//
// Shapes are row-major and contiguous. Heavy work goes to the native kernels (lib/kernels):
// GEMM for linear / matmul, LayerNorm, GELU, softmax, cross-entropy, the fused attention and the
// cosine kernels. Light elementwise work (adds, scales, gathers) is plain loops over the
// Float32Arrays. Every output buffer comes from the pool (pool.ts); every backward ADDS into its
// inputs' grads (accumulate semantics, see tensor.ts). Forward functions check shapes and throw
// a RangeError naming the op and the shapes.

import { kernels } from '../kernels/index.js';
import type { GeluApproximate } from '../backend/index.js';
import { pool } from './pool.js';
import type { Rng } from './random.js';
import { accumulateGrad, empty, fmtShape, gradTarget, isGradEnabled, type Shape, Tensor } from './tensor.js';

// ---------------------------------------------------------------------------------------------
// plumbing

/** Elementwise work of at least this many values goes to the native (threaded) kernels. */
const NATIVE_MIN = 32768;

/** Records `backward` on y when some input requires grad and grad mode is on. */
function record(y: Tensor, op: string, inputs: readonly Tensor[], backward: (g: Float32Array, take: () => Float32Array) => void): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    y.requiresGrad = true;
    y.node = { op, inputs, backward };
  }
  return y;
}

/**
 * Lets a kernel that OVERWRITES its output produce x's gradient: straight into x.grad when x has
 * none yet, else into a temporary that is then added.
 */
function writeGrad(x: Tensor, write: (buf: Float32Array) => void): void {
  if (!x.requiresGrad) return;
  if (x.grad === null) {
    write(gradTarget(x).buf);
    return;
  }
  const tmp = pool.acquire(x.size);
  write(tmp);
  accumulateGrad(x, tmp, true);
}

function fail(op: string, msg: string): never {
  throw new RangeError(`${op}: ${msg}`);
}

function lastDim(op: string, x: Tensor, name = 'x'): number {
  if (x.ndim < 1) fail(op, `expected ${name} to have at least one dimension, received shape ${fmtShape(x.shape)}`);
  return x.dim(-1);
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function requireShape(op: string, name: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) fail(op, `expected ${name} to have shape ${fmtShape(shape)}, received ${fmtShape(t.shape)}`);
}

// ---------------------------------------------------------------------------------------------
// linear algebra

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
    if (x.requiresGrad) {
      const t = gradTarget(x);
      kernels.gemm({ a: g, b: w.data, c: t.buf, m: rows, n: nIn, k: nOut, beta: t.accumulate ? 1 : 0 });
    }
    if (w.requiresGrad) {
      const t = gradTarget(w);
      kernels.gemm({ a: g, b: x.data, c: t.buf, m: nOut, n: nIn, k: rows, transA: true, beta: t.accumulate ? 1 : 0 });
    }
    if (b?.requiresGrad) writeGrad(b, (buf) => kernels.biasGrad({ dy: g, m: rows, n: nOut, dBias: buf }));
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
    if (a.requiresGrad) {
      const t = gradTarget(a);
      kernels.gemm({ a: g, b: b.data, c: t.buf, m, n: k, k: n, transB: true, beta: t.accumulate ? 1 : 0 });
    }
    if (b.requiresGrad) {
      const t = gradTarget(b);
      kernels.gemm({ a: a.data, b: g, c: t.buf, m: k, n, k: m, transA: true, beta: t.accumulate ? 1 : 0 });
    }
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
    if (a.requiresGrad) {
      const t = gradTarget(a);
      kernels.gemmBatched({ a: g, b: b.data, c: t.buf, m, n: k, k: n, transB: !transB, alpha, beta: t.accumulate ? 1 : 0, batch: G });
    }
    if (b.requiresGrad) {
      const t = gradTarget(b);
      if (transB) kernels.gemmBatched({ a: g, b: a.data, c: t.buf, m: n, n: k, k: m, transA: true, alpha, beta: t.accumulate ? 1 : 0, batch: G });
      else kernels.gemmBatched({ a: a.data, b: g, c: t.buf, m: k, n, k: m, transA: true, alpha, beta: t.accumulate ? 1 : 0, batch: G });
    }
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
    accumulateGrad(y, take(), true);
    for (const p of inputs) writeGrad(p, (buf) => buf.fill(0));
  });
}

// ---------------------------------------------------------------------------------------------
// elementwise with broadcasting of a trailing block

/** b's shape must be a suffix of a's (or b a single element); returns the repeat count. */
function broadcastRepeats(op: string, a: Tensor, b: Tensor): number {
  if (b.size === 1) return a.size;
  const s = a.shape.slice(a.ndim - b.ndim);
  if (b.ndim > a.ndim || !sameShape(s, b.shape)) {
    fail(op, `cannot broadcast ${fmtShape(b.shape)} against ${fmtShape(a.shape)} (b's shape must be a trailing part of a's)`);
  }
  return b.size === 0 ? 0 : a.size / b.size;
}

/** Σ over the repeats of a [repeats, n] gradient → [n] (the backward of a broadcast). */
function reduceRepeats(g: Float32Array, repeats: number, n: number): Float32Array {
  const out = pool.acquire(n);
  if (repeats === 0 || n === 0) {
    out.fill(0);
    return out;
  }
  if (n === 1) {
    let s = 0;
    for (let i = 0; i < g.length; i++) s += g[i]!;
    out[0] = s;
    return out;
  }
  kernels.biasGrad({ dy: g, m: repeats, n, dBias: out });
  return out;
}

/** a + alpha·b (b broadcast over a's leading dimensions). */
export function add(a: Tensor, b: Tensor, alpha = 1): Tensor {
  const op = 'add';
  const reps = broadcastRepeats(op, a, b);
  const y = empty(a.shape);
  const ad = a.data, bd = b.data, yd = y.data, n = b.size;
  if (a.size >= NATIVE_MIN && n > 0) kernels.addScaled({ x: ad, y: bd, alpha, out: yd });
  else if (n === a.size) for (let i = 0; i < n; i++) yd[i] = ad[i]! + alpha * bd[i]!;
  else {
    for (let r = 0, o = 0; r < reps; r++, o += n) for (let j = 0; j < n; j++) yd[o + j] = ad[o + j]! + alpha * bd[j]!;
  }
  return record(y, op, [a, b], (g, take) => {
    if (b.requiresGrad) {
      const gb = n === a.size ? g : reduceRepeats(g, reps, n);
      if (gb === g) {
        const c = pool.acquire(n);
        if (alpha === 1) c.set(g);
        else for (let i = 0; i < n; i++) c[i] = alpha * g[i]!;
        accumulateGrad(b, c, true);
      } else {
        if (alpha !== 1) for (let i = 0; i < n; i++) gb[i]! *= alpha;
        accumulateGrad(b, gb, true);
      }
    }
    if (a.requiresGrad) accumulateGrad(a, take(), true);
  });
}

export function sub(a: Tensor, b: Tensor): Tensor {
  return add(a, b, -1);
}

/** a ∘ b (b broadcast over a's leading dimensions). */
export function mul(a: Tensor, b: Tensor): Tensor {
  const op = 'mul';
  const reps = broadcastRepeats(op, a, b);
  const y = empty(a.shape);
  const ad = a.data, bd = b.data, yd = y.data, n = b.size;
  for (let r = 0, o = 0; r < reps; r++, o += n) for (let j = 0; j < n; j++) yd[o + j] = ad[o + j]! * bd[j]!;
  return record(y, op, [a, b], (g) => {
    if (a.requiresGrad) {
      const ga = pool.acquire(a.size);
      for (let r = 0, o = 0; r < reps; r++, o += n) for (let j = 0; j < n; j++) ga[o + j] = g[o + j]! * bd[j]!;
      accumulateGrad(a, ga, true);
    }
    if (b.requiresGrad) {
      const gab = pool.acquire(a.size);
      for (let i = 0; i < gab.length; i++) gab[i] = g[i]! * ad[i]!;
      if (n === a.size) accumulateGrad(b, gab, true);
      else {
        accumulateGrad(b, reduceRepeats(gab, reps, n), true);
        pool.release(gab);
      }
    }
  });
}

/** s·x for a constant s. */
export function scale(x: Tensor, s: number): Tensor {
  const y = empty(x.shape);
  const xd = x.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = s * xd[i]!;
  return record(y, 'scale', [x], (g, take) => {
    const gx = take();
    for (let i = 0; i < gx.length; i++) gx[i]! *= s;
    accumulateGrad(x, gx, true);
  });
}

/** e^x elementwise. */
export function exp(x: Tensor): Tensor {
  const y = empty(x.shape);
  const xd = x.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = Math.exp(xd[i]!);
  return record(y, 'exp', [x], (g, take) => {
    const gx = take();
    for (let i = 0; i < gx.length; i++) gx[i]! *= yd[i]!;
    accumulateGrad(x, gx, true);
  });
}

/** y[b, …] = factors[b] · x[b, …] for a constant per-batch factor (a gate: 0 drops a sample's term). */
export function scaleRows(x: Tensor, factors: ArrayLike<number>): Tensor {
  const op = 'scaleRows';
  if (x.ndim < 1 || factors.length !== x.dim(0)) fail(op, `expected ${x.ndim ? x.dim(0) : 0} factors for x ${fmtShape(x.shape)}, received ${factors.length}`);
  const inner = x.dim(0) ? x.size / x.dim(0) : 0;
  const f = Float32Array.from(factors);
  const y = empty(x.shape);
  const xd = x.data, yd = y.data;
  for (let r = 0; r < f.length; r++) {
    const s = f[r]!, o = r * inner;
    for (let j = 0; j < inner; j++) yd[o + j] = s * xd[o + j]!;
  }
  return record(y, op, [x], (g, take) => {
    const gx = take();
    for (let r = 0; r < f.length; r++) {
      const s = f[r]!, o = r * inner;
      for (let j = 0; j < inner; j++) gx[o + j]! *= s;
    }
    accumulateGrad(x, gx, true);
  });
}

// ---------------------------------------------------------------------------------------------
// layout

/** [B, L, H·Dh] → [B, H, L, Dh] (a copy). */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const op = 'splitHeads';
  if (x.ndim !== 3 || !Number.isInteger(heads) || heads < 1 || x.dim(2) % heads !== 0) {
    fail(op, `expected x [B, L, heads·headDim] with heads = ${heads} dividing the last dim, received ${fmtShape(x.shape)}`);
  }
  const [B, L, D] = x.shape as [number, number, number];
  const dh = D / heads;
  const y = empty([B, heads, L, dh]);
  permute0213(y.data, x.data, B, L, heads, dh);
  return record(y, op, [x], (g) => {
    writeGrad(x, (buf) => permute0213(buf, g, B, heads, L, dh));
  });
}

/** [B, H, L, Dh] → [B, L, H·Dh] (a copy). */
export function mergeHeads(x: Tensor): Tensor {
  const op = 'mergeHeads';
  if (x.ndim !== 4) fail(op, `expected x [B, H, L, Dh], received ${fmtShape(x.shape)}`);
  const [B, H, L, dh] = x.shape as [number, number, number, number];
  const y = empty([B, L, H * dh]);
  permute0213(y.data, x.data, B, H, L, dh);
  return record(y, op, [x], (g) => {
    writeGrad(x, (buf) => permute0213(buf, g, B, L, H, dh));
  });
}

/**
 * padded [B, H, L, Dh] ← packed [T, H·Dh], padding rows 0 (the native unpackHeads: one threaded
 * pass; zeros when nothing is packed — the kernels take no empty buffers).
 */
function unpackInto(padded: Float32Array, packed: Float32Array, lens: Int32Array, L: number, heads: number, dh: number): void {
  if (packed.length === 0) padded.fill(0);
  else kernels.unpackHeads({ src: packed, dst: padded, lengths: lens, len: L, heads, headDim: dh });
}

/** packed [T, H·Dh] ← the valid rows of padded [B, H, L, Dh] (the native packHeads). */
function packInto(packed: Float32Array, padded: Float32Array, lens: Int32Array, L: number, heads: number, dh: number): void {
  if (packed.length > 0) kernels.packHeads({ src: padded, dst: packed, lengths: lens, len: L, heads, headDim: dh });
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
    accumulateGrad(x, gx, true);
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
        accumulateGrad(t, gt, true);
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
    accumulateGrad(x, gx, true);
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
  for (let i = 0; i < idx.length; i++) y.data.set(x.data.subarray(idx[i]! * D, idx[i]! * D + D), i * D);
  return record(y, op, [x], (g) => {
    const gx = pool.acquireZeroed(x.size);
    for (let i = 0; i < idx.length; i++) {
      const o = idx[i]! * D;
      for (let d = 0; d < D; d++) gx[o + d]! += g[i * D + d]!;
    }
    accumulateGrad(x, gx, true);
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
    const { buf, accumulate } = gradTarget(weight);
    if (!accumulate) buf.fill(0);
    for (let i = 0; i < saved.length; i++) {
      const o = saved[i]! * D;
      for (let j = 0; j < D; j++) buf[o + j]! += g[i * D + j]!;
    }
  });
}


// ---------------------------------------------------------------------------------------------
// packed sequences: only the valid tokens (SPEC §7: padding is not work)

/** Total valid tokens of a batch, checking every length is an integer in [0, L] (L omitted: ≥ 0). */
export function packedCount(op: string, lengths: ArrayLike<number>, L = Infinity): number {
  let t = 0;
  for (let b = 0; b < lengths.length; b++) {
    const l = lengths[b]!;
    if (!Number.isInteger(l) || l < 0 || l > L) {
      fail(op, L === Infinity ? `expected lengths[${b}] to be a non-negative integer, received ${l}` : `lengths[${b}] = ${l} is outside [0, ${L}]`);
    }
    t += l;
  }
  return t;
}

/** x [B, L, D] → [T, D]: the first lengths[b] rows of every batch item, in order (T = Σ lengths; native, threaded). */
export function packRows(x: Tensor, lengths: Int32Array): Tensor {
  const op = 'packRows';
  if (x.ndim !== 3 || lengths.length !== x.dim(0)) fail(op, `expected x [B, L, D] with ${lengths.length} lengths, received ${fmtShape(x.shape)}`);
  const [, L, D] = x.shape as [number, number, number];
  const T = packedCount(op, lengths, L);
  const lens = lengths.slice();
  const y = empty([T, D]);
  packInto(y.data, x.data, lens, L, 1, D); // [B, L, D] is [B, 1 head, L, D]
  return record(y, op, [x], (g) => {
    writeGrad(x, (dx) => unpackInto(dx, g, lens, L, 1, D));
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
    if (pos.requiresGrad) {
      const { buf, accumulate } = gradTarget(pos);
      if (!accumulate) buf.fill(0);
      let p = 0;
      for (const l of lens) {
        const n = l * D;
        if (n > 0) kernels.addScaled({ x: buf.subarray(0, n), y: g.subarray(p, p + n), out: buf.subarray(0, n) });
        p += n;
      }
    }
    if (x.requiresGrad) accumulateGrad(x, take(), true);
  });
}

// ---------------------------------------------------------------------------------------------
// normalisation and activations

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
    const dWeight = pool.acquire(dim);
    const dBias = pool.acquire(dim);
    writeGrad(x, (dx) => kernels.layerNormBackward({ dOut: g, x: x.data, weight: weight?.data, mean, rstd, rows, dim, dx, dWeight, dBias }));
    if (!x.requiresGrad) {
      const dx = pool.acquire(x.size);
      kernels.layerNormBackward({ dOut: g, x: x.data, weight: weight?.data, mean, rstd, rows, dim, dx, dWeight, dBias });
      pool.release(dx);
    }
    if (weight) accumulateGrad(weight, dWeight, true);
    else pool.release(dWeight);
    if (bias) accumulateGrad(bias, dBias, true);
    else pool.release(dBias);
  });
  if (node.requiresGrad) node._save(mean, rstd);
  else {
    pool.release(mean);
    pool.release(rstd);
  }
  return node;
}

/** GELU: 'none' (erf, PyTorch's default), 'tanh', or 'quick' (x·σ(1.702x), CLIP's quick_gelu). */
export function gelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  const y = empty(x.shape);
  kernels.geluForward({ x: x.data, approximate, out: y.data });
  return record(y, 'gelu', [x], (g) => {
    writeGrad(x, (dx) => kernels.geluBackward({ dOut: g, x: x.data, approximate, dx }));
  });
}

export function quickGelu(x: Tensor): Tensor {
  return gelu(x, 'quick');
}

/** Softmax over the last dimension. */
export function softmax(x: Tensor): Tensor {
  const cols = lastDim('softmax', x);
  const rows = x.size / cols;
  const y = empty(x.shape);
  kernels.softmax({ x: x.data, rows, cols, out: y.data });
  return record(y, 'softmax', [x], (g) => {
    writeGrad(x, (dx) => kernels.softmaxBackward({ dOut: g, out: y.data, rows, cols, dx }));
  });
}

/** Inverted dropout: zeroes each element with probability p, scales the rest by 1/(1−p). */
export function dropout(x: Tensor, p: number, gen: Rng, training = true): Tensor {
  if (!(p >= 0 && p < 1)) fail('dropout', `expected p in [0, 1), received ${p}`);
  if (!training || p === 0) return x;
  const keep = 1 / (1 - p);
  const mask = pool.acquire(x.size);
  for (let i = 0; i < mask.length; i++) mask[i] = gen.next() < p ? 0 : keep;
  const y = empty(x.shape);
  const xd = x.data, yd = y.data;
  for (let i = 0; i < yd.length; i++) yd[i] = xd[i]! * mask[i]!;
  record(y, 'dropout', [x], (g, take) => {
    const gx = take();
    for (let i = 0; i < gx.length; i++) gx[i]! *= mask[i]!;
    accumulateGrad(x, gx, true);
  });
  if (y.requiresGrad) y._save(mask);
  else pool.release(mask);
  return y;
}

// ---------------------------------------------------------------------------------------------
// attention and similarity

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

/** [B + 1] offsets of B samples of `length` rows each (the padded [B, L] layout). */
export function uniformOffsets(batch: number, length: number): Int32Array {
  const cu = new Int32Array(batch + 1);
  for (let b = 0; b <= batch; b++) cu[b] = b * length;
  return cu;
}

/** [B + 1] offsets of packed samples with these lengths (checked: integers in [0, L]). */
export function offsetsOf(op: string, lengths: ArrayLike<number>, L = Infinity): Int32Array {
  packedCount(op, lengths, L);
  const cu = new Int32Array(lengths.length + 1);
  for (let b = 0; b < lengths.length; b++) cu[b + 1] = cu[b]! + lengths[b]!;
  return cu;
}

/**
 * Fused multi-head attention over packed sequences (lib/kernels/attention.ts): q [Tq, H·Dh],
 * k, v [Tk, H·Dh] — e.g. straight from the q/k/v projections — with per-sample offsets →
 * [Tq, H·Dh]. Head h is columns h·Dh … of every row (no heads copy). A sample without keys
 * gives 0 rows and zero gradients; the backward recomputes the probabilities from the saved lse.
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
    return record(y, op, [q, k, v], () => {
      for (const x of [q, k, v]) writeGrad(x, (buf) => buf.fill(0));
    });
  }
  const shape = {
    batch: cuQ.length - 1, heads, headDim: width / heads, cuSeqlensQ: cuQ, cuSeqlensK: cuK,
    scale: opts.scale, causal: opts.causal ?? false,
  };
  const lse = pool.acquire(heads * tq);
  kernels.attentionForward({ ...shape, q: q.data, k: k.data, v: v.data, out: y.data, lse });
  const node = record(y, op, [q, k, v], (g) => {
    // saved: q, k, v, out, lse; the kernel recomputes the probabilities tile by tile and
    // overwrites dq, dk, dv
    const grads: Array<[Tensor, Float32Array]> = [q, k, v].map((x) => [x, x.requiresGrad && x.grad === null ? gradTarget(x).buf : pool.acquire(x.size)]);
    const [dq, dk, dv] = grads.map(([, b]) => b) as [Float32Array, Float32Array, Float32Array];
    kernels.attentionBackward({ ...shape, q: q.data, k: k.data, v: v.data, out: y.data, lse, dOut: g, dq, dk, dv });
    for (const [x, buf] of grads) if (!(x.grad && x.grad.data === buf)) accumulateGrad(x, buf, true);
  });
  if (node.requiresGrad) node._save(lse);
  else pool.release(lse);
  return node;
}

/**
 * Memory attention (lib/kernels/attention.ts): q [B, R, D] query rows per sample attend to the
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
    return record(z, op, [q, x], () => writeGrad(q, (buf) => buf.fill(0)));
  }
  const y = empty(q.shape);
  const lse = pool.acquire(batch * rows);
  const shape = { batch, rows, dim, scale: scale ?? 1 / Math.sqrt(dim), lengths: lens };
  kernels.memoryAttentionForward({ ...shape, q: q.data, x: x.data, out: y.data, lse });
  const node = record(y, op, [q, x], (g) => {
    const dq = q.requiresGrad && q.grad === null ? gradTarget(q).buf : pool.acquire(q.size);
    const qOwn = !(q.grad && q.grad.data === dq);
    const tx = x.requiresGrad ? gradTarget(x) : { buf: pool.acquire(x.size), accumulate: false };
    kernels.memoryAttentionBackward({ ...shape, q: q.data, x: x.data, out: y.data, lse, dOut: g, dq, dx: tx.buf, accumulate: tx.accumulate });
    if (qOwn) accumulateGrad(q, dq, true);
    if (!x.requiresGrad) pool.release(tx.buf);
  });
  if (node.requiresGrad) node._save(lse);
  else pool.release(lse);
  return node;
}

/** scale · cos(x_i, e_j): x [N, D], e [C, D] → [N, C]. */
export function cosineSimilarity(x: Tensor, e: Tensor, scale = 1, eps?: number): Tensor {
  const op = 'cosineSimilarity';
  if (x.ndim !== 2 || e.ndim !== 2 || x.dim(1) !== e.dim(1)) fail(op, `expected x [N, D] and e [C, D], received ${fmtShape(x.shape)} and ${fmtShape(e.shape)}`);
  const [n, dim] = x.shape as [number, number];
  const c = e.dim(0);
  const y = empty([n, c]);
  kernels.cosineSimilarity({ x: x.data, e: e.data, n, c, dim, scale, eps, out: y.data });
  return record(y, op, [x, e], (g) => {
    const dx = pool.acquire(x.size);
    const de = pool.acquire(e.size);
    kernels.cosineSimilarityBackward({ dOut: g, out: y.data, x: x.data, e: e.data, n, c, dim, scale, eps, dx, de });
    accumulateGrad(x, dx, true);
    accumulateGrad(e, de, true);
  });
}

/** scale · cos(h[b, j], e[j]): h [B, C, D], e [C, D] → [B, C] (the prediction head). */
export function cosinePaired(h: Tensor, e: Tensor, scale = 1, eps?: number): Tensor {
  const op = 'cosinePaired';
  if (h.ndim !== 3 || e.ndim !== 2 || h.dim(1) !== e.dim(0) || h.dim(2) !== e.dim(1)) {
    fail(op, `expected h [B, C, D] and e [C, D], received ${fmtShape(h.shape)} and ${fmtShape(e.shape)}`);
  }
  const [batch, c, dim] = h.shape as [number, number, number];
  const y = empty([batch, c]);
  kernels.cosinePaired({ h: h.data, e: e.data, batch, c, dim, scale, eps, out: y.data });
  return record(y, op, [h, e], (g) => {
    const dh = pool.acquire(h.size);
    const de = pool.acquire(e.size);
    kernels.cosinePairedBackward({ dOut: g, out: y.data, h: h.data, e: e.data, batch, c, dim, scale, eps, dh, de });
    accumulateGrad(h, dh, true);
    accumulateGrad(e, de, true);
  });
}

// ---------------------------------------------------------------------------------------------
// reductions and losses

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
      accumulateGrad(x, gx, true);
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
    accumulateGrad(x, gx, true);
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
    writeGrad(logits, (dLogits) => kernels.softmaxCrossEntropyBackward({ logits: logits.data, lse, targets: saved, rows, cols, dLoss: g[0]!, dLogits }));
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
    accumulateGrad(pred, gx, true);
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
    accumulateGrad(pred, gx, true);
  });
}
