// lib/kernels/layout.ts — the heads permute and the packed ↔ padded heads gathers (pure data
// movement; native/core/include/merclip/layout.h).
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

// Same order as native/binding/layout.cc, which also takes batch (here lengths.length).
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
