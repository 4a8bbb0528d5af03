// lib/nn/init.ts — where parameter values come from: drawn from a seeded Rng (PyTorch's default
// initialisations), or nowhere at all, for a module that is about to be bound to weights that
// already exist (a predict() worker over the main thread's shared weights).
//
// `unbound(fn)` runs fn — typically a model's constructor — with initialisation off: every
// helper below returns UNBOUND instead of drawing or filling values, and Module.addParameter
// registers a parameter without storage (reading it throws until bindParameters points it at an
// array). Nothing is drawn, allocated or copied; the Rng passed around is left untouched.
//
// Every module in lib/nn, lib/clip and lib/model takes its initial values from these helpers, so
// an unbound construction has no other place where values could come from.

import type { Rng } from '../tensor/index.js';

/** The "no values" marker: a parameter registered with it has no storage until it is bound. */
export const UNBOUND: Float32Array = new Float32Array(0);

let unboundDepth = 0;

/** Whether modules are being constructed without initial values (inside unbound()). */
export function isUnbound(): boolean {
  return unboundDepth > 0;
}

/** Runs fn (a constructor) with initialisation off: parameters are registered without values. */
export function unbound<T>(fn: () => T): T {
  unboundDepth++;
  try {
    return fn();
  } finally {
    unboundDepth--;
  }
}

/** n values U(−bound, bound) (PyTorch's Linear default with bound 1/√in). */
export function uniform(rng: Rng, n: number, bound: number): Float32Array {
  if (isUnbound()) return UNBOUND;
  return rng.fillUniform(new Float32Array(n), -bound, bound);
}

/** n values N(0, std²). */
export function normal(rng: Rng, n: number, std: number): Float32Array {
  if (isUnbound()) return UNBOUND;
  const a = rng.fillNormal(new Float32Array(n));
  if (std !== 1) for (let i = 0; i < n; i++) a[i]! *= std;
  return a;
}

/** n copies of `value` (LayerNorm's 1 and 0, a logit scale). */
export function constant(n: number, value: number): Float32Array {
  if (isUnbound()) return UNBOUND;
  return value === 0 ? new Float32Array(n) : new Float32Array(n).fill(value);
}
