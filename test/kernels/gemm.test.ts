// test/kernels/gemm.test.ts — kernels.gemm / gemmBatched / biasGrad (and the async variants)
// against the float64 references, for every SIMD level this machine supports × {1, all} threads.
//
// Tolerance. Each output is a k-term dot product accumulated in float32. The probabilistic
// rounding-error bound (Higham & Mary 2019) is |ĉ − c| ≲ λ·√k·u·Σ_p |a_ip||b_pj| with
// u = 2⁻²⁴: errors of the k additions behave like a random walk, so they grow with √k times the
// magnitudes involved, not k. We use λ = 4 per element (Σ|a||b| comes from the reference run on
// |A|, |B|), plus a few ulp of |beta·c| and |bias| for the final axpy, plus the common
// rtol = 1e-5·|r|. A wrong or missing term changes an element by ≈ |a_ip·b_pj| ≈ 0.25 on
// average, orders of magnitude above this allowance (≈ 3e-4 at k = 300).
//
// Outputs are guarded views (NaN-filled, guard words on both sides): unwritten elements and
// out-of-bounds writes both fail.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import {
  applyConfig,
  expectClose,
  expectSameBits,
  guarded,
  kernelConfigSuite,
} from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24; // unit roundoff of float32

function abs(x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.abs(x[i]!);
  return out;
}

type CMode = 'none' | 'given' | 'nan';

interface GemmCase {
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  alpha: number;
  beta: number;
  bias: Float32Array | undefined;
  a: Float32Array;
  b: Float32Array;
  /** Initial contents of C (cMode 'given'); NaN-filled for 'nan'; absent for 'none'. */
  c0: Float32Array | undefined;
  cMode: CMode;
  expected: Float64Array;
  atol: Float64Array;
}

// atol_ij = 4√k·u·|alpha|·(|op(A)|·|op(B)|)_ij + 4u·(|beta·c_ij| + |bias_j|)
function gemmAtol(
  a: Float32Array, b: Float32Array, c0: Float32Array | undefined, bias: Float32Array | undefined,
  m: number, n: number, k: number, transA: boolean, transB: boolean, alpha: number, beta: number,
): Float64Array {
  const absProduct = reference.gemm({ a: abs(a), b: abs(b), m, n, k, transA, transB });
  const atol = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const idx = i * n + j;
      const cTerm = beta !== 0 && c0 ? Math.abs(beta * c0[idx]!) : 0;
      const biasTerm = bias ? Math.abs(bias[j]!) : 0;
      atol[idx] = 4 * Math.sqrt(k) * U * Math.abs(alpha) * absProduct[idx]! + 4 * U * (cTerm + biasTerm);
    }
  }
  return atol;
}

function makeCase(
  seed: number, m: number, n: number, k: number, transA: boolean, transB: boolean,
  alpha: number, beta: number, withBias: boolean, cMode: CMode,
): GemmCase {
  const rng = makeRng(seed);
  const a = rng.uniformF32(m * k);
  const b = rng.uniformF32(k * n);
  const bias = withBias ? rng.uniformF32(n) : undefined;
  const c0 = cMode === 'given' ? rng.uniformF32(m * n) : cMode === 'nan' ? new Float32Array(m * n).fill(NaN) : undefined;
  if (cMode === 'none' && beta !== 0) throw new RangeError('a case without c needs beta = 0');
  const expected = reference.gemm({ a, b, c: c0, bias, m, n, k, transA, transB, alpha, beta });
  return {
    name: `${m}×${n}×${k} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} bias=${withBias} c=${cMode}`,
    m, n, k, transA, transB, alpha, beta, bias, a, b, c0, cMode, expected,
    atol: gemmAtol(a, b, c0, bias, m, n, k, transA, transB, alpha, beta),
  };
}

// Small odd shapes (none a multiple of 16 except k = 64 once), each with all four transpositions;
// the alpha / beta / bias / c variant rotates so every shape and every transposition meets
// several of them.
const SMALL_SHAPES: Array<[number, number, number]> = [
  [1, 1, 1], [7, 33, 5], [33, 7, 17], [1, 65, 129], [31, 1, 40], [17, 19, 64],
];
const VARIANTS: Array<{ alpha: number; beta: number; bias: boolean; c: CMode }> = [
  { alpha: 1, beta: 0, bias: false, c: 'none' },
  { alpha: -0.5, beta: 1.5, bias: true, c: 'given' },
  { alpha: 2, beta: 0, bias: true, c: 'nan' },
  { alpha: 1, beta: -1, bias: false, c: 'given' },
];
const TRANSPOSITIONS: Array<[boolean, boolean]> = [[false, false], [true, false], [false, true], [true, true]];

