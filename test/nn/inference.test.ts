// test/nn/inference.test.ts — the inference path of the layers (no gradient recorded): each
// sub-block hands its intermediates back to the pool as it returns (inferenceStep) and an MLP over
// many rows runs in row chunks (Mlp.forward). Checked against the float64 layer
// (test/helpers/layersRef.ts) on enough rows that the chunked path runs, and against the
// recorded (training) path of the same layer; and the pool gets every intermediate back.
import { describe, expect, it } from 'vitest';

import { TransformerEncoderLayer } from '../../lib/nn/index.js';
import { fromArray, noGrad, pool, Rng, tidy } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';
import { encoderRef } from '../helpers/layersRef.js';

describe('inference path of TransformerEncoderLayer', () => {
  // 2 × 2100 = 4200 rows: more than twice the MLP chunk (2048), so the chunked MLP runs (3 pieces)
  const B = 2, L = 2100, d = 8, H = 2, hidden = 16;
  const layer = new TransformerEncoderLayer(d, H, new Rng(3), { ffnDim: hidden, activation: 'gelu' });
  const rng = new Rng(5);
  const x64 = Float64Array.from({ length: B * L * d }, () => Math.fround(rng.normal()));
  const keyLengths = Int32Array.from([L, 1500]);
  const params = new Map([...layer.namedParameters()].map(([n, t]) => [n, Float64Array.from(t.data)]));

  it('matches the float64 layer and the recorded path, chunked MLP included', () => {
    const expected = encoderRef(x64, params, B, L, d, H, hidden, 'gelu', keyLengths, false);
    const inferred = noGrad(() => tidy(() => layer.forward(fromArray(x64, [B, L, d]), { keyLengths }))).data;
    const recorded = tidy(() => layer.forward(fromArray(x64, [B, L, d], { requiresGrad: true }), { keyLengths })).data;
    // rows past a sample's key length are queries too (key padding masks keys only), so every row counts
    expectClose(inferred, expected, { atol: 2e-5, rtol: 2e-5 });
    expectClose(inferred, recorded, { atol: 1e-6, rtol: 1e-6 });
  });

  it('hands every intermediate back to the pool', () => {
    const x = fromArray(x64, [B, L, d]);
    noGrad(() => tidy(() => layer.forward(x, { keyLengths }).size)); // warm the free lists
    const before = pool.stats();
    const peak = noGrad(() => tidy(() => {
      const y = layer.forward(x, { keyLengths });
      return pool.stats().liveBytes - before.liveBytes - y.data.buffer.byteLength;
    }));
    const after = pool.stats();
    expect(after.liveBytes).toBe(before.liveBytes);
    // while the output lives, nothing else the layer made is still held (its steps disposed them)
    expect(peak).toBe(0);
    expect(after.allocations).toBe(before.allocations); // the second pass is served from the free lists
  });
});
