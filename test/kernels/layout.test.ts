// test/kernels/layout.test.ts — permute0213 and addScaled against plain JS, through the wrapper
// and the raw binding, including shapes large enough to split across threads; and the table of
// bad arguments (both layers, sync and async).
import { describe, it } from 'vitest';

import { kernels } from '../../lib/index.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import { MISSING, bad as badRow, runErrorTable, type Options, type Row as TableRow, type Target } from '../helpers/errorTable.js';
import { makeRng } from '../helpers/seed.js';

function permuteRef(src: Float32Array, a: number, b: number, c: number, d: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) for (let l = 0; l < d; l++) {
    out[((i * c + k) * b + j) * d + l] = src[((i * b + j) * c + k) * d + l]!;
  }
  return out;
}

describe('permute0213', () => {
  for (const [a, b, c, d] of [[1, 1, 1, 1], [2, 3, 5, 7], [4, 75, 8, 64], [1, 1000, 3, 1]] as const) {
    it(`[${a}, ${b}, ${c}, ${d}] equals the definition and round-trips`, async () => {
      const src = makeRng(a * 1000 + d).normalF32(a * b * c * d);
      const dst = kernels.permute0213({ src, a, b, c, d });
      expectSameBits(dst, permuteRef(src, a, b, c, d), 'dst');
      expectSameBits(kernels.permute0213({ src: dst, a, b: c, c: b, d }), src, 'round trip');
      expectSameBits(await kernels.permute0213Async({ src, a, b, c, d }), dst, 'async');
    });
  }
});

describe('addScaled', () => {
  for (const [n, ny] of [[1, 1], [12, 4], [3 * 375 * 512, 512], [200003, 200003], [65536 * 3 + 5, 1]] as const) {
    it(`n = ${n}, y repeating every ${ny}`, () => {
      const rng = makeRng(n + ny);
      const x = rng.normalF32(n);
      const y = rng.normalF32(ny);
      const alpha = -0.75;
      const want = Float64Array.from(x, (v, i) => v + alpha * y[i % ny]!);
      expectClose(kernels.addScaled({ x, y, alpha }), want, { rtol: 1e-6, atol: 1e-6 });
      const inPlace = x.slice();
      kernels.addScaled({ x: inPlace, y, alpha, out: inPlace });
      expectClose(inPlace, want, { rtol: 1e-6, atol: 1e-6 });
      expectClose(kernels.addScaled({ x, y }), Float64Array.from(x, (v, i) => v + y[i % ny]!), { rtol: 1e-6, atol: 1e-6 });
    });
  }
});

const FNS = ['permute0213', 'addScaled'] as const;
type Fn = (typeof FNS)[number];
const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.5 + i);
const BASES: Record<Fn, { inputs: () => Options; native: () => Options }> = {
  permute0213: { inputs: () => ({ src: f32(24), a: 1, b: 2, c: 3, d: 4 }), native: () => ({ dst: f32(24) }) },
  addScaled: { inputs: () => ({ x: f32(12), y: f32(4), alpha: 2 }), native: () => ({ out: f32(12) }) },
};
const baseFor = (fn: Fn, target: Target): Options => (target === 'kernels' ? BASES[fn].inputs() : { ...BASES[fn].inputs(), ...BASES[fn].native() });
const bad = badRow<Fn>;
const shared = new Float32Array(48);
const ROWS: Array<TableRow<Fn>> = [
  ...(['a', 'b', 'c', 'd'] as const).flatMap((k) => [
    bad('permute0213', `${k} 0`, { [k]: 0 }, RangeError, k),
    bad('permute0213', `${k} 2.5`, { [k]: 2.5 }, RangeError, k),
    bad('permute0213', `${k} a string`, { [k]: '2' }, TypeError, k),
    bad('permute0213', `${k} missing`, { [k]: MISSING }, TypeError, k),
  ]),
  bad('permute0213', 'src one short', { src: f32(23) }, RangeError, 'src'),
  bad('permute0213', 'src a Float64Array', { src: new Float64Array(24) }, TypeError, 'src'),
  bad('permute0213', 'dst one long', { dst: f32(25) }, RangeError, 'dst'),
  bad('permute0213', 'dst overlapping src', { src: shared.subarray(0, 24), dst: shared.subarray(12, 36) }, RangeError, 'dst'),
  bad('permute0213', 'a huge shape with a tiny buffer', { a: 2 ** 31 - 1, b: 2 ** 31 - 1 }, RangeError, 'src|a·b·c·d'),
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