const CASES: GemmCase[] = [];
SMALL_SHAPES.forEach(([m, n, k], s) => {
  TRANSPOSITIONS.forEach(([tA, tB], t) => {
    const v = VARIANTS[(s + t) % VARIANTS.length]!;
    CASES.push(makeCase(1000 + 10 * s + t, m, n, k, tA, tB, v.alpha, v.beta, v.bias, v.c));
  });
});
// Two larger shapes that cross every cache-blocking boundary a kernel is likely to use.
CASES.push(makeCase(1100, 257, 129, 300, false, true, 1, 0.5, true, 'given'));
CASES.push(makeCase(1101, 129, 257, 100, true, false, -1, 0, false, 'nan'));

function runCase(cs: GemmCase): void {
  const common = {
    a: cs.a, b: cs.b, m: cs.m, n: cs.n, k: cs.k, transA: cs.transA, transB: cs.transB,
    alpha: cs.alpha, beta: cs.beta, ...(cs.bias ? { bias: cs.bias } : {}),
  };
  if (cs.cMode === 'none') {
    const c = kernels.gemm(common);
    expect(c).toBeInstanceOf(Float32Array);
    expectClose(c, cs.expected, { atol: cs.atol, rtol: 1e-5, label: cs.name, cols: cs.n });
    return;
  }
  const g = guarded(cs.m * cs.n);
  g.view.set(cs.c0!);
  const result = kernels.gemm({ ...common, c: g.view });
  expect(result, 'c given → written in place and returned').toBe(g.view);
  g.check(`${cs.name} c`);
  expectClose(g.view, cs.expected, { atol: cs.atol, rtol: 1e-5, label: cs.name, cols: cs.n });
}

// ---------------------------------------------------------------------------------------------
// Batched cases: broadcasts (stride 0), padded strides (gaps in C must stay untouched), NaN C.

interface BatchedCase {
  name: string;
  opts: {
    a: Float32Array; b: Float32Array; bias?: Float32Array; m: number; n: number; k: number; batch: number;
    transA: boolean; transB: boolean; alpha: number; beta: number;
    strideA?: number; strideB?: number; strideC?: number;
  };
  c0: Float32Array | undefined;
  expected: Float64Array;
  atol: Float64Array;
}

function makeBatchedCase(
  seed: number,
  p: {
    m: number; n: number; k: number; batch: number; transA?: boolean; transB?: boolean;
    alpha?: number; beta?: number; bias?: boolean; strideA?: number; strideB?: number; strideC?: number;
    c?: 'none' | 'given' | 'nan' | 'sentinel';
  },
): BatchedCase {
  const rng = makeRng(seed);
  const { m, n, k, batch } = p;
  const transA = p.transA ?? false, transB = p.transB ?? false;
  const alpha = p.alpha ?? 1, beta = p.beta ?? 0;
  const sA = p.strideA ?? m * k, sB = p.strideB ?? k * n, sC = p.strideC ?? m * n;
  const a = rng.uniformF32((batch - 1) * sA + m * k);
  const b = rng.uniformF32((batch - 1) * sB + k * n);
  const bias = p.bias ? rng.uniformF32(n) : undefined;
  const cLen = (batch - 1) * sC + m * n;
  const cMode = p.c ?? 'none';
  const c0 = cMode === 'given' ? rng.uniformF32(cLen)
    : cMode === 'nan' ? new Float32Array(cLen).fill(NaN)
    : cMode === 'sentinel' ? new Float32Array(cLen).fill(777) // beta = 0: gaps must keep 777
    : undefined;
  const opts = {
    a, b, m, n, k, batch, transA, transB, alpha, beta,
    ...(bias ? { bias } : {}),
    ...(p.strideA !== undefined ? { strideA: p.strideA } : {}),
    ...(p.strideB !== undefined ? { strideB: p.strideB } : {}),
    ...(p.strideC !== undefined ? { strideC: p.strideC } : {}),
  };
  const expected = reference.gemmBatched({ ...opts, c: c0 });
  // per-item bound as for gemm; gaps between C matrices get atol 0 (must be bit-identical)
  const atol = new Float64Array(expected.length);
  for (let i = 0; i < batch; i++) {
    const item = gemmAtol(
      a.subarray(i * sA, i * sA + m * k), b.subarray(i * sB, i * sB + k * n),
      c0?.subarray(i * sC, i * sC + m * n), bias, m, n, k, transA, transB, alpha, beta,
    );
    atol.set(item, i * sC);
  }
  const strides = `strides=${p.strideA ?? 'def'}/${p.strideB ?? 'def'}/${p.strideC ?? 'def'}`;
  return {
    name: `batch=${batch} ${m}×${n}×${k} transA=${transA} transB=${transB} alpha=${alpha} beta=${beta} bias=${!!bias} ${strides} c=${cMode}`,
    opts, c0, expected, atol,
  };
}

