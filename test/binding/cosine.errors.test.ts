// test/binding/cosine.errors.test.ts — bad arguments to the cosine kernels never crash the
// process: every row is one bad argument (a valid base object with one field changed), the error
// class it must raise and a message regex naming the function and the argument
// ("<fn>: expected <arg> …"). Every row runs against BOTH the TypeScript wrapper
// (`kernels.<fn>`, outputs optional) and the raw binding (`backend.native().<fn>`, every output
// passed, no defaults), and against both `…Async` forms, which must return a rejected promise
// (never throw synchronously) with the same class and message; the wrapper's rejection must
// carry the caller's stack. After the table, valid calls to every function still work.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import {
  BAD_SIZES, MISSING, bad as badRow, expectBasesValid, runErrorTable,
  type Options, type Row as TableRow, type Target,
} from '../helpers/errorTable.js';

const FNS = ['cosineForward', 'cosineBackward', 'cosinePairedForward', 'cosinePairedBackward', 'cosineTopk'] as const;
type Fn = (typeof FNS)[number];

const f32 = (n: number, start = 0.5): Float32Array => Float32Array.from({ length: n }, (_, i) => start + 0.25 * i);

// ---------------------------------------------------------------------------------------------
// Valid base objects (n = batch = 2, c = 3, dim = 4, k = 2). `inputs` go to both layers;
// `outputs` and `defaults` only to the raw binding. Built fresh for every call.

interface Base {
  inputs: () => Options;
  outputs: () => Options;
  defaults: Options;
}

const DEFAULTS = { scale: 1, eps: 1e-8 };

const BASES: Record<Fn, Base> = {
  cosineForward: {
    inputs: () => ({ x: f32(8), e: f32(12, -1), n: 2, c: 3, dim: 4 }),
    outputs: () => ({ out: f32(6) }),
    defaults: DEFAULTS,
  },
  cosineBackward: {
    inputs: () => ({ dOut: f32(6), out: f32(6, -0.5), x: f32(8), e: f32(12, -1), n: 2, c: 3, dim: 4 }),
    outputs: () => ({ dx: f32(8), de: f32(12) }),
    defaults: DEFAULTS,
  },
  cosinePairedForward: {
    inputs: () => ({ h: f32(24), e: f32(12, -1), batch: 2, c: 3, dim: 4 }),
    outputs: () => ({ out: f32(6) }),
    defaults: DEFAULTS,
  },
  cosinePairedBackward: {
    inputs: () => ({ dOut: f32(6), out: f32(6, -0.5), h: f32(24), e: f32(12, -1), batch: 2, c: 3, dim: 4 }),
    outputs: () => ({ dh: f32(24), de: f32(12) }),
    defaults: DEFAULTS,
  },
  cosineTopk: {
    inputs: () => ({ x: f32(8), e: f32(12, -1), n: 2, c: 3, dim: 4, k: 2 }),
    outputs: () => ({ indices: new Int32Array(4), scores: f32(4) }),
    defaults: DEFAULTS,
  },
};

