// test/kernels/layernorm.test.ts — kernels.layernormForward / layernormBackward against the
// float64 references (and the backward against finite differences of the reference forward),
// for every SIMD level × {1, all} threads.
//
// Tolerances (besides rtol = 1e-5·|r|):
// - mean: a float32 sum of dim values, ≈ √dim·u·max|x| → atol 4√dim·u·max|x|.
// - out = (x − mean)·rstd·w + b: x − mean loses ≈ u·(|x| + |mean|) absolute, times rstd·|w|;
//   with inputs of mean 2 and sd 1.5 that is a few 1e-7 → atol 8u·(max|x| + max|mean|)·max rstd·
//   max(1,|w|) + 4u·max|b|.
// - rstd: positive, no cancellation → rtol only (plus 1e-6 relative of the largest rstd for dim = 1
//   where var = 0 and rstd = 1/√eps).
// - dx = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)): cancellation between three terms of
//   size |dxhat| → atol 16·√dim·u·max rstd·max|dOut·w|·max(1, max|xhat|).
// - dWeight, dBias: sums over rows of O(|dOut|·|xhat|) terms → atol 8·√rows·u·Σ_r|dOut·xhat| (the
//   per-column absolute sums), plus xhat's own relative error (≈ 1e-6) carried into each term.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectMatchesReference, expectSameBits, guarded, kernelConfigSuite, maxAbs } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24;

interface LnCase {
  name: string;
  rows: number;
  dim: number;
  eps: number | undefined;
  x: Float32Array;
  weight: Float32Array | undefined;
  bias: Float32Array | undefined;
  dOut: Float32Array;
  fwd: { out: Float64Array; mean: Float64Array; rstd: Float64Array };
  bwd: { dx: Float64Array; dWeight: Float64Array; dBias: Float64Array };
  atol: { out: number; mean: number; rstd: number; dx: number; dWeight: Float64Array; dBias: Float64Array };
}

function makeCase(seed: number, rows: number, dim: number, affine: boolean, eps?: number): LnCase {
  const rng = makeRng(seed);
  const x = rng.normalF32(rows * dim, 2, 1.5);
  const weight = affine ? rng.normalF32(dim, 1, 0.5) : undefined;
  const bias = affine ? rng.normalF32(dim, 0, 0.5) : undefined;
  const dOut = rng.normalF32(rows * dim);
  const fwd = reference.layernormForward({ x, weight, bias, rows, dim, eps });
  // The backward reference is fed the float64 mean/rstd: the kernel backward gets the float32
  // ones its own forward saved; the difference is inside the tolerance below.
  const bwd = reference.layernormBackward({ dOut, x, weight, mean: fwd.mean, rstd: fwd.rstd, rows, dim });

  const maxW = Math.max(1, weight ? maxAbs(weight) : 1);
  const maxRstd = maxAbs(fwd.rstd);
  let maxXhat = 0;
  let maxDxhat = 0;
  const absW = new Float64Array(dim);
  const absB = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dim; i++) {
      const xhat = Math.abs((x[r * dim + i]! - fwd.mean[r]!) * fwd.rstd[r]!);
      const g = Math.abs(dOut[r * dim + i]!);
      maxXhat = Math.max(maxXhat, xhat);
      maxDxhat = Math.max(maxDxhat, g * (weight ? Math.abs(weight[i]!) : 1));
      absW[i] = absW[i]! + g * Math.max(xhat, 1);
      absB[i] = absB[i]! + g;
    }
  }
  const atol = {
    out: 8 * U * (maxAbs(x) + maxAbs(fwd.mean)) * maxRstd * maxW + 4 * U * (bias ? maxAbs(bias) : 0),
    mean: 4 * Math.sqrt(dim) * U * maxAbs(x),
    rstd: 1e-6 * maxRstd,
    dx: 16 * Math.sqrt(dim) * U * maxRstd * maxDxhat * Math.max(1, maxXhat),
    dWeight: absW.map((s) => 8 * Math.sqrt(rows) * U * s + 1e-6 * s / Math.sqrt(rows)),
    dBias: absB.map((s) => 8 * Math.sqrt(rows) * U * s),
  };
  return {
    name: `rows=${rows} dim=${dim} affine=${affine} eps=${eps ?? 'default'}`,
    rows, dim, eps, x, weight, bias, dOut, fwd, bwd, atol,
  };
}

const CASES: LnCase[] = [
  makeCase(2000, 1, 1, true),
  makeCase(2001, 7, 33, true),
  makeCase(2002, 33, 7, false),
  makeCase(2003, 5, 1000, true, 1e-3),
  makeCase(2004, 64, 129, true),
  makeCase(2005, 3, 768, false),
  makeCase(2006, 17, 2, true, 0.5),
];