const BATCHED: BatchedCase[] = [
  makeBatchedCase(1200, { m: 7, n: 5, k: 9, batch: 3 }),
  makeBatchedCase(1201, { m: 5, n: 6, k: 7, batch: 4, strideB: 0, transB: true, bias: true, beta: 0.5, c: 'given' }),
  makeBatchedCase(1202, { m: 6, n: 3, k: 4, batch: 2, strideA: 0, transA: true, alpha: -1, c: 'nan' }),
  makeBatchedCase(1203, { m: 3, n: 4, k: 5, batch: 3, strideA: 17, strideB: 23, strideC: 13, c: 'sentinel' }),
  makeBatchedCase(1204, { m: 1, n: 1, k: 1, batch: 1 }),
  makeBatchedCase(1205, { m: 33, n: 17, k: 65, batch: 5, transA: true, transB: true, strideB: 0, bias: true, c: 'nan' }),
];

function runBatchedCase(cs: BatchedCase): void {
  if (!cs.c0) {
    const c = kernels.gemmBatched(cs.opts);
    expectClose(c, cs.expected, { atol: cs.atol, rtol: 1e-5, label: cs.name, cols: cs.opts.n });
    return;
  }
  const g = guarded(cs.c0.length);
  g.view.set(cs.c0);
  const result = kernels.gemmBatched({ ...cs.opts, c: g.view });
  expect(result).toBe(g.view);
  g.check(`${cs.name} c`);
  expectClose(g.view, cs.expected, { atol: cs.atol, rtol: 1e-5, label: cs.name, cols: cs.opts.n });
}

// ---------------------------------------------------------------------------------------------
// biasGrad: column sums of dy [m,n]; same √m·u·Σ|dy| bound as a dot product of length m.

const BIAS_GRAD_SHAPES: Array<[number, number]> = [[1, 1], [7, 33], [33, 7], [300, 129], [1000, 3]];
const BIAS_GRAD_CASES = BIAS_GRAD_SHAPES.map(([m, n], i) => {
  const dy = makeRng(1300 + i).normalF32(m * n);
  const expected = reference.biasGrad({ dy, m, n });
  const absSum = reference.biasGrad({ dy: abs(dy), m, n });
  const atol = absSum.map((s) => 4 * Math.sqrt(m) * U * s);
  return { m, n, dy, expected, atol };
});

// biasGrad is the backward of "+ bias" in gemm: also check it against finite differences of
// ⟨dy, reference.gemm(…, bias)⟩ w.r.t. bias for a small case (differences add ≈ 1e-9 of noise).
const BIAS_FD = (() => {
  const { m, n, dy } = BIAS_GRAD_CASES[1]!; // 7×33
  const k = 5;
  const rng = makeRng(1350);
  const a = rng.uniformF32(m * k);
  const b = rng.uniformF32(k * n);
  const fd = finiteDiffGrad((bias) => dot(dy, reference.gemm({ a, b, bias, m, n, k })), Float64Array.from(rng.uniformF32(n)));
  return { m, n, dy, fd };
})();

// ---------------------------------------------------------------------------------------------

