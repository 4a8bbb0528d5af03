// test/binding/attention.errors.test.ts — bad arguments to the attention kernels never crash the
// process: every row is one bad argument (a valid base object with one field changed), the error
// class it must raise and a message regex naming the function and the argument
// ("<fn>: expected <arg> …"). Every row runs against BOTH the TypeScript wrapper
// (`kernels.attentionForward` / `attentionBackward`: outputs, scale, causal, max lengths and
// strides optional) and the raw binding (`backend.native().…`: every output passed, scale a
// number, causal a boolean, maxSeqlenQ / maxSeqlenK integers; strides optional), and against both `…Async` forms, which
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
// Valid base objects: batch = 2, heads = 2, headDim = 2, query lengths [3, 2], key lengths
// [4, 2] → cuSeqlensQ [0, 3, 5], cuSeqlensK [0, 4, 6]; q, out, dOut, dq: 5·4 = 20; k, v, dk,
// dv: 6·4 = 24; lse: 2·5 = 10. Built fresh for every call.

const SHAPE = { batch: 2, heads: 2, headDim: 2 };
const CU = (): Options => ({ cuSeqlensQ: Int32Array.of(0, 3, 5), cuSeqlensK: Int32Array.of(0, 4, 6) });
const NQ = 20;
const NK = 24;
const NL = 10;

interface Base {
  inputs: () => Options;
  outputs: () => Options;
}

const BASES: Record<Fn, Base> = {
  attentionForward: {
    inputs: () => ({ q: f32(NQ), k: f32(NK, -0.5), v: f32(NK, 1), ...SHAPE, ...CU() }),
    outputs: () => ({ out: f32(NQ), lse: f32(NL) }),
  },
  attentionBackward: {
    inputs: () => ({
      q: f32(NQ), k: f32(NK, -0.5), v: f32(NK, 1), out: f32(NQ, 0.25), lse: f32(NL, 1.5), dOut: f32(NQ, -0.25),
      ...SHAPE, ...CU(),
    }),
    outputs: () => ({ dq: f32(NQ), dk: f32(NK), dv: f32(NK) }),
  },
};

/** The raw binding has no defaults: scale, causal and the max lengths always passed (strides optional). */
const NATIVE_DEFAULTS = { scale: Math.SQRT1_2, causal: false, maxSeqlenQ: 3, maxSeqlenK: 4 };

