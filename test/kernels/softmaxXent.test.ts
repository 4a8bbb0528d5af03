// test/kernels/softmaxXent.test.ts — kernels.softmaxXentForward / Backward against the
// float64 references (and the backward against finite differences of the reference forward),
// for every SIMD level × {1, all} threads.
//
// Tolerance (besides rtol 1e-5):
// - lse = max + log Σ exp(x − max): a few ulp of |lse| → atol 8u·max|logits| (for lse ≈ 0).
// - loss = mean(lse − logit_t): each term can cancel to ≈ 0 when the target dominates, leaving
//   ≈ u·|lse| → atol 8u·max|lse|.
// - dLogits = dLoss/rows·(p − onehot): p to a few ulp relative; p − 1 at the target cancels to
//   ≈ u → atol 8u·|dLoss|/rows.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectMatchesReference, expectSameBits, guarded, kernelConfigSuite, maxAbs } from '../helpers/compare.js';
import { finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24;

interface XeCase {
  name: string;
  rows: number;
  cols: number;
  dLoss: number;
  logits: Float32Array;
  targets: Int32Array;
  loss: number;
  lse: Float64Array;
  lseAtol: number;
  lossAtol: number;
  gradAtol: number;
}

function makeCase(seed: number, rows: number, cols: number, scale: number, dLoss: number): XeCase {
  const rng = makeRng(seed);
  const logits = rng.normalF32(rows * cols, 0, scale);
  const targets = rng.intI32(rows, 0, cols - 1);
  const { loss, lse } = reference.softmaxXentForward({ logits, targets, rows, cols });
  return {
    name: `rows=${rows} cols=${cols} scale=${scale} dLoss=${dLoss}`,
    rows, cols, dLoss, logits, targets, loss, lse,
    lseAtol: 8 * U * maxAbs(logits),
    lossAtol: 8 * U * maxAbs(lse),
    gradAtol: (8 * U * Math.abs(dLoss)) / rows,
  };
}

const CASES: XeCase[] = [
  makeCase(5000, 1, 1, 1, 1),
  makeCase(5001, 7, 33, 4, 1),
  makeCase(5002, 33, 7, 4, -2.5),
  makeCase(5003, 64, 1000, 3, 1),
  makeCase(5004, 3, 10007, 2, 0.25),
  makeCase(5005, 5, 17, 40, 1), // peaked rows: lse ≈ max, p ≈ onehot
];

const FD_CASES = CASES.filter((cs) => cs.rows * cs.cols <= 300);
const FD = new Map(
  FD_CASES.map((cs) => {
    const fd = finiteDiffGrad(
      (l) => cs.dLoss * reference.softmaxXentForward({ logits: l, targets: cs.targets, rows: cs.rows, cols: cs.cols }).loss,
      Float64Array.from(cs.logits),
    );
    return [cs, fd] as const;
  }),
);

for (const cfg of kernelConfigSuite(backend)) {
  describe(`softmax cross-entropy kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('softmaxXentForward matches the reference (loss and lse)', () => {
      for (const cs of CASES) {
        const args = { logits: cs.logits, targets: cs.targets, rows: cs.rows, cols: cs.cols };
        const fresh = kernels.softmaxXentForward(args);
        expect(typeof fresh.loss).toBe('number');
        expectMatchesReference({ ...fresh }, { loss: cs.loss, lse: cs.lse }, {
          atol: { loss: cs.lossAtol, lse: cs.lseAtol },
          label: `softmaxXentForward ${cs.name}`,
        });
        const lse = guarded(cs.rows);
        const res = kernels.softmaxXentForward({ ...args, lse: lse.view });
        expect(res.lse).toBe(lse.view);
        lse.check(`lse ${cs.name}`);
        expect(res.loss).toBe(fresh.loss);
        expectSameBits(res.lse, fresh.lse, `lse ${cs.name} in place vs allocated`);
      }
    });

    it('softmaxXentBackward matches the reference backward and finite differences', () => {
      for (const cs of CASES) {
        const { lse } = kernels.softmaxXentForward({ logits: cs.logits, targets: cs.targets, rows: cs.rows, cols: cs.cols });
        const args = { logits: cs.logits, lse, targets: cs.targets, rows: cs.rows, cols: cs.cols, dLoss: cs.dLoss };
        const label = `softmaxXentBackward ${cs.name}`;
        const want = reference.softmaxXentBackward(args); // fed the kernel's float32 lse
        const fresh = kernels.softmaxXentBackward(args);
        expectClose(fresh, want, { atol: cs.gradAtol, label, cols: cs.cols });
        const fd = FD.get(cs);
        // vs finite differences the float32 lse adds ≈ u·|lse| relative error to every p
        if (fd) expectClose(fresh, fd, { atol: cs.gradAtol * (1 + maxAbs(cs.lse)), label: `${label} vs finite differences`, cols: cs.cols });
        const dLogits = guarded(cs.rows * cs.cols);
        expect(kernels.softmaxXentBackward({ ...args, dLogits: dLogits.view })).toBe(dLogits.view);
        dLogits.check(`${label} dLogits`);
        expectSameBits(dLogits.view, fresh, `${label} in place vs allocated`);
      }
    });

    it('softmaxXentBackward defaults dLoss to 1', () => {
      const cs = CASES[1]!;
      const { lse } = kernels.softmaxXentForward({ logits: cs.logits, targets: cs.targets, rows: cs.rows, cols: cs.cols });
      const base = { logits: cs.logits, lse, targets: cs.targets, rows: cs.rows, cols: cs.cols };
      expectSameBits(kernels.softmaxXentBackward(base), kernels.softmaxXentBackward({ ...base, dLoss: 1 }), 'dLoss default');
    });
  });
}
