// test/binding/attention.errors.test.ts — bad arguments to the attention kernels never crash the
// process: every row is one bad argument (a valid base object with one field changed), the error
// class it must raise and a message regex naming the function and the argument
// ("<fn>: expected <arg> …"). Every row runs against BOTH the TypeScript wrapper
// (`kernels.attentionForward` / `attentionBackward`: outputs, scale, causal and keyLengths
// optional) and the raw binding (`backend.native().…`: every output passed, scale a number,
// causal a boolean, keyLengths an Int32Array or null), and against both `…Async` forms, which
// must return a rejected promise (never throw synchronously) with the same class and message;
// the wrapper's rejection must carry the caller's stack. After the table, valid calls still work.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import {
  BAD_SIZES, MISSING, bad as badRow, expectBasesValid, runErrorTable, lookup,
  type Options, type Row as TableRow, type Target,
} from '../helpers/errorTable.js';

const FNS = ['attentionForward', 'attentionBackward'] as const;
type Fn = (typeof FNS)[number];

const f32 = (n: number, start = 0.5): Float32Array => Float32Array.from({ length: n }, (_, i) => start + 0.125 * (i % 13));

// ---------------------------------------------------------------------------------------------
// Valid base objects: batch = 2, heads = 2, lq = 3, lk = 4, headDim = 2, keyLengths = [4, 2]
// → q, out, dOut, dq: 24; k, v, dk, dv: 32; lse: 12. Built fresh for every call.

const SHAPE = { batch: 2, heads: 2, lq: 3, lk: 4, headDim: 2 };
const NQ = 24;
const NK = 32;
const NL = 12;

interface Base {
  inputs: () => Options;
  outputs: () => Options;
}

const BASES: Record<Fn, Base> = {
  attentionForward: {
    inputs: () => ({ q: f32(NQ), k: f32(NK, -0.5), v: f32(NK, 1), ...SHAPE, keyLengths: Int32Array.of(4, 2) }),
    outputs: () => ({ out: f32(NQ), lse: f32(NL) }),
  },
  attentionBackward: {
    inputs: () => ({
      q: f32(NQ), k: f32(NK, -0.5), v: f32(NK, 1), out: f32(NQ, 0.25), lse: f32(NL, 1.5), dOut: f32(NQ, -0.25),
      ...SHAPE, keyLengths: Int32Array.of(4, 2),
    }),
    outputs: () => ({ dq: f32(NQ), dk: f32(NK), dv: f32(NK) }),
  },
};

/** The raw binding has no defaults: scale and causal always passed. */
const NATIVE_DEFAULTS = { scale: Math.SQRT1_2, causal: false };

