// lib/reference/reduce.ts — reference Σ x² and broadcast add, in float64 (the twins of
// lib/kernels/reduce.ts; native/core/include/merclip/reduce.h). Inputs are never modified.

/** Σ x[i]², one double sum in index order. */
export function sumSquares(opts: { x: ArrayLike<number> }): number {
  let s = 0;
  for (let i = 0; i < opts.x.length; i++) s += opts.x[i]! * opts.x[i]!;
  return s;
}

/** out[i] = x[i] + alpha · y[i mod y.length] (y's length must divide x's). */
export function addScaled(opts: { x: ArrayLike<number>; y: ArrayLike<number>; alpha?: number }): Float64Array {
  const { x, y } = opts;
  const alpha = opts.alpha ?? 1;
  if (y.length === 0 || x.length % y.length !== 0) {
    throw new RangeError(`reference.addScaled: expected y.length to divide x.length (y repeats over x's leading dimensions), received ${y.length} and ${x.length}`);
  }
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! + alpha * y[i % y.length]!;
  return out;
}