for (const cfg of kernelConfigSuite(backend)) {
  describe(`gemm kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('gemm matches the reference: odd shapes × all transpositions × alpha/beta/bias/c variants', () => {
      for (const cs of CASES) runCase(cs);
    });

    it('gemmBatched matches the reference (stride-0 broadcasts, padded strides, NaN C)', () => {
      for (const cs of BATCHED) runBatchedCase(cs);
    });

    it('biasGrad matches the reference (fresh and in-place dBias)', () => {
      for (const { m, n, dy, expected, atol } of BIAS_GRAD_CASES) {
        const label = `biasGrad ${m}×${n}`;
        expectClose(kernels.biasGrad({ dy, m, n }), expected, { atol, rtol: 1e-5, label });
        const g = guarded(n);
        expect(kernels.biasGrad({ dy, m, n, dBias: g.view })).toBe(g.view);
        g.check(`${label} dBias`);
        expectClose(g.view, expected, { atol, rtol: 1e-5, label: `${label} (in place)` });
      }
      const { m, n, dy, fd } = BIAS_FD;
      expectClose(kernels.biasGrad({ dy, m, n }), fd, { atol: 1e-7, rtol: 1e-5, label: 'biasGrad vs finite differences' });
    });

    it('gemmAsync / gemmBatchedAsync give the same bits as the sync calls', async () => {
      for (const cs of CASES.filter((_, i) => i % 3 === 0)) {
        const common = {
          a: cs.a, b: cs.b, m: cs.m, n: cs.n, k: cs.k, transA: cs.transA, transB: cs.transB,
          alpha: cs.alpha, beta: cs.beta, ...(cs.bias ? { bias: cs.bias } : {}),
        };
        const withC = (): { c?: Float32Array } => (cs.c0 ? { c: Float32Array.from(cs.c0) } : {});
        const sync = kernels.gemm({ ...common, ...withC() });
        const asyncC = withC();
        const viaAsync = await kernels.gemmAsync({ ...common, ...asyncC });
        if (asyncC.c) expect(viaAsync).toBe(asyncC.c);
        expectSameBits(viaAsync, sync, `gemmAsync ${cs.name}`);
      }
      for (const cs of BATCHED) {
        const withC = (): { c?: Float32Array } => (cs.c0 ? { c: Float32Array.from(cs.c0) } : {});
        const sync = kernels.gemmBatched({ ...cs.opts, ...withC() });
        const viaAsync = await kernels.gemmBatchedAsync({ ...cs.opts, ...withC() });
        expectSameBits(viaAsync, sync, `gemmBatchedAsync ${cs.name}`);
      }
    });

    it('concurrent gemmAsync calls give the same results as sequential ones', async () => {
      const picks = [CASES[5]!, CASES[CASES.length - 2]!, CASES[13]!, CASES[CASES.length - 1]!, CASES[22]!, CASES[9]!];
      const optsFor = (cs: GemmCase) => ({
        a: cs.a, b: cs.b, m: cs.m, n: cs.n, k: cs.k, transA: cs.transA, transB: cs.transB,
        alpha: cs.alpha, beta: cs.beta, ...(cs.bias ? { bias: cs.bias } : {}),
        ...(cs.c0 ? { c: Float32Array.from(cs.c0) } : {}),
      });
      const sequential: Float32Array[] = [];
      for (const cs of picks) sequential.push(await kernels.gemmAsync(optsFor(cs)));
      const concurrent = await Promise.all(picks.map((cs) => kernels.gemmAsync(optsFor(cs))));
      concurrent.forEach((c, i) => expectSameBits(c, sequential[i]!, `concurrent gemmAsync #${i} ${picks[i]!.name}`));
      // and the batched form interleaved with plain gemm
      const mixed = await Promise.all([
        kernels.gemmBatchedAsync(BATCHED[5]!.opts),
        kernels.gemmAsync(optsFor(picks[1]!)),
        kernels.gemmBatchedAsync(BATCHED[0]!.opts),
      ]);
      expectSameBits(mixed[0], kernels.gemmBatched(BATCHED[5]!.opts), 'concurrent gemmBatchedAsync #0');
      expectSameBits(mixed[1], sequential[1]!, 'concurrent gemmAsync among batched');
      expectSameBits(mixed[2], kernels.gemmBatched(BATCHED[0]!.opts), 'concurrent gemmBatchedAsync #2');
    });
  });
}

describe('gemm defaults', () => {
  it('defaults transA/transB = false, alpha = 1, beta = 0 and allocates C', () => {
    const cs = CASES[4]!; // 7×33×5, transA = false, transB = false
    expect(cs.transA || cs.transB).toBe(false);
    const c = kernels.gemm({ a: cs.a, b: cs.b, m: cs.m, n: cs.n, k: cs.k });
    const expected = reference.gemm({ a: cs.a, b: cs.b, m: cs.m, n: cs.n, k: cs.k });
    expect(c.length).toBe(cs.m * cs.n);
    expectClose(c, expected, { atol: gemmAtol(cs.a, cs.b, undefined, undefined, cs.m, cs.n, cs.k, false, false, 1, 0), label: 'gemm defaults' });
  });
});