function baseFor(fn: Fn, target: Target): Options {
  const base = BASES[fn];
  return target === 'kernels' ? base.inputs() : { ...base.defaults, ...base.inputs(), ...base.outputs() };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type Row = TableRow<Fn>;
const bad = badRow<Fn>;

const SIZE_ARGS: Record<Fn, string[]> = {
  cosineForward: ['n', 'c', 'dim'],
  cosineBackward: ['n', 'c', 'dim'],
  cosinePairedForward: ['batch', 'c', 'dim'],
  cosinePairedBackward: ['batch', 'c', 'dim'],
  cosineTopk: ['n', 'c', 'dim', 'k'],
};

interface BufferArg {
  name: string;
  length: number;
  /** 'both': a required input; 'native': an output only the raw binding requires. */
  required: 'both' | 'native';
  int32?: boolean;
}
const BUFFERS: Record<Fn, BufferArg[]> = {
  cosineForward: [
    { name: 'x', length: 8, required: 'both' }, { name: 'e', length: 12, required: 'both' },
    { name: 'out', length: 6, required: 'native' },
  ],
  cosineBackward: [
    { name: 'dOut', length: 6, required: 'both' }, { name: 'out', length: 6, required: 'both' },
    { name: 'x', length: 8, required: 'both' }, { name: 'e', length: 12, required: 'both' },
    { name: 'dx', length: 8, required: 'native' }, { name: 'de', length: 12, required: 'native' },
  ],
  cosinePairedForward: [
    { name: 'h', length: 24, required: 'both' }, { name: 'e', length: 12, required: 'both' },
    { name: 'out', length: 6, required: 'native' },
  ],
  cosinePairedBackward: [
    { name: 'dOut', length: 6, required: 'both' }, { name: 'out', length: 6, required: 'both' },
    { name: 'h', length: 24, required: 'both' }, { name: 'e', length: 12, required: 'both' },
    { name: 'dh', length: 24, required: 'native' }, { name: 'de', length: 12, required: 'native' },
  ],
  cosineTopk: [
    { name: 'x', length: 8, required: 'both' }, { name: 'e', length: 12, required: 'both' },
    { name: 'indices', length: 4, required: 'native', int32: true }, { name: 'scores', length: 4, required: 'native' },
  ],
};

const ROWS: Row[] = [];

// not an options object at all
for (const fn of FNS) {
  for (const [what, whole] of [['undefined', undefined], ['null', null], ['a number', 42], ['a string', 'x'], ['an array', []], ['a Float32Array', f32(4)]] as const) {
    ROWS.push({ fn, what: `options ${what}`, whole, cls: TypeError, message: /expected an options object/ });
  }
}

// sizes
for (const fn of FNS) {
  for (const arg of SIZE_ARGS[fn]) {
    for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `${arg} ${what}`, { [arg]: value }, cls, arg));
  }
}

// scale and eps: finite, eps > 0; the raw binding has no defaults
for (const fn of FNS) {
  ROWS.push(
    bad(fn, 'scale NaN', { scale: NaN }, RangeError, 'scale'),
    bad(fn, 'scale Infinity', { scale: Infinity }, RangeError, 'scale'),
    bad(fn, 'scale -Infinity', { scale: -Infinity }, RangeError, 'scale'),
    bad(fn, 'scale a string', { scale: '1' }, TypeError, 'scale'),
    bad(fn, 'scale null', { scale: null }, TypeError, 'scale'),
    bad(fn, 'scale missing (raw binding has no default)', { scale: MISSING }, TypeError, 'scale', 'native'),
    bad(fn, 'eps 0', { eps: 0 }, RangeError, 'eps'),
    bad(fn, 'eps -0', { eps: -0 }, RangeError, 'eps'),
    bad(fn, 'eps negative', { eps: -1e-8 }, RangeError, 'eps'),
    bad(fn, 'eps NaN', { eps: NaN }, RangeError, 'eps'),
    bad(fn, 'eps Infinity', { eps: Infinity }, RangeError, 'eps'),
    bad(fn, 'eps a string', { eps: '1e-8' }, TypeError, 'eps'),
    bad(fn, 'eps missing (raw binding has no default)', { eps: MISSING }, TypeError, 'eps', 'native'),
  );
}

// buffers: wrong type, missing, short, long
for (const fn of FNS) {
  for (const { name, length, required, int32 } of BUFFERS[fn]) {
    ROWS.push(bad(fn, `${name} a plain Array`, { [name]: Array.from({ length }, () => 1) }, TypeError, name));
    ROWS.push(bad(fn, `${name} a Float64Array`, { [name]: new Float64Array(length) }, TypeError, name));
    if (int32) {
      ROWS.push(bad(fn, `${name} a Float32Array`, { [name]: new Float32Array(length) }, TypeError, name));
      ROWS.push(bad(fn, `${name} a Uint32Array`, { [name]: new Uint32Array(length) }, TypeError, name));
      ROWS.push(bad(fn, `${name} one element short`, { [name]: new Int32Array(length - 1) }, RangeError, name));
      ROWS.push(bad(fn, `${name} one element long`, { [name]: new Int32Array(length + 1) }, RangeError, name));
    } else {
      ROWS.push(bad(fn, `${name} an Int32Array`, { [name]: new Int32Array(length) }, TypeError, name));
      ROWS.push(bad(fn, `${name} an ArrayBuffer`, { [name]: new ArrayBuffer(4 * length) }, TypeError, name));
      ROWS.push(bad(fn, `${name} one element short`, { [name]: f32(length - 1) }, RangeError, name));
      ROWS.push(bad(fn, `${name} one element long`, { [name]: f32(length + 1) }, RangeError, name));
    }
    ROWS.push(bad(fn, `${name} missing`, { [name]: MISSING }, TypeError, name, required === 'native' ? 'native' : undefined));
  }
}

