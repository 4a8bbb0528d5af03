// test/nn/optim.test.ts — AdamW against the float64 reference update, gradient clipping, the
// schedule, a regression problem trained to a 100× lower loss, and the memory contract: after
// the first step of a loop a step takes no new large buffers from the system.
import { describe, expect, it } from 'vitest';

import { backend, kernels } from '../../lib/index.js';
import { AdamW, clipGradNorm, Linear, TransformerEncoderLayer, warmupCosine } from '../../lib/nn/index.js';
import { reference as R } from '../../lib/reference/index.js';
import { fromArray, Rng, ops, pool, tidy, wrap } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';

describe('AdamW', () => {
  it('two steps match the float64 reference update', () => {
    const layer = new Linear(5, 3, new Rng(1));
    const opt = new AdamW(layer.parameters(), { lr: 0.01, weightDecay: 0.1 });
    const w0 = Float64Array.from(layer.weight.data);
    let m: Float64Array = new Float64Array(w0.length), v: Float64Array = new Float64Array(w0.length), w: Float64Array = w0;
    for (let step = 1; step <= 2; step++) {
      tidy(() => {
        const x = fromArray(Array.from({ length: 10 }, (_, i) => Math.sin(i + step)), [2, 5]);
        ops.sum(ops.mul(layer.forward(x), layer.forward(x))).backward();
      });
      const g = Float64Array.from(layer.weight.grad!.data);
      opt.step();
      const r = R.adamwStep({ param: w, grad: g, m, v, lr: 0.01, weightDecay: 0.1, step });
      ({ param: w, m, v } = r);
      expectClose(layer.weight.data, w, { rtol: 1e-5, atol: 1e-7, label: `weight after step ${step}` });
      opt.zeroGrad();
      expect(layer.weight.grad).toBeNull();
    }
  });
});

