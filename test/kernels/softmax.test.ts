// test/kernels/softmax.test.ts — kernels.softmax / softmaxBackward against the float64
// references (and the backward against finite differences of the reference forward), for every
// SIMD level × {1, all} threads.
//
// Tolerance (besides rtol 1e-5): softmax values lie in (0, 1] and a float32 exp(x − max) / Σ is
// good to a few ulp *relative*, so atol is only a floor for values that underflow towards
// float32's denormals: 1e-30. The backward dx = p·(dOut − Σ dOut·p) can cancel inside the
// bracket, losing ≈ u·(|dOut| + Σ|dOut·p|) absolute per element before the multiply by p:
// atol_i = 16u·p_i·(|dOut_i| + Σ_c |dOut_c·p_c|).

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectSameBits, guarded, kernelConfigSuite } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24;

interface SmCase {
  name: string;
  rows: number;
  cols: number;
  x: Float32Array;
  dOut: Float32Array;
  out: Float64Array;
  bwdAtol: Float64Array;
}

function makeCase(seed: number, rows: number, cols: number, scale: number, offset = 0): SmCase {
  const rng = makeRng(seed);
  const x = rng.normalF32(rows * cols, offset, scale);
  const dOut = rng.normalF32(rows * cols);
  const out = reference.softmaxForward({ x, rows, cols });
  const bwdAtol = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.abs(dOut[r * cols + c]! * out[r * cols + c]!);
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      bwdAtol[i] = 16 * U * out[i]! * (Math.abs(dOut[i]!) + s) + 1e-30; // floor: denormal p may flush to 0
    }
  }
  return { name: `rows=${rows} cols=${cols} scale=${scale} offset=${offset}`, rows, cols, x, dOut, out, bwdAtol };
}

const CASES: SmCase[] = [
  makeCase(4000, 1, 1, 1),
  makeCase(4001, 7, 33, 3),
  makeCase(4002, 33, 7, 3),
  makeCase(4003, 4, 1000, 2),
  makeCase(4004, 129, 65, 5),
  makeCase(4005, 3, 17, 1, 1000), // large logits: only correct with the max subtracted
  makeCase(4006, 2, 40, 30), // wide range: many probabilities underflow
];

// the reference backward, fed the kernel's float32 `out` rather than the float64 one
function refBackward(cs: SmCase, out: Float32Array): Float64Array {
  return reference.softmaxBackward({ dOut: cs.dOut, out, rows: cs.rows, cols: cs.cols });
}

const FD_CASES = CASES.filter((cs) => cs.rows * cs.cols <= 300);
const FD = new Map(
  FD_CASES.map((cs) => {
    const fd = finiteDiffGrad(
      (x) => dot(cs.dOut, reference.softmaxForward({ x, rows: cs.rows, cols: cs.cols })),
      Float64Array.from(cs.x),
    );
    return [cs, fd] as const;
  }),
);

for (const cfg of kernelConfigSuite(backend)) {
  describe(`softmax kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('softmax matches the reference', () => {
      for (const cs of CASES) {
        const fresh = kernels.softmaxForward({ x: cs.x, rows: cs.rows, cols: cs.cols });
        expectClose(fresh, cs.out, { atol: 1e-30, label: `softmax ${cs.name}`, cols: cs.cols });
        const out = guarded(cs.rows * cs.cols);
        expect(kernels.softmaxForward({ x: cs.x, rows: cs.rows, cols: cs.cols, out: out.view })).toBe(out.view);
        out.check(`softmax ${cs.name} out`);
        expectSameBits(out.view, fresh, `softmax ${cs.name} in place vs allocated`);
      }
    });

    it('softmaxBackward matches the reference backward and finite differences', () => {
      for (const cs of CASES) {
        const out = kernels.softmaxForward({ x: cs.x, rows: cs.rows, cols: cs.cols });
        const args = { dOut: cs.dOut, out, rows: cs.rows, cols: cs.cols };
        const fresh = kernels.softmaxBackward(args);
        const label = `softmaxBackward ${cs.name}`;
        expectClose(fresh, refBackward(cs, out), { atol: cs.bwdAtol, label, cols: cs.cols });
        const fd = FD.get(cs);
        // vs finite differences the float32 `out` itself contributes ≈ u·p of error (4× more
        // room), and the differences carry ≈ 1e-10 of their own noise (floor 1e-8)
        if (fd) expectClose(fresh, fd, { atol: cs.bwdAtol.map((a) => 4 * a + 1e-8), label: `${label} vs finite differences`, cols: cs.cols });
        const dx = guarded(cs.rows * cs.cols);
        expect(kernels.softmaxBackward({ ...args, dx: dx.view })).toBe(dx.view);
        dx.check(`${label} dx`);
        expectSameBits(dx.view, fresh, `${label} in place vs allocated`);
      }
    });
  });
}
