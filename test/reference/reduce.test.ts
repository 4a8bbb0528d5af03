// test/reference/reduce.test.ts — the float64 reduce references on known vectors.
import { describe, expect, it } from 'vitest';

import { reference } from '../../lib/index.js';

describe('reference reduce', () => {
  it('sumSquares: small integers and halves, exact in double', () => {
    expect(reference.sumSquares({ x: [1, -2, 3, 0.5] })).toBe(14.25);
    expect(reference.sumSquares({ x: [] })).toBe(0);
  });

  it('addScaled: y repeats over x; alpha defaults to 1; a y that does not divide x throws', () => {
    expect(Array.from(reference.addScaled({ x: [1, 2, 3, 4], y: [10, 20], alpha: -0.5 }))).toEqual([-4, -8, -2, -6]);
    expect(Array.from(reference.addScaled({ x: [1, 2, 3], y: [1, 2, 3] }))).toEqual([2, 4, 6]);
    expect(() => reference.addScaled({ x: [1, 2, 3], y: [1, 2] })).toThrow(/y\.length to divide x\.length/);
  });
});
