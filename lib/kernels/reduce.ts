// lib/kernels/reduce.ts — Σ x² over a whole tensor and the broadcast add out = x + α·y (the
// gradient bookkeeping's kernels; native/core/include/merclip/reduce.h).
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface AddScaledOptions {
  x: Float32Array;
  /** Repeated over x's leading dimensions: its length must divide x's. */
  y: Float32Array;
  /** Default 1. */
  alpha?: number;
  /** x.length values; may be x itself (in place). */
  out?: Float32Array;
}

const sumSquaresOp = defineOp('sumSquares', (fn, opts: { x: Float32Array }) => {
  const v = new Validator(fn, opts);
  const x = v.f32Any('x');
  return { args: { x }, result: (r: number) => r };
});

/** Σ x[i]² accumulated in double (threaded; the same result for any thread count). */
export const sumSquares = sumSquaresOp.sync;
export const sumSquaresAsync = sumSquaresOp.async;

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
