// test/helpers/gradCheck.ts — one helper for every tensor op (tinygrad's helper_test_op idea):
// the op on fp32 tensors through the tape vs a float64 reference forward, and the tape's
// gradients vs central finite differences of that float64 reference.
//
// L = Σ w ∘ y with a random w (so every output element's gradient path is exercised);
// backward(w) gives dL/dx for each input on the tape; finite differences of the float64
// reference give the expected dL/dx.

import { expect } from 'vitest';

import { fromArray, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose } from './compare.js';
import { dot, finiteDiffGrad } from './finiteDiff.js';
import { makeRng } from './seed.js';

export interface GradCheckInput {
  shape: number[];
  /** Values; default normal(0, 1). */
  values?: ArrayLike<number>;
  /** Default true. */
  grad?: boolean;
}

export interface GradCheckOptions {
  seed?: number;
  rtol?: number;
  atol?: number;
  gradRtol?: number;
  gradAtol?: number;
}

export function checkOp(
  label: string,
  inputs: GradCheckInput[],
  op: (xs: Tensor[]) => Tensor,
  ref: (xs: Float64Array[]) => ArrayLike<number>,
  opts: GradCheckOptions = {},
): void {
  const rng = makeRng(opts.seed ?? 1);
  const values = inputs.map((inp) => {
    const n = inp.shape.reduce((p, d) => p * d, 1);
    if (inp.values) return Float64Array.from(inp.values);
    // round to fp32 so the reference sees exactly the values the tensors hold
    return Float64Array.from(Float32Array.from({ length: n }, () => rng.normal()));
  });
  tidy(() => {
    const xs = inputs.map((inp, i) => fromArray(values[i]!, inp.shape, { requiresGrad: inp.grad ?? true }));
    const y = op(xs);
    const expected = ref(values.map((v) => v.slice()));
    expectClose(y.data, expected, { rtol: opts.rtol ?? 1e-5, atol: opts.atol ?? 1e-5, label: `${label}: forward` });
    const w = Float32Array.from({ length: y.size }, () => rng.normal());
    y.backward(w);
    inputs.forEach((inp, i) => {
      if (inp.grad === false) {
        expect(xs[i]!.grad, `${label}: input ${i} has no grad`).toBeNull();
        return;
      }
      const fd = finiteDiffGrad((xi) => {
        const args = values.map((v, j) => (j === i ? xi : v.slice()));
        return dot(w, ref(args));
      }, values[i]!.slice());
      const g = xs[i]!.grad;
      expect(g, `${label}: input ${i} got a gradient`).not.toBeNull();
      expectClose(g!.data, fd, { rtol: opts.gradRtol ?? 1e-3, atol: opts.gradAtol ?? 1e-3, label: `${label}: d input ${i}` });
    });
  });
}