// one buffer of `total` floats; views [a0, a0 + alen) and [b0, b0 + blen) of it
const views = (total: number, a: string, a0: number, alen: number, b: string, b0: number, blen: number): Options => {
  const buf = new Float32Array(total);
  return { [a]: buf.subarray(a0, a0 + alen), [b]: buf.subarray(b0, b0 + blen) };
};

ROWS.push(
  // ---- k: an integer in [1, c]
  bad('cosineTopk', 'k = c + 1', { k: 4 }, RangeError, 'k'),
  bad('cosineTopk', 'k = c + 1 with c = 1', { c: 1, e: f32(4), k: 2 }, RangeError, 'k'),
  bad('cosineTopk', 'k = 2**31 − 1 > c', { k: 2 ** 31 - 1 }, RangeError, 'k'),

  // ---- shape / length mismatches and huge shapes
  bad('cosineForward', 'dim = 3 does not match x', { dim: 3 }, RangeError, 'x'),
  bad('cosineForward', 'c = 4 does not match e', { c: 4 }, RangeError, 'e'),
  bad('cosineForward', 'a 1e9-row shape with a tiny buffer', { n: 1e9 }, RangeError, 'x'),
  bad('cosineForward', 'n = c = dim = 2**31 − 1 (products beyond 2^53)', { n: 2 ** 31 - 1, c: 2 ** 31 - 1, dim: 2 ** 31 - 1 }, RangeError, 'x'),
  bad('cosineBackward', 'n = 3 does not match dOut', { n: 3 }, RangeError, 'dOut'),
  bad('cosineBackward', 'dim = 2 does not match x', { dim: 2 }, RangeError, 'x'),
  bad('cosineBackward', 'a 1e9-label shape with a tiny buffer', { c: 1e9 }, RangeError, 'dOut'),
  bad('cosinePairedForward', 'batch = 3 does not match h', { batch: 3 }, RangeError, 'h'),
  bad('cosinePairedForward', 'e of [c, dim] = 12 but h of [c, dim] = 12 instead of [batch, c, dim]', { h: f32(12) }, RangeError, 'h'),
  bad('cosinePairedForward', 'batch = c = dim = 2**31 − 1', { batch: 2 ** 31 - 1, c: 2 ** 31 - 1, dim: 2 ** 31 - 1 }, RangeError, 'h'),
  bad('cosinePairedBackward', 'batch = 3 does not match dOut', { batch: 3 }, RangeError, 'dOut'),
  bad('cosinePairedBackward', 'a 1e9-batch shape with a tiny buffer', { batch: 1e9 }, RangeError, 'dOut'),
  bad('cosineTopk', 'dim = 3 does not match x', { dim: 3 }, RangeError, 'x'),
  bad('cosineTopk', 'a 1e9-row shape with a tiny buffer', { n: 1e9 }, RangeError, 'x'),

  // ---- outputs overlapping inputs (or each other)
  bad('cosineForward', 'out overlapping x', () => views(12, 'x', 0, 8, 'out', 6, 6), RangeError, 'out'),
  bad('cosineForward', 'out overlapping e (one element)', () => views(18, 'e', 0, 12, 'out', 11, 6), RangeError, 'out'),
  bad('cosineForward', 'out is x (n = c = dim)', () => {
    const x = f32(4);
    return { x, out: x, e: f32(4, -1), n: 2, c: 2, dim: 2 };
  }, RangeError, 'out'),
  bad('cosineBackward', 'dx overlapping x', () => views(12, 'x', 0, 8, 'dx', 4, 8), RangeError, 'dx'),
  bad('cosineBackward', 'dx overlapping dOut', () => views(12, 'dOut', 0, 6, 'dx', 2, 8), RangeError, 'dx'),
  bad('cosineBackward', 'de overlapping out', () => views(20, 'out', 0, 6, 'de', 5, 12), RangeError, 'de'),
  bad('cosineBackward', 'de overlapping e', () => views(24, 'e', 0, 12, 'de', 11, 12), RangeError, 'de'),
  bad('cosineBackward', 'dx overlapping de', () => views(20, 'dx', 0, 8, 'de', 7, 12), RangeError, '(?:dx|de)'),
  bad('cosinePairedForward', 'out overlapping h', () => views(30, 'h', 0, 24, 'out', 20, 6), RangeError, 'out'),
  bad('cosinePairedForward', 'out overlapping e', () => views(18, 'out', 0, 6, 'e', 5, 12), RangeError, 'out'),
  bad('cosinePairedBackward', 'dh overlapping h', () => views(30, 'h', 0, 24, 'dh', 6, 24), RangeError, 'dh'),
  bad('cosinePairedBackward', 'de overlapping dOut', () => views(20, 'dOut', 0, 6, 'de', 3, 12), RangeError, 'de'),
  bad('cosinePairedBackward', 'dh overlapping de', () => views(40, 'de', 0, 12, 'dh', 10, 24), RangeError, '(?:dh|de)'),
  bad('cosineTopk', 'scores overlapping x', () => views(10, 'x', 0, 8, 'scores', 6, 4), RangeError, 'scores'),
  bad('cosineTopk', 'indices overlapping e (Int32 view of e\'s buffer)', () => {
    const buf = new ArrayBuffer(4 * 14);
    return { e: new Float32Array(buf, 0, 12), indices: new Int32Array(buf, 4 * 10, 4) };
  }, RangeError, 'indices'),
  bad('cosineTopk', 'indices overlapping scores', () => {
    const buf = new ArrayBuffer(4 * 6);
    return { scores: new Float32Array(buf, 0, 4), indices: new Int32Array(buf, 8, 4) };
  }, RangeError, '(?:indices|scores)'),
);

