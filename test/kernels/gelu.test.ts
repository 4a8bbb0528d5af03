// test/kernels/gelu.test.ts — kernels.geluForward / geluBackward ('none' | 'tanh' | 'quick')
// against the float64 references (and the backward against finite differences of the
// reference forward), for every SIMD level × {1, all} threads.
//
// Tolerance: elementwise, so per element atol = 4e-7·max(1, |x|) (forward) and
// 1e-6·|dOut|·max(1, |x|) (backward), plus rtol 1e-5. Why: a float32 erf / tanh / exp is good to
// a few 1e-8 absolute near ±1, and GELU multiplies it by x — in the tails (x ≈ −4 … −6) where
// Φ(x) or 1 + tanh(u) is itself a small difference of O(1) numbers, that absolute error times
// |x| is all a correct float32 kernel can promise. Lengths 1, 7, 15, 16, 17, 33, 1031 cover
// every SIMD remainder path for 4-, 8- and 16-lane vectors.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import type { GeluApproximate } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectSameBits, guarded, kernelConfigSuite } from '../helpers/compare.js';
import { finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const MODES: GeluApproximate[] = ['none', 'tanh', 'quick'];
const LENGTHS = [1, 7, 15, 16, 17, 33, 1031];
const SPECIAL = [0, -0, 1e-3, -1e-3, 1, -1, 3, -3, 4.5, -4.5, 6, -6, 10, -10, 20, -20, 80, -80];

interface GeluCase {
  n: number;
  x: Float32Array;
  dOut: Float32Array;
  fwdAtol: Float64Array;
  bwdAtol: Float64Array;
}

const CASES: GeluCase[] = LENGTHS.map((n, i) => {
  const rng = makeRng(3000 + i);
  const x = rng.normalF32(n, 0, 3);
  if (n >= SPECIAL.length) x.set(SPECIAL, n - SPECIAL.length); // special values sit in the tail (remainder) part too
  const dOut = rng.normalF32(n);
  const fwdAtol = Float64Array.from(x, (v) => 4e-7 * Math.max(1, Math.abs(v)));
  const bwdAtol = Float64Array.from(x, (v, j) => 1e-6 * Math.abs(dOut[j]!) * Math.max(1, Math.abs(v)));
  return { n, x, dOut, fwdAtol, bwdAtol };
});

// Finite differences of the reference forward (elementwise, so each derivative is the scalar
// central difference of gelu at x_i) for the 33-element case.
const FD_CASE = CASES.find((c) => c.n === 33)!;
const FD = new Map(
  MODES.map((approximate) => {
    const x = Float64Array.from(FD_CASE.x);
    const fd = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const g = finiteDiffGrad((v) => reference.geluScalar(v[0]!, approximate), Float64Array.of(x[i]!));
      fd[i] = FD_CASE.dOut[i]! * g[0]!;
    }
    return [approximate, fd] as const;
  }),
);

for (const cfg of kernelConfigSuite(backend)) {
  describe(`gelu kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    for (const approximate of MODES) {
      it(`geluForward '${approximate}' matches the reference`, () => {
        for (const cs of CASES) {
          const want = reference.geluForward({ x: cs.x, approximate });
          const label = `geluForward ${approximate} n=${cs.n}`;
          const fresh = kernels.geluForward({ x: cs.x, approximate });
          expectClose(fresh, want, { atol: cs.fwdAtol, label });
          const out = guarded(cs.n);
          expect(kernels.geluForward({ x: cs.x, approximate, out: out.view })).toBe(out.view);
          out.check(`${label} out`);
          expectSameBits(out.view, fresh, `${label} in place vs allocated`);
        }
      });

      it(`geluBackward '${approximate}' matches the reference backward and finite differences`, () => {
        for (const cs of CASES) {
          const want = reference.geluBackward({ dOut: cs.dOut, x: cs.x, approximate });
          const label = `geluBackward ${approximate} n=${cs.n}`;
          const fresh = kernels.geluBackward({ dOut: cs.dOut, x: cs.x, approximate });
          expectClose(fresh, want, { atol: cs.bwdAtol, label });
          if (cs === FD_CASE) {
            expectClose(fresh, FD.get(approximate)!, { atol: cs.bwdAtol, label: `${label} vs finite differences` });
          }
          const dx = guarded(cs.n);
          expect(kernels.geluBackward({ dOut: cs.dOut, x: cs.x, approximate, dx: dx.view })).toBe(dx.view);
          dx.check(`${label} dx`);
          expectSameBits(dx.view, fresh, `${label} in place vs allocated`);
        }
      });
    }

    it("defaults approximate to 'none'", () => {
      const cs = CASES[5]!;
      expectSameBits(kernels.geluForward({ x: cs.x }), kernels.geluForward({ x: cs.x, approximate: 'none' }), 'geluForward default');
      expectSameBits(
        kernels.geluBackward({ dOut: cs.dOut, x: cs.x }),
        kernels.geluBackward({ dOut: cs.dOut, x: cs.x, approximate: 'none' }),
        'geluBackward default',
      );
    });
  });
}
