// test/reference/gemm.test.ts — the float64 GEMM / batched GEMM / bias-gradient references,
// checked against hand-computed examples and against finite differences (the gradients a
// linear layer's backward builds from gemm with transposes: dA = dC·Bᵀ, dB = Aᵀ·dC, dBias =
// column sums of dC).

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

/** Stores a row-major [rows,cols] matrix transposed, i.e. as [cols,rows]. */
function transpose(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c]!;
  return t;
}

describe('reference.gemm', () => {
  // A [2,3] = [[1,2,3],[4,5,6]], B [3,2] = [[7,8],[9,10],[11,12]]
  // A·B = [[1·7+2·9+3·11, 1·8+2·10+3·12], [4·7+5·9+6·11, 4·8+5·10+6·12]] = [[58,64],[139,154]]
  const a = [1, 2, 3, 4, 5, 6];
  const b = [7, 8, 9, 10, 11, 12];

  it('matches a hand-computed 2×3 · 3×2 product', () => {
    expect(Array.from(reference.gemm({ a, b, m: 2, n: 2, k: 3 }))).toEqual([58, 64, 139, 154]);
  });

  it('applies alpha, beta·C and an unscaled bias by hand', () => {
    // 2·AB + 0.5·[[1,2],[3,4]] + [10,20] = [[116.5+10, 129+20], [279.5+10, 310+20]]
    const c = [1, 2, 3, 4];
    const out = reference.gemm({ a, b, c, bias: [10, 20], m: 2, n: 2, k: 3, alpha: 2, beta: 0.5 });
    expect(Array.from(out)).toEqual([126.5, 149, 289.5, 330]);
  });

  it('never reads C when beta = 0 (NaN stays out)', () => {
    const out = reference.gemm({ a, b, c: [NaN, NaN, NaN, NaN], m: 2, n: 2, k: 3, beta: 0 });
    expect(Array.from(out)).toEqual([58, 64, 139, 154]);
  });

  it('reads transposed storage for transA / transB', () => {
    const at = transpose(a, 2, 3); // A stored [k,m] = [3,2]
    const bt = transpose(b, 3, 2); // B stored [n,k] = [2,3]
    const want = [58, 64, 139, 154];
    expect(Array.from(reference.gemm({ a: at, b, m: 2, n: 2, k: 3, transA: true }))).toEqual(want);
    expect(Array.from(reference.gemm({ a, b: bt, m: 2, n: 2, k: 3, transB: true }))).toEqual(want);
    expect(Array.from(reference.gemm({ a: at, b: bt, m: 2, n: 2, k: 3, transA: true, transB: true }))).toEqual(want);
  });

  it('handles a non-square hand example (m=1, n=3, k=2)', () => {
    // [1, -1] · [[1,2,3],[4,5,6]] = [-3, -3, -3]
    expect(Array.from(reference.gemm({ a: [1, -1], b: [1, 2, 3, 4, 5, 6], m: 1, n: 3, k: 2 }))).toEqual([-3, -3, -3]);
  });

  it('gives the linear-layer gradients dA = dC·Bᵀ, dB = Aᵀ·dC, dBias = colsum(dC) (finite differences)', () => {
    const rng = makeRng(101);
    const m = 3, n = 4, k = 5;
    const A = normalF64(rng, m * k);
    const B = normalF64(rng, k * n);
    const bias = normalF64(rng, n);
    const dC = normalF64(rng, m * n);
    const loss = (x: { A: Float64Array; B: Float64Array; bias: Float64Array }): number =>
      dot(dC, reference.gemm({ a: x.A, b: x.B, bias: x.bias, m, n, k }));

    const dA = reference.gemm({ a: dC, b: B, m, n: k, k: n, transB: true });
    const dB = reference.gemm({ a: A, b: dC, m: k, n, k: m, transA: true });
    const dBias = reference.biasGrad({ dy: dC, m, n });
    const tol = { rtol: 1e-6, atol: 1e-8 };
    expectClose(dA, finiteDiffGrad((x) => loss({ A: x, B, bias }), A), { ...tol, label: 'dA' });
    expectClose(dB, finiteDiffGrad((x) => loss({ A, B: x, bias }), B), { ...tol, label: 'dB' });
    expectClose(dBias, finiteDiffGrad((x) => loss({ A, B, bias: x }), bias), { ...tol, label: 'dBias' });
  });
});

describe('reference.gemmBatched', () => {
  it('equals a loop of reference.gemm, with strides and a broadcast (stride 0) B', () => {
    const rng = makeRng(102);
    const batch = 3, m = 2, n = 3, k = 4;
    const a = normalF64(rng, batch * m * k);
    const b = normalF64(rng, k * n); // one B for every item
    const c = normalF64(rng, batch * m * n);
    const bias = normalF64(rng, n);
    const out = reference.gemmBatched({ a, b, c, bias, m, n, k, batch, strideB: 0, alpha: 0.5, beta: 2 });
    for (let i = 0; i < batch; i++) {
      const one = reference.gemm({
        a: a.subarray(i * m * k, (i + 1) * m * k),
        b,
        c: c.subarray(i * m * n, (i + 1) * m * n),
        bias, m, n, k, alpha: 0.5, beta: 2,
      });
      expect(Array.from(out.subarray(i * m * n, (i + 1) * m * n))).toEqual(Array.from(one));
    }
  });

  it('keeps C elements between strided matrices', () => {
    const m = 1, n = 2, k = 1;
    // strideC = 3 leaves c[2] untouched between the two 1×2 outputs
    const out = reference.gemmBatched({
      a: [2, 3], b: [1, 10], c: [0, 0, 99, 0, 0], m, n, k, batch: 2, strideA: 1, strideB: 0, strideC: 3,
    });
    expect(Array.from(out)).toEqual([2, 20, 99, 3, 30]);
  });
});

describe('reference.biasGrad', () => {
  it('sums columns by hand', () => {
    expect(Array.from(reference.biasGrad({ dy: [1, 2, 3, 4, 5, 6], m: 2, n: 3 }))).toEqual([5, 7, 9]);
  });
});
