// test/reference/gelu.test.ts — erf against known values, and the GELU backward references
// against central finite differences of the GELU forward references.

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import type { GeluApproximate } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

describe('reference.erf', () => {
  // Values from mpmath / scipy.special.erf (correctly rounded doubles).
  const known: Array<[number, number]> = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [-2, -0.9953222650189527],
    [3, 0.9999779095030014],
    [0.1, 0.1124629160182849],
    [-0.25, -0.2763263901682369],
    [2.5, 0.999593047982555],
    [4, 0.9999999845827421],
  ];
  for (const [x, want] of known) {
    it(`erf(${x}) = ${want}`, () => {
      expect(Math.abs(reference.erf(x) - want)).toBeLessThanOrEqual(2e-15 * Math.max(Math.abs(want), 1e-300));
    });
  }

  it('keeps erfc relatively precise in the tail and is odd / continuous across the series switch', () => {
    expect(Math.abs(reference.erfc(5) / 1.5374597944280349e-12 - 1)).toBeLessThan(1e-14);
    expect(Math.abs(reference.erfc(3) / 2.209049699858544e-5 - 1)).toBeLessThan(1e-13);
    expect(reference.erf(-1.3)).toBe(-reference.erf(1.3));
    // across x = 3, where the series hands over to the continued fraction
    expect(Math.abs(reference.erf(3 - 1e-12) - reference.erf(3 + 1e-12))).toBeLessThan(1e-15);
    expect(reference.erf(Infinity)).toBe(1);
    expect(reference.erf(-Infinity)).toBe(-1);
  });

  it('gives Φ and φ consistent with each other (dΦ/dx = φ by finite differences)', () => {
    for (const x of [-4, -1.5, -0.3, 0, 0.7, 2, 5]) {
      const h = 1e-6;
      const fd = (reference.normalCdf(x + h) - reference.normalCdf(x - h)) / (2 * h);
      expect(Math.abs(fd - reference.normalPdf(x))).toBeLessThan(1e-9);
    }
    expect(reference.normalCdf(0)).toBe(0.5);
  });
});

describe('reference.gelu', () => {
  it('matches known GELU values', () => {
    // x·Φ(x) at x = 1: 0.8413447460685429; tanh form at 1: 0.8411919906082768; quick at 1: σ(1.702)
    expect(reference.geluScalar(1, 'none')).toBeCloseTo(0.8413447460685429, 15);
    expect(reference.geluScalar(1, 'tanh')).toBeCloseTo(0.8411919906082768, 15);
    expect(reference.geluScalar(1, 'quick')).toBeCloseTo(1 / (1 + Math.exp(-1.702)), 15);
    expect(reference.geluScalar(-10, 'none')).toBeCloseTo(-7.619853024160593e-23, 30);
  });

  const modes: GeluApproximate[] = ['none', 'tanh', 'quick'];
  for (const approximate of modes) {
    it(`backward (${approximate}) matches finite differences of the forward`, () => {
      const rng = makeRng(200 + modes.indexOf(approximate));
      const n = 37;
      const x = normalF64(rng, n, 0, 2.5);
      x[0] = 0; // the kink-free origin
      const dOut = normalF64(rng, n);
      const loss = (xx: Float64Array): number => dot(dOut, reference.geluForward({ x: xx, approximate }));
      const fd = finiteDiffGrad(loss, x);
      const dx = reference.geluBackward({ dOut, x, approximate });
      expectClose(dx, fd, { rtol: 1e-6, atol: 1e-8, label: `geluBackward ${approximate}` });
    });
  }
});
