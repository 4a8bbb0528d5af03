// test/reference/softmax.test.ts — row softmax and softmax cross-entropy references: forwards by
// definition, backwards against central finite differences of the forwards.

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

describe('reference.softmaxForward', () => {
  it('matches a hand example and is shift-invariant (no overflow at large logits)', () => {
    const e = Math.E;
    const z = 1 + e + e * e;
    expectClose(reference.softmaxForward({ x: [0, 1, 2], rows: 1, cols: 3 }), [1 / z, e / z, (e * e) / z], {
      rtol: 1e-15, label: 'softmaxForward',
    });
    expectClose(reference.softmaxForward({ x: [1000, 1001, 1002], rows: 1, cols: 3 }), [1 / z, e / z, (e * e) / z], {
      rtol: 1e-12, label: 'softmax shifted',
    });
    expect(Array.from(reference.softmaxForward({ x: [5], rows: 1, cols: 1 }))).toEqual([1]);
  });

  for (const [rows, cols] of [[3, 7], [2, 1], [1, 33]] as const) {
    it(`backward matches finite differences (rows=${rows}, cols=${cols})`, () => {
      const rng = makeRng(400 + rows * 100 + cols);
      const x = normalF64(rng, rows * cols, 0, 2);
      const dOut = normalF64(rng, rows * cols);
      const out = reference.softmaxForward({ x, rows, cols });
      const dx = reference.softmaxBackward({ dOut, out, rows, cols });
      const fd = finiteDiffGrad((xx) => dot(dOut, reference.softmaxForward({ x: xx, rows, cols })), x);
      expectClose(dx, fd, { rtol: 1e-6, atol: 1e-8, label: 'softmaxBackward' });
    });
  }
});

describe('reference.softmaxCrossEntropy', () => {
  it('matches a hand example', () => {
    // one row [0, ln 3], target 1: lse = ln 4, loss = ln 4 − ln 3
    const { loss, lse } = reference.softmaxXentForward({
      logits: [0, Math.log(3)], targets: [1], rows: 1, cols: 2,
    });
    expect(lse[0]).toBeCloseTo(Math.log(4), 15);
    expect(loss).toBeCloseTo(Math.log(4) - Math.log(3), 15);
  });

  it('rejects out-of-range targets', () => {
    expect(() =>
      reference.softmaxXentForward({ logits: [0, 0], targets: [2], rows: 1, cols: 2 }),
    ).toThrow(/targets\[0\]/);
  });

  for (const [rows, cols, dLoss] of [[4, 9, 1], [1, 1, 1], [3, 33, -2.5]] as const) {
    it(`backward matches finite differences (rows=${rows}, cols=${cols}, dLoss=${dLoss})`, () => {
      const rng = makeRng(500 + rows * 100 + cols);
      const logits = normalF64(rng, rows * cols, 0, 3);
      const targets = Array.from({ length: rows }, () => rng.int(0, cols - 1));
      const { lse } = reference.softmaxXentForward({ logits, targets, rows, cols });
      const dLogits = reference.softmaxXentBackward({ logits, lse, targets, rows, cols, dLoss });
      const fd = finiteDiffGrad(
        (l) => dLoss * reference.softmaxXentForward({ logits: l, targets, rows, cols }).loss,
        logits,
      );
      expectClose(dLogits, fd, { rtol: 1e-6, atol: 1e-8, label: 'softmaxXentBackward' });
    });
  }
});