function forwardOpts(cs: LnCase) {
  return {
    x: cs.x, rows: cs.rows, dim: cs.dim,
    ...(cs.weight ? { weight: cs.weight } : {}),
    ...(cs.bias ? { bias: cs.bias } : {}),
    ...(cs.eps !== undefined ? { eps: cs.eps } : {}),
  };
}

function checkForward(cs: LnCase, res: { out: Float32Array; mean: Float32Array; rstd: Float32Array }): void {
  expectMatchesReference({ ...res }, cs.fwd, {
    atol: { out: cs.atol.out, mean: cs.atol.mean, rstd: cs.atol.rstd },
    label: `layernormForward ${cs.name}`,
  });
}

function checkBackward(
  cs: LnCase,
  res: { dx: Float32Array; dWeight: Float32Array; dBias: Float32Array },
  want: { dx: ArrayLike<number>; dWeight: ArrayLike<number>; dBias: ArrayLike<number> },
  what: string,
): void {
  expectMatchesReference({ ...res }, { ...want }, {
    atol: { dx: cs.atol.dx, dWeight: cs.atol.dWeight, dBias: cs.atol.dBias },
    label: `layernormBackward ${cs.name} vs ${what}`,
  });
}

// Finite differences of the reference forward for the small cases (⟨dOut, out⟩ w.r.t. x, w, b).
const FD_CASES = CASES.filter((cs) => cs.rows * cs.dim <= 300);
const FD = new Map(
  FD_CASES.map((cs) => {
    const { rows, dim, eps } = cs;
    const x = Float64Array.from(cs.x);
    const w = cs.weight ? Float64Array.from(cs.weight) : new Float64Array(dim).fill(1);
    const b = cs.bias ? Float64Array.from(cs.bias) : new Float64Array(dim);
    const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array): number =>
      dot(cs.dOut, reference.layernormForward({ x: xx, weight: ww, bias: bb, rows, dim, eps }).out);
    return [cs, {
      dx: finiteDiffGrad((v) => loss(v, w, b), x),
      dWeight: finiteDiffGrad((v) => loss(x, v, b), w),
      dBias: finiteDiffGrad((v) => loss(x, w, v), b),
    }] as const;
  }),
);

for (const cfg of kernelConfigSuite(backend)) {
  describe(`layerNorm kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('layernormForward matches the reference (allocated and guarded in-place outputs)', () => {
      for (const cs of CASES) {
        const fresh = kernels.layernormForward(forwardOpts(cs));
        checkForward(cs, fresh);
        const out = guarded(cs.rows * cs.dim);
        const mean = guarded(cs.rows);
        const rstd = guarded(cs.rows);
        const res = kernels.layernormForward({ ...forwardOpts(cs), out: out.view, mean: mean.view, rstd: rstd.view });
        expect(res.out).toBe(out.view);
        expect(res.mean).toBe(mean.view);
        expect(res.rstd).toBe(rstd.view);
        out.check(`${cs.name} out`);
        mean.check(`${cs.name} mean`);
        rstd.check(`${cs.name} rstd`);
        expectSameBits(res.out, fresh.out, `${cs.name} out in place vs allocated`);
      }
    });

    it('layernormBackward matches the reference backward and finite differences', () => {
      for (const cs of CASES) {
        const fwd = kernels.layernormForward(forwardOpts(cs));
        const args = {
          dOut: cs.dOut, x: cs.x, mean: fwd.mean, rstd: fwd.rstd, rows: cs.rows, dim: cs.dim,
          ...(cs.weight ? { weight: cs.weight } : {}),
        };
        const fresh = kernels.layernormBackward(args);
        checkBackward(cs, fresh, cs.bwd, 'reference');
        const fd = FD.get(cs);
        if (fd) checkBackward(cs, fresh, fd, 'finite differences');

        const dx = guarded(cs.rows * cs.dim);
        const dWeight = guarded(cs.dim);
        const dBias = guarded(cs.dim);
        const res = kernels.layernormBackward({ ...args, dx: dx.view, dWeight: dWeight.view, dBias: dBias.view });
        expect(res.dx).toBe(dx.view);
        expect(res.dWeight).toBe(dWeight.view);
        expect(res.dBias).toBe(dBias.view);
        dx.check(`${cs.name} dx`);
        dWeight.check(`${cs.name} dWeight`);
        dBias.check(`${cs.name} dBias`);
        expectSameBits(res.dx, fresh.dx, `${cs.name} dx in place vs allocated`);
        expectSameBits(res.dWeight, fresh.dWeight, `${cs.name} dWeight in place vs allocated`);
      }
    });
  });
}
