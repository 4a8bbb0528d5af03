// test/reference/layernorm.test.ts — the LayerNorm references: forward by its definition, and
// backward (dx, dWeight, dBias) against central finite differences of the forward.

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

describe('reference.layernormForward', () => {
  it('normalises a hand example with the biased variance', () => {
    // x = [1, 2, 3, 4]: mean 2.5, biased var 1.25
    const eps = 1e-5;
    const { out, mean, rstd } = reference.layernormForward({ x: [1, 2, 3, 4], rows: 1, dim: 4, eps });
    const s = 1 / Math.sqrt(1.25 + eps);
    expect(mean[0]).toBe(2.5);
    expect(rstd[0]).toBeCloseTo(s, 15);
    expectClose(out, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s], { rtol: 1e-15, label: 'out' });
  });

  it('applies weight and bias per column', () => {
    const { out } = reference.layernormForward({
      x: [0, 2, 5, 5], weight: [2, 3], bias: [10, 20], rows: 2, dim: 2, eps: 1e-5,
    });
    const s = 1 / Math.sqrt(1 + 1e-5);
    expectClose(out, [10 - 2 * s, 20 + 3 * s, 10, 20], { rtol: 1e-15, label: 'out' });
  });
});

describe('reference.layernormBackward', () => {
  for (const [rows, dim, withAffine] of [[3, 7, true], [2, 1, true], [4, 5, false]] as const) {
    it(`matches finite differences (rows=${rows}, dim=${dim}, weight/bias ${withAffine ? 'given' : 'omitted'})`, () => {
      const rng = makeRng(300 + rows * 10 + dim);
      const eps = 1e-5;
      const x = normalF64(rng, rows * dim, 0.5, 1.5);
      const weight = withAffine ? normalF64(rng, dim, 1, 0.5) : null;
      const bias = withAffine ? normalF64(rng, dim) : null;
      const dOut = normalF64(rng, rows * dim);
      const fwd = reference.layernormForward({ x, weight, bias, rows, dim, eps });
      const grads = reference.layernormBackward({ dOut, x, weight, mean: fwd.mean, rstd: fwd.rstd, rows, dim });

      const loss = (xx: Float64Array, w: Float64Array | null, b: Float64Array | null): number =>
        dot(dOut, reference.layernormForward({ x: xx, weight: w, bias: b, rows, dim, eps }).out);
      const tol = { rtol: 1e-6, atol: 1e-8 };
      expectClose(grads.dx, finiteDiffGrad((xx) => loss(xx, weight, bias), x), { ...tol, label: 'dx' });
      if (weight && bias) {
        expectClose(grads.dWeight, finiteDiffGrad((w) => loss(x, w, bias), weight), { ...tol, label: 'dWeight' });
        expectClose(grads.dBias, finiteDiffGrad((b) => loss(x, weight, b), bias), { ...tol, label: 'dBias' });
      } else {
        // without weight/bias, dWeight/dBias are still the gradients w.r.t. an implicit 1 / 0
        const ones = new Float64Array(dim).fill(1);
        const zeros = new Float64Array(dim);
        expectClose(grads.dWeight, finiteDiffGrad((w) => loss(x, w, zeros), ones), { ...tol, label: 'dWeight' });
        expectClose(grads.dBias, finiteDiffGrad((b) => loss(x, ones, b), zeros), { ...tol, label: 'dBias' });
      }
    });
  }
});
