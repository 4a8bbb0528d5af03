// lib/reference/layout.ts — reference heads permute, one element at a time (the twin of
// lib/kernels/layout.ts; native/core/include/merclip/layout.h).
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
