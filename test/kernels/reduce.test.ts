// test/kernels/reduce.test.ts — addScaled and sumSquares against the float64 references
// (lib/reference/reduce.ts), including shapes large enough to split across threads; and the
// table of bad arguments (both layers, sync and async).
import { describe, expect, it } from 'vitest';

import { kernels, reference } from '../../lib/index.js';
import { expectClose } from '../helpers/compare.js';
import { bad as badRow, runErrorTable, type Options, type Row as TableRow, type Target } from '../helpers/errorTable.js';
import { makeRng } from '../helpers/seed.js';

describe('addScaled', () => {
  for (const [n, ny] of [[1, 1], [12, 4], [3 * 375 * 512, 512], [200003, 200003], [65536 * 3 + 5, 1]] as const) {
    it(`n = ${n}, y repeating every ${ny}`, () => {
      const rng = makeRng(n + ny);
      const x = rng.normalF32(n);
      const y = rng.normalF32(ny);
      const alpha = -0.75;
      const want = reference.addScaled({ x, y, alpha });
      expectClose(kernels.addScaled({ x, y, alpha }), want, { rtol: 1e-6, atol: 1e-6 });
      const inPlace = x.slice();
      kernels.addScaled({ x: inPlace, y, alpha, out: inPlace });
      expectClose(inPlace, want, { rtol: 1e-6, atol: 1e-6 });
      expectClose(kernels.addScaled({ x, y }), reference.addScaled({ x, y }), { rtol: 1e-6, atol: 1e-6 });
    });
  }
});

describe('sumSquares', () => {
  for (const n of [1, 7, 65536, 65537, 1000003]) {
    it(`n = ${n}: the double sum within 1e-12 relative, sync and async alike`, async () => {
      const x = makeRng(500 + n).normalF32(n);
      const want = reference.sumSquares({ x });
      const got = kernels.sumSquares({ x });
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * want);
      expect(await kernels.sumSquaresAsync({ x })).toBe(got);
    });
  }
});

const FNS = ['addScaled'] as const;
type Fn = (typeof FNS)[number];
const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.5 + i);
const BASES: Record<Fn, { inputs: () => Options; native: () => Options }> = {
  addScaled: { inputs: () => ({ x: f32(12), y: f32(4), alpha: 2 }), native: () => ({ out: f32(12) }) },
};
const baseFor = (fn: Fn, target: Target): Options => (target === 'kernels' ? BASES[fn].inputs() : { ...BASES[fn].inputs(), ...BASES[fn].native() });
const bad = badRow<Fn>;
const shared = new Float32Array(48);
const ROWS: Array<TableRow<Fn>> = [
  bad('addScaled', 'y not dividing x', { y: f32(5) }, RangeError, 'y.length'),
  bad('addScaled', 'y empty', { y: new Float32Array(0) }, RangeError, 'y'),
  bad('addScaled', 'x a plain Array', { x: [1, 2, 3, 4] }, TypeError, 'x'),
  bad('addScaled', 'alpha NaN', { alpha: NaN }, RangeError, 'alpha'),
  bad('addScaled', 'alpha a string', { alpha: '2' }, TypeError, 'alpha'),
  bad('addScaled', 'out one short', { out: f32(11) }, RangeError, 'out'),
  bad('addScaled', 'out overlapping y', { y: shared.subarray(0, 4), out: shared.subarray(2, 14) }, RangeError, 'out'),
  bad('addScaled', 'out partly overlapping x', { x: shared.subarray(0, 12), out: shared.subarray(4, 16) }, RangeError, 'out'),
];
runErrorTable({ fns: FNS, baseFor, rows: ROWS, baseAsync: true });
