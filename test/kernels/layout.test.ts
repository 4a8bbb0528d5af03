// test/kernels/layout.test.ts — permute0213 against the float64 reference (lib/reference/layout.ts),
// bit for bit (a copy), including shapes large enough to split across threads; and the table of
// bad arguments (both layers, sync and async).
import { describe, it } from 'vitest';

import { kernels, reference } from '../../lib/index.js';
import { expectSameBits } from '../helpers/compare.js';
import { MISSING, bad as badRow, runErrorTable, type Options, type Row as TableRow, type Target } from '../helpers/errorTable.js';
import { makeRng } from '../helpers/seed.js';

describe('permute0213', () => {
  for (const [a, b, c, d] of [[1, 1, 1, 1], [2, 3, 5, 7], [4, 75, 8, 64], [1, 1000, 3, 1]] as const) {
    it(`[${a}, ${b}, ${c}, ${d}] equals the definition and round-trips`, async () => {
      const src = makeRng(a * 1000 + d).normalF32(a * b * c * d);
      const dst = kernels.permute0213({ src, a, b, c, d });
      expectSameBits(dst, Float32Array.from(reference.permute0213({ src, a, b, c, d })), 'dst');
      expectSameBits(kernels.permute0213({ src: dst, a, b: c, c: b, d }), src, 'round trip');
      expectSameBits(await kernels.permute0213Async({ src, a, b, c, d }), dst, 'async');
    });
  }
});

const FNS = ['permute0213'] as const;
type Fn = (typeof FNS)[number];
const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.5 + i);
const BASES: Record<Fn, { inputs: () => Options; native: () => Options }> = {
  permute0213: { inputs: () => ({ src: f32(24), a: 1, b: 2, c: 3, d: 4 }), native: () => ({ dst: f32(24) }) },
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
];
runErrorTable({ fns: FNS, baseFor, rows: ROWS, baseAsync: true });
