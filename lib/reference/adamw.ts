// lib/reference/adamw.ts — float64 reference of one AdamW step (torch.optim.AdamW semantics).
//
//   m ← β1 m + (1 − β1) g
//   v ← β2 v + (1 − β2) g²
//   param ← param − lr · (wd · param + m̂ / (√v̂ + eps)),  m̂ = m/(1 − β1^step), v̂ = v/(1 − β2^step)
//
// Decoupled weight decay applied to the pre-update param (torch does param *= 1 − lr·wd first,
// which is the same thing). step is the 1-based count after this update. Unlike the kernel this
// does not update in place: it returns new Float64Arrays {param, m, v}.

import { checkLength } from './check.js';

export interface AdamwStepRefOptions {
  param: ArrayLike<number>;
  grad: ArrayLike<number>;
  m: ArrayLike<number>;
  v: ArrayLike<number>;
  lr: number;
  beta1?: number | undefined;
  beta2?: number | undefined;
  eps?: number | undefined;
  weightDecay?: number | undefined;
  step: number;
}

// param, grad, m, v [n] → new param, m, v [n]
export function adamwStep(opts: AdamwStepRefOptions): {
  param: Float64Array;
  m: Float64Array;
  v: Float64Array;
} {
  const fn = 'reference.adamwStep';
  const { param, grad, lr, step } = opts;
  const beta1 = opts.beta1 ?? 0.9;
  const beta2 = opts.beta2 ?? 0.999;
  const eps = opts.eps ?? 1e-8;
  const weightDecay = opts.weightDecay ?? 0.01;
  const n = param.length;
  checkLength(fn, 'grad', grad, n, 'param.length');
  checkLength(fn, 'm', opts.m, n, 'param.length');
  checkLength(fn, 'v', opts.v, n, 'param.length');
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`${fn}: expected step to be an integer ≥ 1, received ${step}`);
  }

  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  const outParam = new Float64Array(n);
  const outM = new Float64Array(n);
  const outV = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    const p = param[i]!;
    const mi = beta1 * opts.m[i]! + (1 - beta1) * g;
    const vi = beta2 * opts.v[i]! + (1 - beta2) * g * g;
    const mHat = mi / bc1;
    const vHat = vi / bc2;
    outParam[i] = p - lr * (weightDecay * p + mHat / (Math.sqrt(vHat) + eps));
    outM[i] = mi;
    outV[i] = vi;
  }
  return { param: outParam, m: outM, v: outV };
}
