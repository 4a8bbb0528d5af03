// test/reference/adamw.test.ts — the AdamW reference against a hand-computed first step and a
// step written out independently (torch's update order: decay first, then the Adam step).

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

describe('reference.adamwStep', () => {
  it('first step from m = v = 0 moves by lr·(wd·p + g/(|g| + eps))', () => {
    const param = [1, -2, 0.5];
    const grad = [0.2, -0.1, 0];
    const lr = 0.01, weightDecay = 0.1, eps = 1e-8;
    const out = reference.adamwStep({ param, grad, m: [0, 0, 0], v: [0, 0, 0], lr, weightDecay, eps, step: 1 });
    // m̂ = g, v̂ = g² exactly at step 1
    const want = param.map((p, i) => p - lr * (weightDecay * p + grad[i]! / (Math.abs(grad[i]!) + eps)));
    expectClose(out.param, want, { rtol: 1e-14, label: 'param' });
    expectClose(out.m, grad.map((g) => 0.1 * g), { rtol: 1e-14, label: 'm' });
    expectClose(out.v, grad.map((g) => 0.001 * g * g), { rtol: 1e-12, label: 'v' });
  });

  it('matches torch-style decay-then-Adam over 5 steps', () => {
    const rng = makeRng(600);
    const n = 11;
    let param: Float64Array = normalF64(rng, n);
    let m: Float64Array = new Float64Array(n);
    let v: Float64Array = new Float64Array(n);
    const p2 = Float64Array.from(param);
    const m2 = new Float64Array(n);
    const v2 = new Float64Array(n);
    const lr = 3e-3, beta1 = 0.8, beta2 = 0.95, eps = 1e-6, weightDecay = 0.05;
    for (let step = 1; step <= 5; step++) {
      const grad = normalF64(rng, n);
      ({ param, m, v } = reference.adamwStep({ param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step }));
      // torch.optim.AdamW (single tensor, no amsgrad): p.mul_(1 − lr·wd); exp_avg.lerp_(g, 1 − β1);
      // exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2); p.addcdiv_(exp_avg/bc1, sqrt(exp_avg_sq/bc2) + eps, −lr)
      for (let i = 0; i < n; i++) {
        p2[i] = p2[i]! * (1 - lr * weightDecay);
        m2[i] = beta1 * m2[i]! + (1 - beta1) * grad[i]!;
        v2[i] = beta2 * v2[i]! + (1 - beta2) * grad[i]! * grad[i]!;
        const bc1 = 1 - beta1 ** step;
        const bc2 = 1 - beta2 ** step;
        p2[i] = p2[i]! - (lr * (m2[i]! / bc1)) / (Math.sqrt(v2[i]! / bc2) + eps);
      }
    }
    expectClose(param, p2, { rtol: 1e-13, atol: 1e-15, label: 'param' });
    expectClose(m, m2, { rtol: 1e-13, label: 'm' });
    expectClose(v, v2, { rtol: 1e-13, label: 'v' });
  });

  it('does not modify its inputs', () => {
    const param = new Float64Array([1, 2]);
    const m = new Float64Array([0.1, 0.2]);
    reference.adamwStep({ param, grad: [1, 1], m, v: [1, 1], lr: 0.1, step: 3 });
    expect(Array.from(param)).toEqual([1, 2]);
    expect(Array.from(m)).toEqual([0.1, 0.2]);
  });
});
