// test/binding/memoryAttention.errors.test.ts — bad arguments to the memory-attention kernels
// never crash the process: every row is one bad argument (a valid base object with one field
// changed), the error class it must raise and a message regex naming the function and the
// argument ("<fn>: expected <arg> …"). Every row runs against BOTH the TypeScript wrapper
// (`kernels.memoryAttentionForward` / `memoryAttentionBackward`: outputs, scale and accumulate
// optional) and the raw binding (`backend.native().…`: every output passed, scale a number,
// accumulate a boolean), and against both `…Async` forms, which must return a rejected promise
// (never throw synchronously) with the same class and message; the wrapper's rejection must carry
// the caller's stack. After the table, valid calls still work and all four entry points agree.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { expectClose, expectSameBits } from '../helpers/compare.js';
import {
  BAD_SIZES, MISSING, bad as badRow, expectBasesValid, runErrorTable, lookup,
  type Options, type Row as TableRow, type Target,
} from '../helpers/errorTable.js';

const FNS = ['memoryAttentionForward', 'memoryAttentionBackward'] as const;
type Fn = (typeof FNS)[number];

const f32 = (n: number, start = 0.5): Float32Array => Float32Array.from({ length: n }, (_, i) => start + 0.125 * (i % 13));

// ---------------------------------------------------------------------------------------------
// Valid base objects: batch = 3, rows = 2, dim = 4, lengths = [2, 0, 3] (T = 5)
// → q, out, dOut, dq: 24; x, dx: 20 (Σ lengths·dim); lse: 6. Built fresh for every call.

const SHAPE = { batch: 3, rows: 2, dim: 4 };
const LENGTHS = [2, 0, 3] as const;
const lengths = (): Int32Array => Int32Array.from(LENGTHS);
const NQ = 24;
const NX = 20;
const NL = 6;

interface Base {
  inputs: () => Options;
  outputs: () => Options;
}

const BASES: Record<Fn, Base> = {
  memoryAttentionForward: {
    inputs: () => ({ q: f32(NQ), x: f32(NX, -0.5), ...SHAPE, lengths: lengths() }),
    outputs: () => ({ out: f32(NQ), lse: f32(NL) }),
  },
  memoryAttentionBackward: {
    inputs: () => ({
      q: f32(NQ), x: f32(NX, -0.5), out: f32(NQ, 0.25), lse: f32(NL, 1.5), dOut: f32(NQ, -0.25),
      ...SHAPE, lengths: lengths(),
    }),
    outputs: () => ({ dq: f32(NQ), dx: f32(NX) }),
  },
};

/** The raw binding has no defaults: scale always passed, and accumulate for the backward. */
function nativeDefaults(fn: Fn): Options {
  return fn === 'memoryAttentionBackward' ? { scale: 0.5, accumulate: false } : { scale: 0.5 };
}

