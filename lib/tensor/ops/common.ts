// lib/tensor/ops/common.ts — what every op family shares: recording a backward on the tape, and
// the shape checks behind the ops' RangeErrors (which name the op and the shapes).
//
// Contract of every op in lib/tensor/ops/: inputs row-major and contiguous; every output buffer
// from the pool (pool.ts), never an input's; the backward sits next to its forward and hands
// each input its gradient through handGrad (tensor.ts) — it adds to what the input has
// (accumulate semantics), whichever way the kernel produces it.

import { fmtShape, isGradEnabled, type Shape, type Tensor } from '../tensor.js';

/** Elementwise work of at least this many values goes to the native (threaded) kernels. */
export const NATIVE_MIN = 32768;

/** Records `backward` on y when some input requires grad and grad mode is on. */
export function record(y: Tensor, op: string, inputs: readonly Tensor[], backward: (g: Float32Array, take: () => Float32Array) => void): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    y.requiresGrad = true;
    y.node = { op, inputs, backward };
  }
  return y;
}

export function fail(op: string, msg: string): never {
  throw new RangeError(`${op}: ${msg}`);
}

export function lastDim(op: string, x: Tensor, name = 'x'): number {
  if (x.ndim < 1) fail(op, `expected ${name} to have at least one dimension, received shape ${fmtShape(x.shape)}`);
  return x.dim(-1);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function requireShape(op: string, name: string, t: Tensor, shape: Shape): void {
  if (!sameShape(t.shape, shape)) fail(op, `expected ${name} to have shape ${fmtShape(shape)}, received ${fmtShape(t.shape)}`);
}
