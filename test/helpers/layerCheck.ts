// test/helpers/layerCheck.ts — the harness of the nn layer tests (test/nn/layers.test.ts,
// test/nn/absorbed.test.ts): a layer run on the tape against a float64 implementation of the same
// layer (test/helpers/layersRef.ts), the output and the gradient of every parameter and input
// against central finite differences of that float64 layer.
import { expect } from 'vitest';

import type { Module } from '../../lib/nn/index.js';
import { fromArray, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose } from './compare.js';
import { dot, finiteDiffGrad } from './finiteDiff.js';
import type { P } from './layersRef.js';
import { makeRng } from './seed.js';

/** Runs the layer on the tape, backward with weights w, and checks output and every gradient. */
export function checkLayer(
  layer: Module,
  inputs: Array<{ shape: number[] }>,
  run: (xs: Tensor[]) => Tensor,
  ref: (xs: Float64Array[], p: P) => Float64Array,
  seed: number,
): void {
  const rng = makeRng(seed);
  // perturb LayerNorm weights/biases away from 1/0 so their gradients are exercised generally
  for (const [, t] of layer.namedParameters()) for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! + 0.1 * rng.normal();
  const params: P = new Map([...layer.namedParameters()].map(([n, t]) => [n, Float64Array.from(t.data)]));
  const xs64 = inputs.map((inp) => Float64Array.from(Float32Array.from({ length: inp.shape.reduce((a, b) => a * b, 1) }, () => rng.normal())));
  tidy(() => {
    const xs = inputs.map((inp, i) => fromArray(xs64[i]!, inp.shape, { requiresGrad: true }));
    const y = run(xs);
    const expected = ref(xs64, params);
    const scaleOf = (a: ArrayLike<number>): number => Math.max(1e-12, ...Array.from(a, Math.abs));
    expectClose(y.data, expected, { rtol: 1e-4, atol: 1e-4 * scaleOf(expected), label: 'forward' });
    const w = Float32Array.from({ length: y.size }, () => rng.normal());
    y.backward(w);
    // Tolerance: 1e-4 relative, with an absolute floor of 1e-4 × the largest gradient of the
    // tensor or of the layer's input (some gradients are exactly 0 in exact arithmetic — the key
    // bias cancels in the softmax — and fp32 leaves ~1e-7 there).
    const fdInputs = xs64.map((x, i) => finiteDiffGrad((xi) => dot(w, ref(xs64.map((v, j) => (j === i ? xi : v)), params)), x.slice()));
    const floor = scaleOf(fdInputs[0]!);
    fdInputs.forEach((fd, i) => {
      expectClose(xs[i]!.grad!.data, fd, { rtol: 1e-4, atol: 1e-4 * Math.max(scaleOf(fd), floor), label: `d input ${i}` });
    });
    for (const [name, t] of layer.namedParameters()) {
      const fd = finiteDiffGrad((pv) => dot(w, ref(xs64, new Map([...params, [name, pv]]))), params.get(name)!.slice());
      expect(t.grad, `${name} has a gradient`).not.toBeNull();
      expectClose(t.grad!.data, fd, { rtol: 1e-4, atol: 1e-4 * Math.max(scaleOf(fd), floor), label: `d ${name}` });
    }
  });
  layer.zeroGrad();
}