function baseFor(fn: Fn, target: Target): Options {
  const base = BASES[fn];
  return target === 'kernels' ? base.inputs() : { ...nativeDefaults(fn), ...base.inputs(), ...base.outputs() };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type Row = TableRow<Fn>;
const bad = badRow<Fn>;

const SIZE_ARGS = ['batch', 'rows', 'dim'];

interface BufferArg {
  name: string;
  length: number;
  /** 'both': a required input; 'native': an output only the raw binding requires. */
  required: 'both' | 'native';
}
const BUFFERS: Record<Fn, BufferArg[]> = {
  memoryAttentionForward: [
    { name: 'q', length: NQ, required: 'both' }, { name: 'x', length: NX, required: 'both' },
    { name: 'out', length: NQ, required: 'native' }, { name: 'lse', length: NL, required: 'native' },
  ],
  memoryAttentionBackward: [
    { name: 'q', length: NQ, required: 'both' }, { name: 'x', length: NX, required: 'both' },
    { name: 'out', length: NQ, required: 'both' }, { name: 'lse', length: NL, required: 'both' },
    { name: 'dOut', length: NQ, required: 'both' },
    { name: 'dq', length: NQ, required: 'native' }, { name: 'dx', length: NX, required: 'native' },
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
  // sizes: integers in [1, 2^31 − 1]
  for (const arg of SIZE_ARGS) {
    for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `${arg} ${what}`, { [arg]: value }, cls, arg));
  }

  // scale: finite; the raw binding has no default
  ROWS.push(
    bad(fn, 'scale NaN', { scale: NaN }, RangeError, 'scale'),
    bad(fn, 'scale Infinity', { scale: Infinity }, RangeError, 'scale'),
    bad(fn, 'scale -Infinity', { scale: -Infinity }, RangeError, 'scale'),
    bad(fn, 'scale a string', { scale: '1' }, TypeError, 'scale'),
    bad(fn, 'scale null', { scale: null }, TypeError, 'scale'),
    bad(fn, 'scale a BigInt', { scale: 1n }, TypeError, 'scale'),
    bad(fn, 'scale missing (raw binding has no default)', { scale: MISSING }, TypeError, 'scale', 'native'),
  );

  // lengths: an Int32Array of length batch, each value ≥ 0; x holds Σ lengths rows
  ROWS.push(
    bad(fn, 'lengths a plain Array', { lengths: [...LENGTHS] }, TypeError, 'lengths'),
    bad(fn, 'lengths a Float32Array', { lengths: Float32Array.from(LENGTHS) }, TypeError, 'lengths'),
    bad(fn, 'lengths a Uint32Array', { lengths: Uint32Array.from(LENGTHS) }, TypeError, 'lengths'),
    bad(fn, 'lengths an Int16Array', { lengths: Int16Array.from(LENGTHS) }, TypeError, 'lengths'),
    bad(fn, 'lengths a BigInt64Array', { lengths: BigInt64Array.of(2n, 0n, 3n) }, TypeError, 'lengths'),
    bad(fn, 'lengths a number', { lengths: 5 }, TypeError, 'lengths'),
    bad(fn, 'lengths null', { lengths: null }, TypeError, 'lengths'),
    bad(fn, 'lengths missing', { lengths: MISSING }, TypeError, 'lengths'),
    bad(fn, 'lengths one element short', { lengths: Int32Array.of(2, 3) }, RangeError, 'lengths'),
    bad(fn, 'lengths one element long', { lengths: Int32Array.of(2, 0, 3, 0) }, RangeError, 'lengths'),
    bad(fn, 'lengths empty', { lengths: new Int32Array(0) }, RangeError, 'lengths'),
    bad(fn, 'lengths[0] = −1', { lengths: Int32Array.of(-1, 3, 3) }, RangeError, 'lengths\\[0\\]'),
    bad(fn, 'lengths[1] = −1 (the others still sum to T)', { lengths: Int32Array.of(3, -1, 3) }, RangeError, 'lengths\\[1\\]'),
    bad(fn, 'lengths[2] = −2**31', { lengths: Int32Array.of(2, 0, -(2 ** 31)) }, RangeError, 'lengths\\[2\\]'),
    bad(fn, 'batch = 2 (lengths has 3 elements)', { batch: 2 }, RangeError, 'lengths'),
    bad(fn, 'batch = 4 (lengths has 3 elements)', { batch: 4 }, RangeError, 'lengths'),
    // lengths valid on their own but not summing to x's rows
    bad(fn, 'lengths summing to T + 1', { lengths: Int32Array.of(2, 1, 3) }, RangeError, 'x'),
    bad(fn, 'lengths summing to T − 1', { lengths: Int32Array.of(2, 0, 2) }, RangeError, 'x'),
    bad(fn, 'lengths all 0 (x would have to be empty)', { lengths: Int32Array.of(0, 0, 0) }, RangeError, 'x'),
    bad(fn, 'lengths[0] = 2**31 − 1', { lengths: Int32Array.of(2 ** 31 - 1, 0, 3) }, RangeError, 'x'),
    bad(fn, 'lengths summing past 2**31 (int32 overflow of the total)', {
      lengths: Int32Array.of(2 ** 31 - 1, 2 ** 31 - 1, 2),
    }, RangeError, 'x'),
    bad(fn, 'lengths summing to 2**32 + 5 (wraps to 5 in 32 bits)', {
      lengths: Int32Array.of(2 ** 31 - 1, 2 ** 31 - 1, 7),
    }, RangeError, 'x'),
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
  // null outputs: the wrapper allocates them, the raw binding refuses
  const outs = fn === 'memoryAttentionForward' ? ['out', 'lse'] : ['dq', 'dx'];
  for (const name of outs) ROWS.push(bad(fn, `${name} null`, { [name]: null }, TypeError, name, 'native'));

  // shape mismatches and huge shapes
  ROWS.push(
    bad(fn, 'rows = 3 does not match q', { rows: 3 }, RangeError, 'q'),
    bad(fn, 'dim = 5 does not match q', { dim: 5 }, RangeError, 'q'),
    bad(fn, 'x of q\'s length', { x: f32(NQ) }, RangeError, 'x'),
    bad(fn, 'x of [T, dim + 1]', { x: f32(NX + 5) }, RangeError, 'x'),
    bad(fn, 'a 1e9-row shape with tiny buffers', { rows: 1e9 }, RangeError, 'q'),
    bad(fn, 'rows = dim = 2**31 − 1 (products beyond 2^53)', { rows: 2 ** 31 - 1, dim: 2 ** 31 - 1 }, RangeError, 'q'),
  );
}

// accumulate (backward only): a boolean; the raw binding has no default
ROWS.push(
  bad('memoryAttentionBackward', 'accumulate 1', { accumulate: 1 }, TypeError, 'accumulate'),
  bad('memoryAttentionBackward', 'accumulate 0', { accumulate: 0 }, TypeError, 'accumulate'),
  bad('memoryAttentionBackward', "accumulate 'true'", { accumulate: 'true' }, TypeError, 'accumulate'),
  bad('memoryAttentionBackward', 'accumulate null', { accumulate: null }, TypeError, 'accumulate'),
  bad('memoryAttentionBackward', 'accumulate missing (raw binding has no default)', { accumulate: MISSING }, TypeError, 'accumulate', 'native'),
  // with accumulate the wrapper cannot allocate dx: it is an input then
  bad('memoryAttentionBackward', 'dx missing with accumulate: true', { accumulate: true, dx: MISSING }, TypeError, 'dx'),
  bad('memoryAttentionBackward', 'dx null with accumulate: true', { accumulate: true, dx: null }, TypeError, 'dx'),
  bad('memoryAttentionBackward', 'dx one element short with accumulate: true', { accumulate: true, dx: f32(NX - 1) }, RangeError, 'dx'),
  // lse holds +Infinity for samples of length 0: its values are never checked — but its length is
  bad('memoryAttentionBackward', 'lse of [B, R, D] instead of [B, R]', { lse: f32(NQ) }, RangeError, 'lse'),
);

// one buffer of `total` floats; views [a0, a0 + alen) and [b0, b0 + blen) of it
const views = (total: number, a: string, a0: number, alen: number, b: string, b0: number, blen: number): Options => {
  const buf = new Float32Array(total);
  return { [a]: buf.subarray(a0, a0 + alen), [b]: buf.subarray(b0, b0 + blen) };
};

// outputs overlapping inputs (or each other)
const F = 'memoryAttentionForward';
const B = 'memoryAttentionBackward';
ROWS.push(
  bad(F, 'out overlapping q', () => views(40, 'q', 0, NQ, 'out', 16, NQ), RangeError, 'out'),
  bad(F, 'out is q', () => {
    const q = f32(NQ);
    return { q, out: q };
  }, RangeError, 'out'),
  bad(F, 'out overlapping x (one element)', () => views(NX + NQ, 'x', 0, NX, 'out', NX - 1, NQ), RangeError, 'out'),
  bad(F, 'lse overlapping x', () => views(30, 'x', 0, NX, 'lse', 16, NL), RangeError, 'lse'),
  bad(F, 'lse overlapping q (one element)', () => views(NQ + NL, 'q', 0, NQ, 'lse', NQ - 1, NL), RangeError, 'lse'),
  bad(F, 'out overlapping lse', () => views(40, 'out', 0, NQ, 'lse', 20, NL), RangeError, '(?:out|lse)'),
  bad(B, 'dq overlapping dOut', () => views(40, 'dOut', 0, NQ, 'dq', 8, NQ), RangeError, 'dq'),
  bad(B, 'dq overlapping q (one element)', () => views(48, 'q', 0, NQ, 'dq', NQ - 1, NQ), RangeError, 'dq'),
  bad(B, 'dq is out', () => {
    const out = f32(NQ);
    return { out, dq: out };
  }, RangeError, 'dq'),
  bad(B, 'dx is x', () => {
    const x = f32(NX);
    return { x, dx: x };
  }, RangeError, 'dx'),
  bad(B, 'dx is x with accumulate: true', () => {
    const x = f32(NX);
    return { x, dx: x, accumulate: true };
  }, RangeError, 'dx'),
  bad(B, 'dx overlapping x', () => views(30, 'x', 0, NX, 'dx', 10, NX), RangeError, 'dx'),
  bad(B, 'dx overlapping lse', () => views(30, 'lse', 0, NL, 'dx', 5, NX), RangeError, 'dx'),
  bad(B, 'dx overlapping dOut (accumulate: true)', () => ({ ...views(40, 'dOut', 0, NQ, 'dx', 20, NX), accumulate: true }), RangeError, 'dx'),
  bad(B, 'dq overlapping dx', () => views(50, 'dq', 0, NQ, 'dx', 23, NX), RangeError, '(?:dq|dx)'),
);

// ---------------------------------------------------------------------------------------------

runErrorTable({
  fns: FNS,
  baseFor,
  rows: ROWS,
  baseAsync: true,
  extraBaseChecks: (f, self, fn, target) => {
    // other lengths with the same total, a single sample holding every row, negative scale
    expect(() => f.call(self, { ...baseFor(fn, target), lengths: Int32Array.of(0, 5, 0) })).not.toThrow();
    expect(() => f.call(self, { ...baseFor(fn, target), lengths: Int32Array.of(5), batch: 1, q: f32(8), ...qSized(fn, 8, 2) })).not.toThrow();
    expect(() => f.call(self, { ...baseFor(fn, target), scale: -3 })).not.toThrow();
    if (fn === 'memoryAttentionBackward') {
      expect(() => f.call(self, { ...baseFor(fn, target), accumulate: true, dx: f32(NX) })).not.toThrow();
    }
  },
});

/** The other [batch, rows, dim]- and [batch, rows]-sized buffers of `fn` for a batch of 1. */
function qSized(fn: Fn, nq: number, nl: number): Options {
  return fn === 'memoryAttentionForward'
    ? { out: f32(nq), lse: f32(nl) }
    : { out: f32(nq), lse: f32(nl), dOut: f32(nq), dq: f32(nq) };
}

describe('messages', () => {
  it('name the expected length as Σ lengths·dim, and the offending length', () => {
    for (const target of ['kernels', 'native'] as const) {
      const { fn, self } = lookup(target, 'memoryAttentionForward');
      expect(() => fn.call(self, { ...baseFor('memoryAttentionForward', target), x: f32(NX - 1) })).toThrow(
        'memoryAttentionForward: expected x to be a Float32Array of length 20 (Σ lengths·dim), received length 19',
      );
      const { fn: bwd, self: bself } = lookup(target, 'memoryAttentionBackward');
      expect(() => bwd.call(bself, { ...baseFor('memoryAttentionBackward', target), lengths: Int32Array.of(3, -1, 3) })).toThrow(
        'memoryAttentionBackward: expected lengths[1] to be an integer in [0, 2147483647], received -1',
      );
      expect(() => bwd.call(bself, { ...baseFor('memoryAttentionBackward', target), dx: f32(NX + 1) })).toThrow(
        'memoryAttentionBackward: expected dx to be a Float32Array of length 20 (Σ lengths·dim), received length 21',
      );
    }
  });
});

describe('nothing crashed the process', () => {
  it('valid calls still work after the table (both layers, sync and async), with the same results', async () => {
    expectBasesValid(FNS, baseFor);
    const q = f32(NQ);
    const x = f32(NX, -0.5);
    const lens = lengths();
    const scale = 0.5;
    const fwd = kernels.memoryAttentionForward({ q, x, ...SHAPE, lengths: lens, scale });
    const fwdAsync = await kernels.memoryAttentionForwardAsync({ q, x, ...SHAPE, lengths: lens, scale });
    expectSameBits(fwdAsync.out, fwd.out, 'kernels async out');
    expectSameBits(fwdAsync.lse, fwd.lse, 'kernels async lse');
    for (const mode of ['sync', 'async'] as const) {
      const out = new Float32Array(NQ).fill(NaN);
      const lse = new Float32Array(NL).fill(NaN);
      const args = { q, x, out, lse, ...SHAPE, scale, lengths: lens };
      if (mode === 'sync') backend.native().memoryAttentionForward(args);
      else await backend.native().memoryAttentionForwardAsync(args);
      expectSameBits(out, fwd.out, `native ${mode} out`);
      expectSameBits(lse, fwd.lse, `native ${mode} lse`);
    }
    // and against the float64 reference
    const ref = reference.memoryAttentionForward({ q, x, lengths: lens, ...SHAPE, scale });
    expectClose(fwd.out, ref.out, { rtol: 1e-5, atol: 1e-5, label: 'out vs reference' });
    expectClose(fwd.lse, ref.lse, { rtol: 1e-5, atol: 1e-5, label: 'lse vs reference' });
    // sample 1 has length 0: out exactly 0, lse +Infinity
    expect(Array.from(fwd.out.subarray(8, 16))).toEqual(new Array(8).fill(0));
    expect(Array.from(fwd.lse.subarray(2, 4))).toEqual([Infinity, Infinity]);
    // the default scale is 1/√dim = 0.5 here: same bits without it
    expectSameBits(kernels.memoryAttentionForward({ q, x, ...SHAPE, lengths: lens }).out, fwd.out, 'default scale');

    // backward: sync / async / native agree; sample 1's dq rows are exactly 0
    const dOut = f32(NQ, -1);
    const bargs = { q, x, out: fwd.out, lse: fwd.lse, dOut, ...SHAPE, lengths: lens, scale };
    const g = kernels.memoryAttentionBackward(bargs);
    const gAsync = await kernels.memoryAttentionBackwardAsync(bargs);
    expectSameBits(gAsync.dq, g.dq, 'kernels async dq');
    expectSameBits(gAsync.dx, g.dx, 'kernels async dx');
    for (const mode of ['sync', 'async'] as const) {
      const dq = new Float32Array(NQ).fill(NaN);
      const dx = new Float32Array(NX).fill(NaN);
      const args = { ...bargs, dq, dx, accumulate: false };
      if (mode === 'sync') backend.native().memoryAttentionBackward(args);
      else await backend.native().memoryAttentionBackwardAsync(args);
      expectSameBits(dq, g.dq, `native ${mode} dq`);
      expectSameBits(dx, g.dx, `native ${mode} dx`);
    }
    expect(Array.from(g.dq.subarray(8, 16))).toEqual(new Array(8).fill(0));
    for (const v of [...g.dq, ...g.dx]) expect(Number.isFinite(v)).toBe(true);
    expect(g.dx.some((v) => v !== 0)).toBe(true);
  });
});
