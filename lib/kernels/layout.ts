// lib/kernels/layout.ts — the heads permute and the broadcast add (memory-bound helpers the
// tensor layer uses for large tensors).
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface Permute0213Options {
  /** [a, b, c, d] */
  src: Float32Array;
  /** [a, c, b, d]; written in place when given. */
  dst?: Float32Array;
  a: number;
  b: number;
  c: number;
  d: number;
}

export interface AddScaledOptions {
  x: Float32Array;
  /** Repeated over x's leading dimensions: its length must divide x's. */
  y: Float32Array;
  /** Default 1. */
  alpha?: number;
  /** x.length values; may be x itself (in place). */
  out?: Float32Array;
}

const permuteOp = defineOp('permute0213', (fn, opts: Permute0213Options) => {
  const v = new Validator(fn, opts);
  const a = v.size('a'), b = v.size('b'), c = v.size('c'), d = v.size('d');
  const n = a * b * c * d;
  if (!Number.isSafeInteger(n)) throw new RangeError(`${fn}: expected a·b·c·d to fit in memory, received an overflowing product`);
  const src = v.f32('src', n, 'a·b·c·d');
  const dst = v.f32Out('dst', n, 'a·b·c·d');
  v.noOverlap('dst', dst, 'src', src);
  return { args: { src, dst, a, b, c, d }, result: () => dst };
});

/** dst [a, c, b, d] = src [a, b, c, d] (swap axes 1 and 2). */
export const permute0213 = permuteOp.sync;
export const permute0213Async = permuteOp.async;

const addScaledOp = defineOp('addScaled', (fn, opts: AddScaledOptions) => {
  const v = new Validator(fn, opts);
  const x = v.f32Any('x');
  const y = v.f32Any('y');
  if (x.length % y.length !== 0) {
    throw new RangeError(`${fn}: expected y.length to divide x.length (y repeats over x's leading dimensions), received ${y.length} and ${x.length}`);
  }
  const alpha = v.number('alpha', 1);
  const out = v.f32Out('out', x.length, 'x.length');
  v.noOverlap('out', out, 'x', x, true);
  v.noOverlap('out', out, 'y', y);
  return { args: { x, y, out, alpha }, result: () => out };
});

/** out[i] = x[i] + alpha · y[i mod y.length]. */
export const addScaled = addScaledOp.sync;
export const addScaledAsync = addScaledOp.async;

export interface PackedHeadsOptions {
  /** unpackHeads: packed [Σ lengths, heads·headDim]; packHeads: padded [batch, heads, len, headDim]. */
  src: Float32Array;
  /** The other form; written in place when given. */
  dst?: Float32Array;
  /** [batch] rows per sample, each in [0, len] (batch = its length). */
  lengths: Int32Array;
  len: number;
  heads: number;
  headDim: number;
}

// Same order as native/binding/ops.cc, which also takes batch (here lengths.length).
function packedHeadsOp(name: 'unpackHeads' | 'packHeads') {
  return defineOp(name, (fn, opts: PackedHeadsOptions) => {
    const v = new Validator(fn, opts);
    const len = v.size('len');
    const heads = v.size('heads');
    const headDim = v.size('headDim');
    const lens = v.i32Any('lengths');
    const batch = lens.length;
    v.indices('lengths', lens, 0, len);
    let total = 0;
    for (const l of lens) total += l;
    const np = total * heads * headDim, nd = batch * heads * len * headDim;
    if (!Number.isSafeInteger(nd)) throw new RangeError(`${fn}: expected batch·heads·len·headDim to fit in memory, received an overflowing product`);
    const whatP = 'Σ lengths·heads·headDim', whatD = 'batch·heads·len·headDim';
    const unpack = name === 'unpackHeads';
    const src = unpack ? v.f32('src', np, whatP) : v.f32('src', nd, whatD);
    const dst = unpack ? v.f32Out('dst', nd, whatD) : v.f32Out('dst', np, whatP);
    v.noOverlap('dst', dst, 'src', src);
    return { args: { src, dst, lengths: lens, batch, len, heads, headDim }, result: () => dst };
  });
}

const unpackHeadsOp = packedHeadsOp('unpackHeads');
const packHeadsOp = packedHeadsOp('packHeads');
/** Packed rows [Σ lengths, heads·headDim] → padded heads [batch, heads, len, headDim], padding rows 0. */
export const unpackHeads = unpackHeadsOp.sync;
export const unpackHeadsAsync = unpackHeadsOp.async;
/** Padded heads [batch, heads, len, headDim] → packed rows [Σ lengths, heads·headDim] (padding not read). */
export const packHeads = packHeadsOp.sync;
export const packHeadsAsync = packHeadsOp.async;

const sumSquaresOp = defineOp('sumSquares', (fn, opts: { x: Float32Array }) => {
  const v = new Validator(fn, opts);
  const x = v.f32Any('x');
  return { args: { x }, result: (r: number) => r };
});

/** Σ x[i]² accumulated in double (threaded; the same result for any thread count). */
export const sumSquares = sumSquaresOp.sync;
export const sumSquaresAsync = sumSquaresOp.async;
