// test/binding/packedHeads.errors.test.ts — bad arguments to unpackHeads / packHeads never crash
// the process: each row is one bad argument on a valid base, run against the TypeScript wrapper
// (`kernels.…`: batch is lengths.length, dst optional) and the raw binding (batch and dst
// required), sync and async, with the error class and a message naming the argument.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import {
  BAD_SIZES, MISSING, bad as badRow, runErrorTable, type Options, type Row as TableRow, type Target,
} from '../helpers/errorTable.js';

const FNS = ['unpackHeads', 'packHeads'] as const;
type Fn = (typeof FNS)[number];

// batch 2, len 4, heads 2, headDim 3, lengths [3, 1] → packed 4·6 = 24, padded 2·2·4·3 = 48
const NP = 24;
const ND = 48;
const f32 = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.5 + 0.25 * (i % 7));
const sizes = (fn: Fn): { src: number; dst: number } => (fn === 'unpackHeads' ? { src: NP, dst: ND } : { src: ND, dst: NP });

function baseFor(fn: Fn, target: Target): Options {
  const n = sizes(fn);
  const base: Options = { src: f32(n.src), lengths: Int32Array.of(3, 1), len: 4, heads: 2, headDim: 3 };
  return target === 'kernels' ? base : { ...base, batch: 2, dst: new Float32Array(n.dst) };
}

type Row = TableRow<Fn>;
const bad = badRow<Fn>;
const ROWS: Row[] = [];
for (const fn of FNS) {
  for (const arg of ['len', 'heads', 'headDim']) {
    for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `${arg} ${what}`, { [arg]: value }, cls, arg));
  }
  for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `batch ${what}`, { batch: value }, cls, 'batch', 'native'));
  const n = sizes(fn);
  ROWS.push(
    bad(fn, 'lengths a plain Array', { lengths: [3, 1] }, TypeError, 'lengths'),
    bad(fn, 'lengths a Float32Array', { lengths: Float32Array.of(3, 1) }, TypeError, 'lengths'),
    bad(fn, 'lengths missing', { lengths: MISSING }, TypeError, 'lengths'),
    bad(fn, 'lengths one short (native: batch 2)', { lengths: Int32Array.of(3) }, RangeError, '(?:lengths|src)'),
    bad(fn, 'lengths[0] = −1', { lengths: Int32Array.of(-1, 1) }, RangeError, 'lengths\\[0\\]'),
    bad(fn, 'lengths[1] = len + 1', { lengths: Int32Array.of(3, 5) }, RangeError, 'lengths\\[1\\]'),
    // (packHeads' wrapper allocates dst for the new T: only a given dst of the old size is wrong)
    bad(fn, 'lengths summing to another T', { lengths: Int32Array.of(2, 1) }, RangeError, '(?:src|dst)', fn === 'packHeads' ? 'native' : undefined),
    bad(fn, 'src a Float64Array', { src: new Float64Array(n.src) }, TypeError, 'src'),
    bad(fn, 'src one short', { src: f32(n.src - 1) }, RangeError, 'src'),
    bad(fn, 'src one long', { src: f32(n.src + 1) }, RangeError, 'src'),
    bad(fn, 'src missing', { src: MISSING }, TypeError, 'src'),
    bad(fn, 'dst an Int32Array', { dst: new Int32Array(n.dst) }, TypeError, 'dst'),
    bad(fn, 'dst one short', { dst: new Float32Array(n.dst - 1) }, RangeError, 'dst'),
    bad(fn, 'dst missing (raw binding)', { dst: MISSING }, TypeError, 'dst', 'native'),
    bad(fn, 'dst overlapping src', (base) => {
      const buf = new Float32Array(NP + ND);
      return { ...base, src: buf.subarray(0, n.src), dst: buf.subarray(n.src - 1, n.src - 1 + n.dst) };
    }, RangeError, 'dst'),
    bad(fn, 'a huge shape with tiny buffers', { len: 2 ** 31 - 1, heads: 2 ** 31 - 1, headDim: 2 ** 31 - 1 }, RangeError, 'batch·heads·len·headDim'),
  );
}

runErrorTable({ fns: FNS, baseFor, rows: ROWS, baseAsync: true });

describe('valid calls after the table', () => {
  it('sync, async and the raw binding give the same bits', async () => {
    const src = f32(NP);
    const a = kernels.unpackHeads({ src, lengths: Int32Array.of(3, 1), len: 4, heads: 2, headDim: 3 });
    const b = await kernels.unpackHeadsAsync({ src, lengths: Int32Array.of(3, 1), len: 4, heads: 2, headDim: 3 });
    const c = new Float32Array(ND);
    backend.native().unpackHeads({ src, dst: c, lengths: Int32Array.of(3, 1), batch: 2, len: 4, heads: 2, headDim: 3 });
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).toEqual(Array.from(a));
    expect(Array.from(kernels.packHeads({ src: a, lengths: Int32Array.of(3, 1), len: 4, heads: 2, headDim: 3 }))).toEqual(Array.from(src));
  });
});