function baseFor(fn: Fn, target: Target): Options {
  const base = BASES[fn];
  return target === 'kernels' ? base.inputs() : { ...NATIVE_DEFAULTS, ...base.inputs(), ...base.outputs() };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type Row = TableRow<Fn>;
const bad = badRow<Fn>;

const SIZE_ARGS = ['batch', 'heads', 'headDim'];

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

  // max lengths: integers in [0, 2^31 − 1], at least every sample's length, at most the total
  for (const arg of ['maxSeqlenQ', 'maxSeqlenK']) {
    const cu = arg === 'maxSeqlenQ' ? 'cuSeqlensQ' : 'cuSeqlensK';
    ROWS.push(
      bad(fn, `${arg} −1`, { [arg]: -1 }, RangeError, arg),
      bad(fn, `${arg} 2.5`, { [arg]: 2.5 }, RangeError, arg),
      bad(fn, `${arg} NaN`, { [arg]: NaN }, RangeError, arg),
      bad(fn, `${arg} 2**31`, { [arg]: 2 ** 31 }, RangeError, arg),
      bad(fn, `${arg} a string`, { [arg]: '3' }, TypeError, arg),
      bad(fn, `${arg} null`, { [arg]: null }, TypeError, arg),
      bad(fn, `${arg} missing (raw binding has no default)`, { [arg]: MISSING }, TypeError, arg, 'native'),
      bad(fn, `${arg} below the longest sample`, { [arg]: 1 }, RangeError, `${cu}\\[1\\]`),
      bad(fn, `${arg} past the total length`, { [arg]: 7 }, RangeError, arg),
    );
  }

  // offsets: Int32Array [batch + 1], c[0] = 0, non-decreasing, steps <= the max length
  for (const arg of ['cuSeqlensQ', 'cuSeqlensK']) {
    ROWS.push(
      bad(fn, `${arg} a plain Array`, { [arg]: [0, 3, 5] }, TypeError, arg),
      bad(fn, `${arg} a Float32Array`, { [arg]: Float32Array.of(0, 3, 5) }, TypeError, arg),
      bad(fn, `${arg} a Uint32Array`, { [arg]: Uint32Array.of(0, 3, 5) }, TypeError, arg),
      bad(fn, `${arg} a BigInt64Array`, { [arg]: BigInt64Array.of(0n, 3n, 5n) }, TypeError, arg),
      bad(fn, `${arg} a number`, { [arg]: 3 }, TypeError, arg),
      bad(fn, `${arg} missing`, { [arg]: MISSING }, TypeError, arg),
      bad(fn, `${arg} one element short`, { [arg]: Int32Array.of(0, 3) }, RangeError, arg),
      bad(fn, `${arg} one element long`, { [arg]: Int32Array.of(0, 3, 5, 6) }, RangeError, arg),
      bad(fn, `${arg} empty`, { [arg]: new Int32Array(0) }, RangeError, arg),
      bad(fn, `${arg}[0] = 1`, { [arg]: Int32Array.of(1, 3, 5) }, RangeError, `${arg}\\[0\\]`),
      bad(fn, `${arg}[0] = −1`, { [arg]: Int32Array.of(-1, 3, 5) }, RangeError, `${arg}\\[0\\]`),
      bad(fn, `${arg} decreasing`, { [arg]: Int32Array.of(0, 3, 2) }, RangeError, `${arg}\\[2\\]`),
      bad(fn, `${arg}[1] negative`, { [arg]: Int32Array.of(0, -1, 2) }, RangeError, `${arg}\\[1\\]`),
      bad(fn, `${arg}[2] = 2**31 − 1 (max length given)`, { [arg]: Int32Array.of(0, 3, 2 ** 31 - 1), [arg === 'cuSeqlensQ' ? 'maxSeqlenQ' : 'maxSeqlenK']: 4 }, RangeError, `${arg}\\[2\\]`),
      bad(fn, `${arg}[2] = 2**31 − 1 (default max length: then the buffer is short)`, { [arg]: Int32Array.of(0, 3, 2 ** 31 - 1) }, RangeError, arg === 'cuSeqlensQ' ? 'q' : 'k', 'kernels'),
      bad(fn, `${arg}[2] = −2**31`, { [arg]: Int32Array.of(0, 3, -(2 ** 31)) }, RangeError, `${arg}\\[2\\]`),
    );
  }
  ROWS.push(
    bad(fn, 'cuSeqlensQ ending past q', { cuSeqlensQ: Int32Array.of(0, 3, 6) }, RangeError, 'q'),
    bad(fn, 'cuSeqlensK ending before k', { cuSeqlensK: Int32Array.of(0, 4, 5) }, RangeError, 'k'),
    bad(fn, 'batch 3 with offsets for 2', { batch: 3 }, RangeError, 'cuSeqlensQ'),
  );

  // strides: integers in [heads·headDim, 2^31 − 1]; a strided input needs (T − 1)·stride + W
  for (const arg of ['qStride', 'kStride', 'vStride']) {
    const buf = arg[0]!;
    ROWS.push(
      bad(fn, `${arg} below heads·headDim`, { [arg]: 3 }, RangeError, arg),
      bad(fn, `${arg} 0`, { [arg]: 0 }, RangeError, arg),
      bad(fn, `${arg} 4.5`, { [arg]: 4.5 }, RangeError, arg),
      bad(fn, `${arg} 2**31`, { [arg]: 2 ** 31 }, RangeError, arg),
      bad(fn, `${arg} a string`, { [arg]: '4' }, TypeError, arg),
      bad(fn, `${arg} 6 with dense buffers`, { [arg]: 6 }, RangeError, buf),
      bad(fn, `${arg} 2**31 − 1 with dense buffers (beyond 2^53 floats? no: past the buffer)`, { [arg]: 2 ** 31 - 1 }, RangeError, buf),
    );
  }

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

  // buffers: wrong type, missing, short, long, empty
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
    bad(fn, 'heads = 1 does not match q', { heads: 1 }, RangeError, 'q'),
    bad(fn, 'heads = 2**31 − 1, headDim = 256 (rows of 2^39 floats)', { heads: 2 ** 31 - 1, headDim: 256 }, RangeError, 'q'),
    bad(fn, 'a 1e9-query total with tiny buffers', { cuSeqlensQ: Int32Array.of(0, 3, 1e9), maxSeqlenQ: 1e9 - 3 }, RangeError, 'q'),
    bad(fn, 'k and v swapped lengths (k of q\'s length)', { k: f32(NQ) }, RangeError, 'k'),
  );
}

// lse of the backward holds +Infinity for masked rows: values are never checked — but its length is
ROWS.push(bad('attentionBackward', 'lse of [Tq, H·Dh] instead of [H, Tq]', { lse: f32(NQ) }, RangeError, 'lse'));

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
  bad('attentionForward', 'lse overlapping v', () => views(40, 'v', 0, NK, 'lse', 20, NL), RangeError, 'lse'),
  bad('attentionForward', 'out overlapping lse', () => views(40, 'out', 0, NQ, 'lse', 15, NL), RangeError, '(?:out|lse)'),
  bad('attentionBackward', 'dq overlapping dOut', () => views(40, 'dOut', 0, NQ, 'dq', 8, NQ), RangeError, 'dq'),
  bad('attentionBackward', 'dq overlapping q', () => views(48, 'q', 0, NQ, 'dq', 19, NQ), RangeError, 'dq'),
  bad('attentionBackward', 'dk is k', () => {
    const k = f32(NK);
    return { k, dk: k };
  }, RangeError, 'dk'),
  bad('attentionBackward', 'dk overlapping v', () => views(60, 'v', 0, NK, 'dk', 20, NK), RangeError, 'dk'),
  bad('attentionBackward', 'dv overlapping lse', () => views(40, 'lse', 0, NL, 'dv', 4, NK), RangeError, 'dv'),
  bad('attentionBackward', 'dv overlapping out', () => views(50, 'out', 0, NQ, 'dv', 10, NK), RangeError, 'dv'),
  bad('attentionBackward', 'dq overlapping dk', () => views(60, 'dq', 0, NQ, 'dk', 19, NK), RangeError, '(?:dq|dk)'),
  bad('attentionBackward', 'dk overlapping dv', () => views(64, 'dk', 0, NK, 'dv', 23, NK), RangeError, '(?:dk|dv)'),
);