// ---------------------------------------------------------------------------------------------

runErrorTable({ fns: FNS, baseFor, rows: ROWS, baseAsync: true });

describe('nothing crashed the process', () => {
  it('valid calls to every function still work after the table (both layers, sync and async)', async () => {
    expectBasesValid(FNS, baseFor);
    const x = f32(8);
    const e = f32(12, -1);
    const out = kernels.cosineForward({ x, e, n: 2, c: 3, dim: 4 });
    expect(Array.from(await kernels.cosineForwardAsync({ x, e, n: 2, c: 3, dim: 4 }))).toEqual(Array.from(out));
    const raw = new Float32Array(6);
    await backend.native().cosineForwardAsync({ x, e, out: raw, n: 2, c: 3, dim: 4, scale: 1, eps: 1e-8 });
    expect(Array.from(raw)).toEqual(Array.from(out));
    // x0 = [0.5, 0.75, 1, 1.25], e0 = [-1, -0.75, -0.5, -0.25]: cos by hand
    const dot0 = 0.5 * -1 + 0.75 * -0.75 + 1 * -0.5 + 1.25 * -0.25;
    const nx = Math.hypot(0.5, 0.75, 1, 1.25);
    const ne = Math.hypot(-1, -0.75, -0.5, -0.25);
    expect(out[0]).toBeCloseTo(dot0 / (nx * ne), 6);
    // k = c is valid
    const top = kernels.cosineTopk({ x, e, n: 2, c: 3, dim: 4, k: 3 });
    expect(Array.from(top.indices).sort()).toEqual([0, 0, 1, 1, 2, 2]);
  });
});