describe('clipGradNorm and warmupCosine', () => {
  it('clips to the global norm and reports the norm before clipping', () => {
    const a = wrap(new Float32Array(2), [2]);
    const b = wrap(new Float32Array(1), [1]);
    a.grad = fromArray([3, 0], [2]);
    b.grad = fromArray([4], [1]);
    expect(clipGradNorm([a, b], 10)).toBeCloseTo(5, 6);
    expect(a.grad.toArray()).toEqual([3, 0]);
    expect(clipGradNorm([a, b], 1)).toBeCloseTo(5, 6);
    expectClose([...a.grad.toArray(), ...b.grad.toArray()], [0.6, 0, 0.8], { rtol: 1e-5 });
    expect(() => clipGradNorm([a], 0)).toThrow(/maxNorm > 0/);
    a.grad.dispose();
    b.grad.dispose();
  });
  it('large gradients (the native sum of squares) and small ones (JS) give the float64 norm', () => {
    const big = Float32Array.from({ length: 300001 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
    const small = Float32Array.from({ length: 1000 }, (_, i) => Math.cos(i));
    let want = 0;
    for (const v of big) want += v * v;
    for (const v of small) want += v * v;
    want = Math.sqrt(want);
    const a = wrap(new Float32Array(big.length), [big.length]);
    const b = wrap(new Float32Array(small.length), [small.length]);
    a.grad = fromArray(big, [big.length]);
    b.grad = fromArray(small, [small.length]);
    expect(Math.abs(clipGradNorm([a, b], 1) - want)).toBeLessThanOrEqual(1e-12 * want);
    // scaled to norm 1 (float32 rounding of each value)
    let after = 0;
    for (const v of a.grad.data) after += v * v;
    for (const v of b.grad.data) after += v * v;
    expect(Math.sqrt(after)).toBeCloseTo(1, 5);
    expect(a.grad.data[7]).toBeCloseTo(big[7]! / (want + 1e-6), 6);
    a.grad.dispose();
    b.grad.dispose();
  });
  it('kernels.sumSquares: the float64 sum, sync and async; bad input is a clear error', async () => {
    const x = Float32Array.from({ length: 70001 }, (_, i) => (i % 13) - 6.5);
    let want = 0;
    for (const v of x) want += v * v;
    expect(kernels.sumSquares({ x })).toBe(want); // small integers and halves: exact in double
    expect(await kernels.sumSquaresAsync({ x })).toBe(want);
    expect(() => kernels.sumSquares({ x: [1, 2] as unknown as Float32Array })).toThrow(/sumSquares: expected x to be a Float32Array/);
    expect(() => kernels.sumSquares({ x: new Float32Array(0) })).toThrow(/sumSquares: expected x to be non-empty/);
    expect(() => backend.native().sumSquares({ x: new Float64Array(3) as unknown as Float32Array })).toThrow(/sumSquares: expected x to be a Float32Array/);
  });
  it('warms up linearly then decays along a cosine to minLr', () => {
    const lr = warmupCosine({ baseLr: 1, warmupSteps: 4, totalSteps: 12, minLr: 0.1 });
    expect([0, 1, 2, 3].map(lr)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lr(4)).toBeCloseTo(1, 12);
    expect(lr(8)).toBeCloseTo(0.1 + 0.45, 12); // halfway: (1 + cos(π/2)) / 2
    expect(lr(12)).toBe(0.1);
    expect(lr(100)).toBe(0.1);
    expect(() => warmupCosine({ baseLr: 1, warmupSteps: 5, totalSteps: 4 })).toThrow(/warmupSteps ≤ totalSteps/);
  });
});

describe('training', () => {
  it('a small MLP regression trained with AdamW drives the loss down by 100×', () => {
    const rng = new Rng(7);
    const fc1 = new Linear(3, 32, rng);
    const fc2 = new Linear(32, 1, rng);
    const params = [...fc1.parameters(), ...fc2.parameters()];
    const n = 128;
    const x = new Float32Array(n * 3);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const [a, b, c] = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
      x.set([a, b, c], i * 3);
      y[i] = Math.sin(2 * a) + b * c;
    }
    const steps = 1500;
    const opt = new AdamW(params, { lr: 0.02, weightDecay: 0 });
    const schedule = warmupCosine({ baseLr: 0.02, warmupSteps: 20, totalSteps: steps, minLr: 1e-4 });
    const losses: number[] = [];
    const xt = wrap(x, [n, 3]);
    for (let step = 0; step < steps; step++) {
      losses.push(tidy(() => {
        const pred = fc2.forward(ops.gelu(fc1.forward(xt))).reshape([n]);
        const loss = ops.mseLoss(pred, y);
        loss.backward();
        return loss.item();
      }));
      clipGradNorm(params, 5);
      opt.step(schedule(step));
      opt.zeroGrad();
    }
    expect(losses[steps - 1]!).toBeLessThan(losses[0]! / 100);
    expect(losses[0]!).toBeGreaterThan(0.3); // a real starting error, not a lucky init
  });

  it('after the first step, a training step takes no new large buffers (the pool serves them)', () => {
    const rng = new Rng(3);
    const layer = new TransformerEncoderLayer(32, 4, rng);
    const opt = new AdamW(layer.parameters(), { lr: 1e-3 });
    const B = 4, L = 64, d = 32; // activations of 8192 floats: pooled sizes
    const x = wrap(rng.fillNormal(new Float32Array(B * L * d)), [B, L, d]);
    const keyLengths = Int32Array.from([64, 50, 33, 64]);
    const step = (): void => {
      tidy(() => {
        const y = layer.forward(x, { keyLengths });
        ops.mean(ops.mul(y, y)).backward();
      });
      opt.step();
      opt.zeroGrad();
    };
    step();
    const after1 = pool.stats();
    for (let i = 0; i < 5; i++) step();
    const after6 = pool.stats();
    expect(after6.allocations).toBe(after1.allocations);
    expect(after6.reuses).toBeGreaterThan(after1.reuses);
    expect(after6.liveBytes).toBe(after1.liveBytes);
  });
});