function baseFor(fn: Fn, target: Target): Options {
  const base = BASES[fn];
  return target === 'kernels' ? base.inputs() : { ...NATIVE_DEFAULTS, ...base.inputs(), ...base.outputs() };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type Row = TableRow<Fn>;
const bad = badRow<Fn>;

const SIZE_ARGS = ['batch', 'heads', 'lq', 'lk', 'headDim'];

interface BufferArg {
  name: string;
  length: number;
  /** 'both': a required input; 'native': an output only the raw binding requires. */
  required: 'both' | 'native';
}
const BUFFERS: Record<Fn, BufferArg[]> = {
  attentionForward: [
    { name: 'q', length: NQ, required: 'both' }, { name: 'k', length: NK, required: 'both' },
    { name: 'v', length: NK, required: 'both' },
    { name: 'out', length: NQ, required: 'native' }, { name: 'lse', length: NL, required: 'native' },
  ],
  attentionBackward: [
    { name: 'q', length: NQ, required: 'both' }, { name: 'k', length: NK, required: 'both' },
    { name: 'v', length: NK, required: 'both' }, { name: 'out', length: NQ, required: 'both' },
    { name: 'lse', length: NL, required: 'both' }, { name: 'dOut', length: NQ, required: 'both' },
    { name: 'dq', length: NQ, required: 'native' }, { name: 'dk', length: NK, required: 'native' },
    { name: 'dv', length: NK, required: 'native' },
  ],
};

const ROWS: Row[] = [];

// not an options object at all
for (const fn of FNS) {
  for (const [what, whole] of [['undefined', undefined], ['null', null], ['a number', 42], ['a string', 'x'], ['an array', []], ['a Float32Array', f32(4)]] as const) {
    ROWS.push({ fn, what: `options ${what}`, whole, cls: TypeError, message: /expected an options object/ });
  }
}

for (const fn of FNS) {
  // sizes: integers in [1, 2^31 − 1]; headDim in [1, 256]
  for (const arg of SIZE_ARGS) {
    for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `${arg} ${what}`, { [arg]: value }, cls, arg));
  }
  ROWS.push(
    bad(fn, 'headDim 257', { headDim: 257 }, RangeError, 'headDim'),
    bad(fn, 'headDim 1000', { headDim: 1000 }, RangeError, 'headDim'),
  );

  // scale: finite; causal: boolean; the raw binding has no defaults
  ROWS.push(
    bad(fn, 'scale NaN', { scale: NaN }, RangeError, 'scale'),
    bad(fn, 'scale Infinity', { scale: Infinity }, RangeError, 'scale'),
    bad(fn, 'scale -Infinity', { scale: -Infinity }, RangeError, 'scale'),
    bad(fn, 'scale a string', { scale: '1' }, TypeError, 'scale'),
    bad(fn, 'scale null', { scale: null }, TypeError, 'scale'),
    bad(fn, 'scale missing (raw binding has no default)', { scale: MISSING }, TypeError, 'scale', 'native'),
    bad(fn, 'causal 1', { causal: 1 }, TypeError, 'causal'),
    bad(fn, 'causal 0', { causal: 0 }, TypeError, 'causal'),
    bad(fn, "causal 'true'", { causal: 'true' }, TypeError, 'causal'),
    bad(fn, 'causal null', { causal: null }, TypeError, 'causal'),
    bad(fn, 'causal missing (raw binding has no default)', { causal: MISSING }, TypeError, 'causal', 'native'),
  );

  // keyLengths: an Int32Array of length batch, each value in [0, lk]
  ROWS.push(
    bad(fn, 'keyLengths a plain Array', { keyLengths: [4, 2] }, TypeError, 'keyLengths'),
    bad(fn, 'keyLengths a Float32Array', { keyLengths: Float32Array.of(4, 2) }, TypeError, 'keyLengths'),
    bad(fn, 'keyLengths a Uint32Array', { keyLengths: Uint32Array.of(4, 2) }, TypeError, 'keyLengths'),
    bad(fn, 'keyLengths a BigInt64Array', { keyLengths: BigInt64Array.of(4n, 2n) }, TypeError, 'keyLengths'),
    bad(fn, 'keyLengths a number', { keyLengths: 4 }, TypeError, 'keyLengths'),
    bad(fn, 'keyLengths one element short', { keyLengths: Int32Array.of(4) }, RangeError, 'keyLengths'),
    bad(fn, 'keyLengths one element long', { keyLengths: Int32Array.of(4, 2, 1) }, RangeError, 'keyLengths'),
    bad(fn, 'keyLengths empty', { keyLengths: new Int32Array(0) }, RangeError, 'keyLengths'),
    bad(fn, 'keyLengths[0] = −1', { keyLengths: Int32Array.of(-1, 2) }, RangeError, 'keyLengths\\[0\\]'),
    bad(fn, 'keyLengths[1] = lk + 1', { keyLengths: Int32Array.of(4, 5) }, RangeError, 'keyLengths\\[1\\]'),
    bad(fn, 'keyLengths[1] = 2**31 − 1', { keyLengths: Int32Array.of(0, 2 ** 31 - 1) }, RangeError, 'keyLengths\\[1\\]'),
    bad(fn, 'keyLengths[0] = −2**31', { keyLengths: Int32Array.of(-(2 ** 31), 0) }, RangeError, 'keyLengths\\[0\\]'),
  );

  // queryLengths: the same rules, each value in [0, lq] (lq = 3)
  ROWS.push(
    bad(fn, 'queryLengths a plain Array', { queryLengths: [3, 1] }, TypeError, 'queryLengths'),
    bad(fn, 'queryLengths a Float32Array', { queryLengths: Float32Array.of(3, 1) }, TypeError, 'queryLengths'),
    bad(fn, 'queryLengths one element short', { queryLengths: Int32Array.of(3) }, RangeError, 'queryLengths'),
    bad(fn, 'queryLengths[0] = −1', { queryLengths: Int32Array.of(-1, 1) }, RangeError, 'queryLengths\\[0\\]'),
    bad(fn, 'queryLengths[1] = lq + 1', { queryLengths: Int32Array.of(3, 4) }, RangeError, 'queryLengths\\[1\\]'),
  );

  // buffers: wrong type, missing, short, long
  for (const { name, length, required } of BUFFERS[fn]) {
    ROWS.push(
      bad(fn, `${name} a plain Array`, { [name]: Array.from({ length }, () => 1) }, TypeError, name),
      bad(fn, `${name} a Float64Array`, { [name]: new Float64Array(length) }, TypeError, name),
      bad(fn, `${name} an Int32Array`, { [name]: new Int32Array(length) }, TypeError, name),
      bad(fn, `${name} an ArrayBuffer`, { [name]: new ArrayBuffer(4 * length) }, TypeError, name),
      bad(fn, `${name} a DataView`, { [name]: new DataView(new ArrayBuffer(4 * length)) }, TypeError, name),
      bad(fn, `${name} one element short`, { [name]: f32(length - 1) }, RangeError, name),
      bad(fn, `${name} one element long`, { [name]: f32(length + 1) }, RangeError, name),
      bad(fn, `${name} empty`, { [name]: new Float32Array(0) }, RangeError, name),
      bad(fn, `${name} missing`, { [name]: MISSING }, TypeError, name, required === 'native' ? 'native' : undefined),
    );
  }

  // shape / length mismatches and huge shapes
  ROWS.push(
    bad(fn, 'headDim = 3 does not match q', { headDim: 3 }, RangeError, 'q'),
    bad(fn, 'headDim = 256 with tiny buffers', { headDim: 256 }, RangeError, 'q'),
    bad(fn, 'lk = 5 does not match k', { lk: 5 }, RangeError, 'k'),
    bad(fn, 'lq = 4 does not match q', { lq: 4 }, RangeError, 'q'),
    bad(fn, 'heads = 1 does not match q', { heads: 1 }, RangeError, 'q'),
    bad(fn, 'a 1e9-query shape with tiny buffers', { lq: 1e9 }, RangeError, 'q'),
    bad(fn, 'batch = heads = lq = lk = 2**31 − 1, headDim = 256 (products beyond 2^53)', {
      batch: 2 ** 31 - 1, heads: 2 ** 31 - 1, lq: 2 ** 31 - 1, lk: 2 ** 31 - 1, headDim: 256, keyLengths: null,
    }, RangeError, 'q'),
    bad(fn, 'k and v swapped lengths (k of q\'s length)', { k: f32(NQ) }, RangeError, 'k'),
  );
}

