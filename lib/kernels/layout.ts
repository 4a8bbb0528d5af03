// lib/kernels/layout.ts — the heads permute (pure data movement; native/core/include/merclip/layout.h).
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