// ---------------------------------------------------------------------------------------------

runErrorTable({
  fns: FNS,
  baseFor,
  rows: ROWS,
  baseAsync: true,
  extraBaseChecks: (f, self, fn, target) => {
    // causal true, a sample without keys, one without queries, a looser max length are valid
    expect(() => f.call(self, { ...baseFor(fn, target), causal: true })).not.toThrow();
    expect(() => f.call(self, { ...baseFor(fn, target), cuSeqlensK: Int32Array.of(0, 0, 6), maxSeqlenK: 6, k: f32(NK), v: f32(NK) })).not.toThrow();
    expect(() => f.call(self, { ...baseFor(fn, target), cuSeqlensQ: Int32Array.of(0, 0, 5), maxSeqlenQ: 5 })).not.toThrow();
    expect(() => f.call(self, { ...baseFor(fn, target), maxSeqlenQ: 5, maxSeqlenK: 6 })).not.toThrow();
    // strided inputs: views into one wider buffer, longer than (T − 1)·stride + W is fine
    const wide = f32(6 * 12);
    expect(() => f.call(self, { ...baseFor(fn, target), kStride: 12, vStride: 12, k: wide.subarray(4), v: wide.subarray(8) })).not.toThrow();
  },
});

describe('messages', () => {
  it('name the expected length and the shape product, and the offending offset', () => {
    const base = BASES.attentionForward.inputs();
    const msg = 'attentionForward: expected q to be a Float32Array of length 20 ((Tq − 1)·qStride + heads·headDim), received length 19';
    expect(() => kernels.attentionForward({ ...base, q: f32(19) } as never)).toThrow(msg);
    expect(() => backend.native().attentionForward({ ...baseFor('attentionForward', 'native'), q: f32(19) } as never)).toThrow(msg);
    for (const target of ['kernels', 'native'] as const) {
      const { fn, self } = lookup(target, 'attentionBackward');
      expect(() => fn.call(self, { ...baseFor('attentionBackward', target), cuSeqlensK: Int32Array.of(0, 4, 400), maxSeqlenK: 4 })).toThrow(
        'attentionBackward: expected cuSeqlensK[2] to be an integer in [4, 8], received 400',
      );
      expect(() => fn.call(self, { ...baseFor('attentionBackward', target), maxSeqlenK: 9 })).toThrow(
        'attentionBackward: expected maxSeqlenK to be an integer in [0, 6] (the total length), received 9',
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
    const cu = { cuSeqlensQ: Int32Array.of(0, 3, 5), cuSeqlensK: Int32Array.of(0, 0, 6) }; // sample 0: no keys
    const fwd = kernels.attentionForward({ q, k, v, ...SHAPE, ...cu });
    const fwdAsync = await kernels.attentionForwardAsync({ q, k, v, ...SHAPE, ...cu });
    expect(Array.from(fwdAsync.out)).toEqual(Array.from(fwd.out));
    const out = new Float32Array(NQ);
    const lse = new Float32Array(NL);
    await backend.native().attentionForwardAsync({
      q, k, v, out, lse, ...SHAPE, ...cu, maxSeqlenQ: 3, maxSeqlenK: 6, qStride: 4, kStride: 4, vStride: 4, scale: Math.SQRT1_2, causal: false,
    });
    expect(Array.from(out)).toEqual(Array.from(fwd.out));
    expect(Array.from(lse)).toEqual(Array.from(fwd.lse));
    // sample 0 sees no key: its rows (0 … 2) are 0, their lse (both heads) +Infinity
    expect(Array.from(fwd.out.subarray(0, 12)).every((x) => x === 0)).toBe(true);
    expect([0, 1, 2, 5, 6, 7].every((i) => fwd.lse[i] === Infinity)).toBe(true);
    const grads = await kernels.attentionBackwardAsync({ q, k, v, out: fwd.out, lse: fwd.lse, dOut: f32(NQ, -1), ...SHAPE, ...cu });
    for (const g of [grads.dq, grads.dk, grads.dv]) for (const x of g) expect(Number.isFinite(x)).toBe(true);
  });
});