// lse of the backward holds +Infinity for masked rows: values are never checked — but its length is
ROWS.push(bad('attentionBackward', 'lse of [B, H, Lq, Dh] instead of [B, H, Lq]', { lse: f32(NQ) }, RangeError, 'lse'));

// one buffer of `total` floats; views [a0, a0 + alen) and [b0, b0 + blen) of it
const views = (total: number, a: string, a0: number, alen: number, b: string, b0: number, blen: number): Options => {
  const buf = new Float32Array(total);
  return { [a]: buf.subarray(a0, a0 + alen), [b]: buf.subarray(b0, b0 + blen) };
};

// outputs overlapping inputs (or each other)
ROWS.push(
  bad('attentionForward', 'out overlapping q', () => views(40, 'q', 0, NQ, 'out', 16, NQ), RangeError, 'out'),
  bad('attentionForward', 'out is q', () => {
    const q = f32(NQ);
    return { q, out: q };
  }, RangeError, 'out'),
  bad('attentionForward', 'out overlapping k (one element)', () => views(NK + NQ, 'k', 0, NK, 'out', NK - 1, NQ), RangeError, 'out'),
  bad('attentionForward', 'lse overlapping v', () => views(40, 'v', 0, NK, 'lse', 28, NL), RangeError, 'lse'),
  bad('attentionForward', 'out overlapping lse', () => views(40, 'out', 0, NQ, 'lse', 20, NL), RangeError, '(?:out|lse)'),
  bad('attentionBackward', 'dq overlapping dOut', () => views(40, 'dOut', 0, NQ, 'dq', 8, NQ), RangeError, 'dq'),
  bad('attentionBackward', 'dq overlapping q', () => views(48, 'q', 0, NQ, 'dq', 23, NQ), RangeError, 'dq'),
  bad('attentionBackward', 'dk is k', () => {
    const k = f32(NK);
    return { k, dk: k };
  }, RangeError, 'dk'),
  bad('attentionBackward', 'dk overlapping v', () => views(60, 'v', 0, NK, 'dk', 20, NK), RangeError, 'dk'),
  bad('attentionBackward', 'dv overlapping lse', () => views(40, 'lse', 0, NL, 'dv', 4, NK), RangeError, 'dv'),
  bad('attentionBackward', 'dv overlapping out', () => views(50, 'out', 0, NQ, 'dv', 10, NK), RangeError, 'dv'),
  bad('attentionBackward', 'dq overlapping dk', () => views(60, 'dq', 0, NQ, 'dk', 23, NK), RangeError, '(?:dq|dk)'),
  bad('attentionBackward', 'dk overlapping dv', () => views(64, 'dk', 0, NK, 'dv', 31, NK), RangeError, '(?:dk|dv)'),
);

