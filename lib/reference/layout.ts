// lib/reference/layout.ts — reference heads permute and packed ↔ padded heads gathers, one
// element at a time (the twins of lib/kernels/layout.ts; native/core/include/merclip/layout.h).
// Outputs are new Float64Arrays; inputs are never modified.

import { checkLength, checkSize } from './check.js';

/** dst [a, c, b, d] = src [a, b, c, d] (swap axes 1 and 2). */
export function permute0213(opts: { src: ArrayLike<number>; a: number; b: number; c: number; d: number }): Float64Array {
  const fn = 'reference.permute0213';
  const { src, a, b, c, d } = opts;
  for (const [name, v] of [['a', a], ['b', b], ['c', c], ['d', d]] as const) checkSize(fn, name, v);
  checkLength(fn, 'src', src, a * b * c * d, 'a·b·c·d');
  const dst = new Float64Array(a * b * c * d);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++)
      for (let k = 0; k < c; k++)
        for (let l = 0; l < d; l++) dst[((i * c + k) * b + j) * d + l] = src[((i * b + j) * c + k) * d + l]!;
  return dst;
}

interface PackedHeadsRefOptions {
  src: ArrayLike<number>;
  /** Rows per sample, each in [0, len]. */
  lengths: ArrayLike<number>;
  len: number;
  heads: number;
  headDim: number;
}

function checkLengths(fn: string, lengths: ArrayLike<number>, len: number): number {
  let total = 0;
  for (let b = 0; b < lengths.length; b++) {
    const l = lengths[b]!;
    if (!Number.isInteger(l) || l < 0 || l > len) throw new RangeError(`${fn}: expected lengths[${b}] to be an integer in [0, ${len}], received ${l}`);
    total += l;
  }
  return total;
}

/** Packed rows [Σ lengths, heads·headDim] → padded heads [batch, heads, len, headDim], padding 0. */
export function unpackHeads(opts: PackedHeadsRefOptions): Float64Array {
  const fn = 'reference.unpackHeads';
  const { src, lengths, len, heads, headDim } = opts;
  checkSize(fn, 'len', len), checkSize(fn, 'heads', heads), checkSize(fn, 'headDim', headDim);
  const total = checkLengths(fn, lengths, len);
  checkLength(fn, 'src', src, total * heads * headDim, 'Σ lengths·heads·headDim');
  const batch = lengths.length;
  const out = new Float64Array(batch * heads * len * headDim);
  let off = 0;
  for (let b = 0; b < batch; b++) {
    const lb = lengths[b]!;
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < lb; j++)
        for (let e = 0; e < headDim; e++) out[((b * heads + h) * len + j) * headDim + e] = src[(off + j) * heads * headDim + h * headDim + e]!;
    off += lb;
  }
  return out;
}

/** Padded heads [batch, heads, len, headDim] → packed rows [Σ lengths, heads·headDim]. */
export function packHeads(opts: PackedHeadsRefOptions): Float64Array {
  const fn = 'reference.packHeads';
  const { src, lengths, len, heads, headDim } = opts;
  checkSize(fn, 'len', len), checkSize(fn, 'heads', heads), checkSize(fn, 'headDim', headDim);
  const total = checkLengths(fn, lengths, len);
  const batch = lengths.length;
  checkLength(fn, 'src', src, batch * heads * len * headDim, 'batch·heads·len·headDim');
  const out = new Float64Array(total * heads * headDim);
  let off = 0;
  for (let b = 0; b < batch; b++) {
    const lb = lengths[b]!;
    for (let j = 0; j < lb; j++)
      for (let h = 0; h < heads; h++)
        for (let e = 0; e < headDim; e++) out[(off + j) * heads * headDim + h * headDim + e] = src[((b * heads + h) * len + j) * headDim + e]!;
    off += lb;
  }
  return out;
}
