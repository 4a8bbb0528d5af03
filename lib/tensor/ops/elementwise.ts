// lib/tensor/ops/elementwise.ts — adds, products and scales (a trailing block of b broadcast over
// a's leading dimensions), e^x, GELU and dropout.
//
// Light work is plain loops over the Float32Arrays; sums of at least NATIVE_MIN values and GELU go
// to the native kernels. Backward: a gradient the op computes in place of g (take()) or in a
// pooled buffer is handed over owned (handGrad(x, buf)); GELU's kernel writes dx (a slot).

import { kernels } from '../../kernels/index.js';
import type { GeluApproximate } from '../../backend/index.js';
import { pool } from '../pool.js';
import type { Rng } from '../random.js';
import { empty, fmtShape, handGrad, type Tensor } from '../tensor.js';
import { fail, NATIVE_MIN, record, sameShape } from './common.js';

/** b's shape must be a suffix of a's (or b a single element); returns the repeat count. */
function broadcastRepeats(op: string, a: Tensor, b: Tensor): number {
  if (b.size === 1) return a.size;
  const s = a.shape.slice(a.ndim - b.ndim);
  if (b.ndim > a.ndim || !sameShape(s, b.shape)) {
    fail(op, `cannot broadcast ${fmtShape(b.shape)} against ${fmtShape(a.shape)} (b's shape must be a trailing part of a's)`);
  }
  return b.size === 0 ? 0 : a.size / b.size;
}

/** Σ over the repeats of a [repeats, n] gradient → a pooled [n] (the backward of a broadcast). */
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
      let gb: Float32Array;
      if (n === a.size) {
        gb = pool.acquire(n);
        if (alpha === 1) gb.set(g);
        else for (let i = 0; i < n; i++) gb[i] = alpha * g[i]!;
      } else {
        gb = reduceRepeats(g, reps, n);
        if (alpha !== 1) for (let i = 0; i < n; i++) gb[i]! *= alpha;
      }
      handGrad(b, gb);
    }
    if (a.requiresGrad) handGrad(a, take());
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
      handGrad(a, ga);
    }
    if (b.requiresGrad) {
      const gab = pool.acquire(a.size);
      for (let i = 0; i < gab.length; i++) gab[i] = g[i]! * ad[i]!;
      if (n === a.size) handGrad(b, gab);
      else {
        handGrad(b, reduceRepeats(gab, reps, n));
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
    handGrad(x, gx);
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
    handGrad(x, gx);
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
    handGrad(x, gx);
  });
}

/** GELU: 'none' (erf, PyTorch's default), 'tanh', or 'quick' (x·σ(1.702x), CLIP's quick_gelu). */
export function gelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  const y = empty(x.shape);
  kernels.geluForward({ x: x.data, approximate, out: y.data });
  return record(y, 'gelu', [x], (g) => {
    handGrad([x], ([dx]) => kernels.geluBackward({ dOut: g, x: x.data, approximate, dx: dx.buf }));
  });
}

export function quickGelu(x: Tensor): Tensor {
  return gelu(x, 'quick');
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
    handGrad(x, gx);
  });
  if (y.requiresGrad) y._save(mask);
  else pool.release(mask);
  return y;
}