// ---------------------------------------------------------------------------------------------

runErrorTable({
  fns: FNS,
  baseFor,
  rows: ROWS,
  baseAsync: true,
  extraBaseChecks: (f, self, fn, target) => {
    // keyLengths null (no padding) and causal true are valid too
    expect(() => f.call(self, { ...baseFor(fn, target), keyLengths: null, causal: true })).not.toThrow();
    // edge values: keyLengths 0 and lk, headDim 256
    expect(() => f.call(self, { ...baseFor(fn, target), keyLengths: Int32Array.of(0, 4) })).not.toThrow();
  },
});

describe('messages', () => {
  it('name the expected length and the shape product, and the offending key length', () => {
    const base = BASES.attentionForward.inputs();
    expect(() => kernels.attentionForward({ ...base, q: f32(23) } as never)).toThrow(
      'attentionForward: expected q to be a Float32Array of length 24 (batch·heads·lq·headDim), received length 23',
    );
    expect(() => backend.native().attentionForward({ ...baseFor('attentionForward', 'native'), q: f32(23) } as never)).toThrow(
      'attentionForward: expected q to be a Float32Array of length 24 (batch·heads·lq·headDim), received length 23',
    );
    for (const target of ['kernels', 'native'] as const) {
      const { fn, self } = lookup(target, 'attentionBackward');
      expect(() => fn.call(self, { ...baseFor('attentionBackward', target), keyLengths: Int32Array.of(4, 400) })).toThrow(
        'attentionBackward: expected keyLengths[1] to be an integer in [0, 4], received 400',
      );
    }
  });
});

describe('nothing crashed the process', () => {
  it('valid calls still work after the table (both layers, sync and async), with the same results', async () => {
    expectBasesValid(FNS, baseFor);
    const q = f32(NQ);
    const k = f32(NK, -0.5);
    const v = f32(NK, 1);
    const keyLengths = Int32Array.of(4, 0);
    const fwd = kernels.attentionForward({ q, k, v, ...SHAPE, keyLengths });
    const fwdAsync = await kernels.attentionForwardAsync({ q, k, v, ...SHAPE, keyLengths });
    expect(Array.from(fwdAsync.out)).toEqual(Array.from(fwd.out));
    const out = new Float32Array(NQ);
    const lse = new Float32Array(NL);
    await backend.native().attentionForwardAsync({ q, k, v, out, lse, ...SHAPE, scale: Math.SQRT1_2, causal: false, keyLengths });
    expect(Array.from(out)).toEqual(Array.from(fwd.out));
    expect(Array.from(lse)).toEqual(Array.from(fwd.lse));
    // batch 1 fully masked: out 0, lse +Infinity
    expect(Array.from(fwd.out.subarray(NQ / 2)).every((x) => x === 0)).toBe(true);
    expect(Array.from(fwd.lse.subarray(NL / 2)).every((x) => x === Infinity)).toBe(true);
    const grads = await kernels.attentionBackwardAsync({ q, k, v, out: fwd.out, lse: fwd.lse, dOut: f32(NQ, -1), ...SHAPE, keyLengths });
    for (const g of [grads.dq, grads.dk, grads.dv]) for (const x of g) expect(Number.isFinite(x)).toBe(true);
  });
});
