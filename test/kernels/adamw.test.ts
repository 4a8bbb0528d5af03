// test/kernels/adamw.test.ts — kernels.adamwStep over 5 steps against the float64 reference
// trajectory started from the same float32 state, for every SIMD level × {1, all} threads.
//
// The reference runs its own float64 trajectory (it is not re-seeded from the kernel's float32
// state each step), so rounding accumulates over the 5 steps. Tolerance (besides rtol 1e-5):
// - m = β1 m + (1 − β1) g can cancel → atol 8u·max|g| per step.
// - v = β2 v + (1 − β2) g² is a sum of non-negative terms → rtol only, plus a denormal floor.
// - param moves by lr·(wd·p + m̂/(√v̂ + eps)) per step; the ratio m̂/√v̂ is O(1) and good to a few
//   ulp, so atol = 16u·(max|param| + lr·(1 + wd·max|param|))·steps.
// Lengths 1, 7, 33, 1031 cover every SIMD remainder path; a zero gradient element checks
// m̂ / (√0 + eps) = 0 (decay only).

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, kernelConfigSuite, maxAbs } from '../helpers/compare.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24;
const STEPS = 5;

interface Hyper {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

const HYPERS: Hyper[] = [
  { lr: 1e-3 }, // all defaults: beta1 0.9, beta2 0.999, eps 1e-8, weightDecay 0.01
  { lr: 0.01, beta1: 0.8, beta2: 0.95, eps: 1e-6, weightDecay: 0.1 },
  { lr: 0.5, beta1: 0, beta2: 0, eps: 1e-3, weightDecay: 0 },
];
const LENGTHS = [1, 7, 33, 1031];

function runTrajectory(n: number, hyper: Hyper, seed: number): void {
  const rng = makeRng(seed);
  const param = rng.normalF32(n);
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const grads = Array.from({ length: STEPS }, () => rng.normalF32(n, 0, 0.5));
  if (n > 1) for (const g of grads) g[n - 1] = 0; // never any gradient for the last element
  let ref: { param: Float64Array; m: Float64Array; v: Float64Array } = {
    param: Float64Array.from(param), m: new Float64Array(n), v: new Float64Array(n),
  };
  const label = `adamwStep n=${n} ${JSON.stringify(hyper)}`;
  const wd = hyper.weightDecay ?? 0.01;
  for (let step = 1; step <= STEPS; step++) {
    const grad = grads[step - 1]!;
    const result: unknown = kernels.adamwStep({ param, grad, m, v, step, ...hyper });
    expect(result).toBeUndefined();
    ref = reference.adamwStep({ ...ref, grad, step, ...hyper });
    const pScale = Math.max(maxAbs(ref.param), maxAbs(param));
    const stepLabel = `${label} step ${step}`;
    expectClose(param, ref.param, {
      atol: 16 * U * (pScale + hyper.lr * (1 + wd * pScale)) * step,
      label: `${stepLabel} param`,
    });
    expectClose(m, ref.m, { atol: 8 * U * maxAbs(grad) * step, label: `${stepLabel} m` });
    expectClose(v, ref.v, { atol: 1e-37, label: `${stepLabel} v` });
  }
}

for (const cfg of kernelConfigSuite(backend)) {
  describe(`adamwStep kernel (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    HYPERS.forEach((hyper, h) => {
      it(`matches the reference over ${STEPS} steps (${JSON.stringify(hyper)})`, () => {
        LENGTHS.forEach((n, i) => runTrajectory(n, hyper, 6000 + 10 * h + i));
      });
    });
  });
}
