// test/binding/errors.test.ts — bad arguments never crash the process: every row is one bad
// argument (a valid base object with one field changed), the error class it must raise and a
// message regex naming the function and the argument ("<fn>: expected <arg> …"). Every row runs
// against BOTH the TypeScript wrapper (`kernels.<fn>`, outputs optional) and the raw binding
// (`backend.native().<fn>`, every output buffer passed). Rows for gemm / gemmBatched also run
// against the async variants, which must return a rejected promise (never throw synchronously)
// with the same class and message; the wrapper's rejection must carry the caller's stack.
// After the table, valid calls to every function still work.

import { describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import {
  BAD_SIZES, MISSING, bad as badRow, expectBasesValid, runErrorTable,
  type Options, type Row as TableRow, type Target,
} from '../helpers/errorTable.js';

const FNS = [
  'gemm', 'gemmBatched', 'biasGrad', 'layernormForward', 'layernormBackward', 'geluForward',
  'geluBackward', 'softmaxForward', 'softmaxBackward', 'softmaxXentForward',
  'softmaxXentBackward', 'adamwStep',
] as const;
type Fn = (typeof FNS)[number];
const ASYNC: Partial<Record<Fn, string>> = { gemm: 'gemmAsync', gemmBatched: 'gemmBatchedAsync' };

const f32 = (n: number, start = 0.5): Float32Array => Float32Array.from({ length: n }, (_, i) => start + 0.25 * i);

// ---------------------------------------------------------------------------------------------
// Valid base objects. `inputs` go to both layers; `outputs` and `defaults` only to the raw
// binding (which allocates nothing and has no defaults). Built fresh for every call.

interface Base {
  inputs: () => Options;
  outputs: () => Options;
  defaults: Options;
}

const BASES: Record<Fn, Base> = {
  // m = 2, n = 4, k = 3
  gemm: {
    inputs: () => ({ a: f32(6), b: f32(12), m: 2, n: 4, k: 3 }),
    outputs: () => ({ c: f32(8) }),
    defaults: { transA: false, transB: false, alpha: 1, beta: 0 },
  },
  // batch = 3, m = 2, n = 3, k = 4; B broadcast (strideB = 0)
  gemmBatched: {
    inputs: () => ({ a: f32(24), b: f32(12), m: 2, n: 3, k: 4, batch: 3, strideB: 0 }),
    outputs: () => ({ c: f32(18) }),
    defaults: { transA: false, transB: false, alpha: 1, beta: 0, strideA: 8, strideC: 6 },
  },
  biasGrad: {
    inputs: () => ({ dy: f32(6), m: 2, n: 3 }),
    outputs: () => ({ dBias: f32(3) }),
    defaults: {},
  },
  layernormForward: {
    inputs: () => ({ x: f32(8), weight: f32(4), bias: f32(4), rows: 2, dim: 4 }),
    outputs: () => ({ out: f32(8), mean: f32(2), rstd: f32(2) }),
    defaults: { eps: 1e-5 },
  },
  layernormBackward: {
    inputs: () => ({ dOut: f32(8), x: f32(8), weight: f32(4), mean: f32(2), rstd: f32(2), rows: 2, dim: 4 }),
    outputs: () => ({ dx: f32(8), dWeight: f32(4), dBias: f32(4) }),
    defaults: {},
  },
  geluForward: {
    inputs: () => ({ x: f32(5, -1) }),
    outputs: () => ({ out: f32(5) }),
    defaults: { approximate: 'none' },
  },
  geluBackward: {
    inputs: () => ({ dOut: f32(5), x: f32(5, -1), approximate: 'tanh' }),
    outputs: () => ({ dx: f32(5) }),
    defaults: {},
  },
  softmaxForward: {
    inputs: () => ({ x: f32(6), rows: 2, cols: 3 }),
    outputs: () => ({ out: f32(6) }),
    defaults: {},
  },
  softmaxBackward: {
    inputs: () => ({ dOut: f32(6), out: f32(6, 0.1), rows: 2, cols: 3 }),
    outputs: () => ({ dx: f32(6) }),
    defaults: {},
  },
  softmaxXentForward: {
    inputs: () => ({ logits: f32(10), targets: Int32Array.of(1, 4), rows: 2, cols: 5 }),
    outputs: () => ({ lse: f32(2) }),
    defaults: {},
  },
  softmaxXentBackward: {
    inputs: () => ({ logits: f32(10), lse: f32(2, 3), targets: Int32Array.of(1, 4), rows: 2, cols: 5 }),
    outputs: () => ({ dLogits: f32(10) }),
    defaults: { dLoss: 1 },
  },
  adamwStep: {
    inputs: () => ({ param: f32(5), grad: f32(5, -0.5), m: f32(5, 0), v: f32(5, 0), lr: 1e-3, step: 1 }),
    outputs: () => ({}),
    defaults: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
  },
};

function baseFor(fn: Fn, target: Target): Options {
  const base = BASES[fn];
  return target === 'kernels'
    ? base.inputs()
    : { ...base.defaults, ...base.inputs(), ...base.outputs() };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type Row = TableRow<Fn>;
const bad = badRow<Fn>;

const SIZE_ARGS: Record<Fn, string[]> = {
  gemm: ['m', 'n', 'k'],
  gemmBatched: ['batch', 'm', 'n', 'k'],
  biasGrad: ['m', 'n'],
  layernormForward: ['rows', 'dim'],
  layernormBackward: ['rows', 'dim'],
  geluForward: [],
  geluBackward: [],
  softmaxForward: ['rows', 'cols'],
  softmaxBackward: ['rows', 'cols'],
  softmaxXentForward: ['rows', 'cols'],
  softmaxXentBackward: ['rows', 'cols'],
  adamwStep: [],
};

// Every Float32Array argument: wrong type (plain Array, Float64Array, missing for required
// inputs) and wrong length. `required` = a required input of the wrapper; outputs are required
// only by the raw binding.
interface BufferArg {
  name: string;
  length: number;
  required: 'both' | 'native' | 'optional';
  /** Batched GEMM buffers need only be long enough: no "one element long" row. */
  atLeast?: boolean;
}
const BUFFERS: Record<Fn, BufferArg[]> = {
  gemm: [
    { name: 'a', length: 6, required: 'both' }, { name: 'b', length: 12, required: 'both' },
    { name: 'c', length: 8, required: 'native' }, { name: 'bias', length: 4, required: 'optional' },
  ],
  gemmBatched: [
    { name: 'a', length: 24, required: 'both', atLeast: true }, { name: 'b', length: 12, required: 'both', atLeast: true },
    { name: 'c', length: 18, required: 'native', atLeast: true }, { name: 'bias', length: 3, required: 'optional' },
  ],
  biasGrad: [{ name: 'dy', length: 6, required: 'both' }, { name: 'dBias', length: 3, required: 'native' }],
  layernormForward: [
    { name: 'x', length: 8, required: 'both' }, { name: 'weight', length: 4, required: 'optional' },
    { name: 'bias', length: 4, required: 'optional' }, { name: 'out', length: 8, required: 'native' },
    { name: 'mean', length: 2, required: 'native' }, { name: 'rstd', length: 2, required: 'native' },
  ],
  layernormBackward: [
    { name: 'dOut', length: 8, required: 'both' }, { name: 'x', length: 8, required: 'both' },
    { name: 'weight', length: 4, required: 'optional' }, { name: 'mean', length: 2, required: 'both' },
    { name: 'rstd', length: 2, required: 'both' }, { name: 'dx', length: 8, required: 'native' },
    { name: 'dWeight', length: 4, required: 'optional' }, { name: 'dBias', length: 4, required: 'optional' },
  ],
  // x defines the length of the elementwise ops, so x itself has no "wrong length" row
  geluForward: [{ name: 'x', length: 0, required: 'both' }, { name: 'out', length: 5, required: 'native' }],
  geluBackward: [
    { name: 'x', length: 0, required: 'both' }, { name: 'dOut', length: 5, required: 'both' },
    { name: 'dx', length: 5, required: 'native' },
  ],
  softmaxForward: [{ name: 'x', length: 6, required: 'both' }, { name: 'out', length: 6, required: 'native' }],
  softmaxBackward: [
    { name: 'dOut', length: 6, required: 'both' }, { name: 'out', length: 6, required: 'both' },
    { name: 'dx', length: 6, required: 'native' },
  ],
  softmaxXentForward: [
    { name: 'logits', length: 10, required: 'both' }, { name: 'lse', length: 2, required: 'native' },
  ],
  softmaxXentBackward: [
    { name: 'logits', length: 10, required: 'both' }, { name: 'lse', length: 2, required: 'both' },
    { name: 'dLogits', length: 10, required: 'native' },
  ],
  // param defines the length
  adamwStep: [
    { name: 'param', length: 0, required: 'both' }, { name: 'grad', length: 5, required: 'both' },
    { name: 'm', length: 5, required: 'both' }, { name: 'v', length: 5, required: 'both' },
  ],
};

const ROWS: Row[] = [];

// not an options object at all
for (const fn of FNS) {
  for (const [what, whole] of [['undefined', undefined], ['null', null], ['a number', 42], ['a string', 'x'], ['an array', []]] as const) {
    ROWS.push({ fn, what: `options ${what}`, whole, cls: TypeError, message: /expected an options object/ });
  }
}

// sizes
for (const fn of FNS) {
  for (const arg of SIZE_ARGS[fn]) {
    for (const [what, value, cls] of BAD_SIZES) ROWS.push(bad(fn, `${arg} ${what}`, { [arg]: value }, cls, arg));
  }
}

// buffers: wrong type, missing, short, long
for (const fn of FNS) {
  for (const { name, length, required, atLeast } of BUFFERS[fn]) {
    // a wrong buffer is wrong in both layers, even an optional output the wrapper could allocate
    ROWS.push(bad(fn, `${name} a plain Array`, { [name]: [1, 2, 3, 4, 5, 6, 7, 8] }, TypeError, name));
    ROWS.push(bad(fn, `${name} a Float64Array`, { [name]: new Float64Array(Math.max(length, 5)) }, TypeError, name));
    ROWS.push(bad(fn, `${name} an Int32Array`, { [name]: new Int32Array(Math.max(length, 5)) }, TypeError, name));
    if (required !== 'optional') {
      // outputs may be left out of the wrapper's options; only the raw binding requires them
      ROWS.push(bad(fn, `${name} missing`, { [name]: MISSING }, TypeError, name, required === 'native' ? 'native' : undefined));
    }
    if (length > 0) {
      ROWS.push(bad(fn, `${name} one element short`, { [name]: f32(length - 1) }, RangeError, name));
      if (!atLeast) ROWS.push(bad(fn, `${name} one element long`, { [name]: f32(length + 1) }, RangeError, name));
    } else {
      ROWS.push(bad(fn, `${name} empty`, { [name]: new Float32Array(0) }, RangeError, name));
    }
  }
}

ROWS.push(
  // ---- gemm: shape / length mismatches, scalars, flags, overlap, huge shapes
  bad('gemm', 'm = 3 does not match a', { m: 3 }, RangeError, 'a'),
  bad('gemm', 'k = 4 does not match a', { k: 4 }, RangeError, 'a'),
  bad('gemm', 'n = 5 does not match b', { n: 5 }, RangeError, 'b'),
  bad('gemm', 'a 1e9-row shape with a tiny buffer', { m: 1e9 }, RangeError, 'a'),
  bad('gemm', 'm = n = k = 2**31 − 1 (product overflows 2^53)', { m: 2 ** 31 - 1, n: 2 ** 31 - 1, k: 2 ** 31 - 1 }, RangeError, 'a'),
  bad('gemm', 'alpha NaN', { alpha: NaN }, RangeError, 'alpha'),
  bad('gemm', 'alpha Infinity', { alpha: Infinity }, RangeError, 'alpha'),
  bad('gemm', 'alpha a string', { alpha: '1' }, TypeError, 'alpha'),
  bad('gemm', 'beta -Infinity', { beta: -Infinity }, RangeError, 'beta'),
  bad('gemm', 'beta null', { beta: null }, TypeError, 'beta'),
  bad('gemm', 'transA = 1', { transA: 1 }, TypeError, 'transA'),
  bad('gemm', "transB = 'yes'", { transB: 'yes' }, TypeError, 'transB'),
  bad('gemm', 'alpha missing (raw binding has no default)', { alpha: MISSING }, TypeError, 'alpha', 'native'),
  bad('gemm', 'transA missing (raw binding has no default)', { transA: MISSING }, TypeError, 'transA', 'native'),
  bad('gemm', 'c overlapping a', () => {
    const buf = new Float32Array(14);
    return { a: buf.subarray(0, 6), c: buf.subarray(4, 12) };
  }, RangeError, 'c'),
  bad('gemm', 'c is a', () => {
    const a = f32(4);
    return { a, b: f32(4), c: a, m: 2, n: 2, k: 2 };
  }, RangeError, 'c'),
  bad('gemm', 'c overlapping b', () => {
    const buf = new Float32Array(20);
    return { b: buf.subarray(0, 12), c: buf.subarray(11, 19) }; // share element 11
  }, RangeError, 'c'),
  bad('gemm', 'c overlapping bias', () => {
    const buf = new Float32Array(10);
    return { bias: buf.subarray(0, 4), c: buf.subarray(2, 10) };
  }, RangeError, 'c'),

  // ---- gemmBatched
  bad('gemmBatched', 'strideA negative', { strideA: -1 }, RangeError, 'strideA'),
  bad('gemmBatched', 'strideA non-integer', { strideA: 2.5 }, RangeError, 'strideA'),
  bad('gemmBatched', 'strideA NaN', { strideA: NaN }, RangeError, 'strideA'),
  bad('gemmBatched', 'strideB a string', { strideB: '0' }, TypeError, 'strideB'),
  bad('gemmBatched', 'strideC below m·n (outputs would overlap)', { strideC: 1 }, RangeError, 'strideC'),
  bad('gemmBatched', 'strideA 2**40 (a far too short)', { strideA: 2 ** 40 }, RangeError, '(?:strideA|a)'),
  bad('gemmBatched', 'strideB = k·n (not broadcast) with one B', { strideB: 12 }, RangeError, 'b'),
  bad('gemmBatched', 'batch = 4 with buffers for 3', { batch: 4 }, RangeError, 'a'),
  bad('gemmBatched', 'a 1e9-item batch with tiny buffers', { batch: 1e9 }, RangeError, 'a'),
  bad('gemmBatched', 'alpha NaN', { alpha: NaN }, RangeError, 'alpha'),
  bad('gemmBatched', 'transB = 0', { transB: 0 }, TypeError, 'transB'),
  bad('gemmBatched', 'c overlapping b', () => {
    const buf = new Float32Array(30);
    return { b: buf.subarray(0, 12), c: buf.subarray(10, 28) };
  }, RangeError, 'c'),

  // ---- biasGrad
  bad('biasGrad', 'm = 3 does not match dy', { m: 3 }, RangeError, 'dy'),
  bad('biasGrad', 'a 1e9-row shape with a tiny buffer', { m: 1e9 }, RangeError, 'dy'),

  // ---- layernormForward
  bad('layernormForward', 'eps 0', { eps: 0 }, RangeError, 'eps'),
  bad('layernormForward', 'eps negative', { eps: -1e-5 }, RangeError, 'eps'),
  bad('layernormForward', 'eps NaN', { eps: NaN }, RangeError, 'eps'),
  bad('layernormForward', 'eps Infinity', { eps: Infinity }, RangeError, 'eps'),
  bad('layernormForward', 'eps a string', { eps: '1e-5' }, TypeError, 'eps'),
  bad('layernormForward', 'eps missing (raw binding has no default)', { eps: MISSING }, TypeError, 'eps', 'native'),
  bad('layernormForward', 'dim = 3 does not match x', { dim: 3 }, RangeError, 'x'),
  bad('layernormForward', 'a 1e9-row shape with a tiny buffer', { rows: 1e9 }, RangeError, 'x'),
  bad('layernormForward', 'rows = cols = 2**31 − 1 (product beyond 2^53)', { rows: 2 ** 31 - 1, dim: 2 ** 31 - 1 }, RangeError, 'x'),

  // ---- layernormBackward
  bad('layernormBackward', 'rows = 4 does not match dOut', { rows: 4 }, RangeError, 'dOut'),
  bad('layernormBackward', 'a 1e9-row shape with a tiny buffer', { rows: 1e9 }, RangeError, 'dOut'),

  // ---- gelu
  bad('geluForward', "approximate 'fast'", { approximate: 'fast' }, RangeError, 'approximate'),
  bad('geluForward', "approximate 'None' (case matters)", { approximate: 'None' }, RangeError, 'approximate'),
  bad('geluForward', 'approximate missing (raw binding has no default)', { approximate: MISSING }, TypeError, 'approximate', 'native'),
  bad('geluBackward', "approximate 'exact'", { approximate: 'exact' }, RangeError, 'approximate'),

  // ---- softmax
  bad('softmaxForward', 'cols = 2 does not match x', { cols: 2 }, RangeError, 'x'),
  bad('softmaxForward', 'a 1e9-row shape with a tiny buffer', { rows: 1e9 }, RangeError, 'x'),
  bad('softmaxForward', 'rows = cols = 1e9 (rows·cols = 1e18, beyond 2^53)', { rows: 1e9, cols: 1e9 }, RangeError, 'x'),
  bad('softmaxBackward', 'rows = 3 does not match dOut', { rows: 3 }, RangeError, 'dOut'),

  // ---- softmax cross-entropy
  bad('softmaxXentForward', 'targets a plain Array', { targets: [1, 4] }, TypeError, 'targets'),
  bad('softmaxXentForward', 'targets a Float32Array', { targets: Float32Array.of(1, 4) }, TypeError, 'targets'),
  bad('softmaxXentForward', 'targets an Int8Array', { targets: Int8Array.of(1, 4) }, TypeError, 'targets'),
  bad('softmaxXentForward', 'targets missing', { targets: MISSING }, TypeError, 'targets'),
  bad('softmaxXentForward', 'targets one short', { targets: Int32Array.of(1) }, RangeError, 'targets'),
  bad('softmaxXentForward', 'targets one long', { targets: Int32Array.of(1, 4, 0) }, RangeError, 'targets'),
  bad('softmaxXentForward', 'targets[1] = cols', { targets: Int32Array.of(1, 5) }, RangeError, 'targets\\[1\\]'),
  bad('softmaxXentForward', 'targets[0] negative', { targets: Int32Array.of(-1, 0) }, RangeError, 'targets\\[0\\]'),
  bad('softmaxXentForward', 'targets[1] = 2**31 − 1', { targets: Int32Array.of(0, 2 ** 31 - 1) }, RangeError, 'targets\\[1\\]'),
  bad('softmaxXentForward', 'a 1e9-row shape with a tiny buffer', { rows: 1e9 }, RangeError, 'logits'),
  bad('softmaxXentBackward', 'targets[0] = 12', { targets: Int32Array.of(12, 0) }, RangeError, 'targets\\[0\\]'),
  bad('softmaxXentBackward', 'targets a plain Array', { targets: [1, 4] }, TypeError, 'targets'),
  bad('softmaxXentBackward', 'dLoss NaN', { dLoss: NaN }, RangeError, 'dLoss'),
  bad('softmaxXentBackward', 'dLoss Infinity', { dLoss: Infinity }, RangeError, 'dLoss'),
  bad('softmaxXentBackward', 'dLoss a string', { dLoss: '1' }, TypeError, 'dLoss'),
  bad('softmaxXentBackward', 'dLoss missing (raw binding has no default)', { dLoss: MISSING }, TypeError, 'dLoss', 'native'),
  bad('softmaxXentBackward', 'cols = 4 does not match logits', { cols: 4 }, RangeError, 'logits'),

  // ---- adamwStep scalars
  bad('adamwStep', 'lr negative', { lr: -1e-3 }, RangeError, 'lr'),
  bad('adamwStep', 'lr NaN', { lr: NaN }, RangeError, 'lr'),
  bad('adamwStep', 'lr Infinity', { lr: Infinity }, RangeError, 'lr'),
  bad('adamwStep', 'lr a string', { lr: '0.001' }, TypeError, 'lr'),
  bad('adamwStep', 'lr missing', { lr: MISSING }, TypeError, 'lr'),
  bad('adamwStep', 'beta1 = 1', { beta1: 1 }, RangeError, 'beta1'),
  bad('adamwStep', 'beta1 negative', { beta1: -0.1 }, RangeError, 'beta1'),
  bad('adamwStep', 'beta2 = 1', { beta2: 1 }, RangeError, 'beta2'),
  bad('adamwStep', 'beta2 NaN', { beta2: NaN }, RangeError, 'beta2'),
  bad('adamwStep', 'beta2 a string', { beta2: '0.999' }, TypeError, 'beta2'),
  bad('adamwStep', 'eps 0', { eps: 0 }, RangeError, 'eps'),
  bad('adamwStep', 'eps negative', { eps: -1e-8 }, RangeError, 'eps'),
  bad('adamwStep', 'weightDecay negative', { weightDecay: -0.01 }, RangeError, 'weightDecay'),
  bad('adamwStep', 'weightDecay Infinity', { weightDecay: Infinity }, RangeError, 'weightDecay'),
  bad('adamwStep', 'step 0', { step: 0 }, RangeError, 'step'),
  bad('adamwStep', 'step negative', { step: -3 }, RangeError, 'step'),
  bad('adamwStep', 'step non-integer', { step: 1.5 }, RangeError, 'step'),
  bad('adamwStep', 'step NaN', { step: NaN }, RangeError, 'step'),
  bad('adamwStep', 'step Infinity', { step: Infinity }, RangeError, 'step'),
  bad('adamwStep', 'step a string', { step: '1' }, TypeError, 'step'),
  bad('adamwStep', 'step missing', { step: MISSING }, TypeError, 'step'),
  bad('adamwStep', 'beta1 missing (raw binding has no default)', { beta1: MISSING }, TypeError, 'beta1', 'native'),
  bad('adamwStep', 'weightDecay missing (raw binding has no default)', { weightDecay: MISSING }, TypeError, 'weightDecay', 'native'),
);

// ---------------------------------------------------------------------------------------------

runErrorTable({
  fns: FNS,
  baseFor,
  rows: ROWS,
  asyncName: (fn) => ASYNC[fn],
  asyncTitle: 'async variants reject (never throw synchronously)',
});

describe('nothing crashed the process', () => {
  it('valid calls to every function still work after the table (both layers)', async () => {
    expectBasesValid(FNS, baseFor);
    const c = kernels.gemm({ a: f32(6), b: f32(12), m: 2, n: 4, k: 3 });
    const cAsync = await kernels.gemmAsync({ a: f32(6), b: f32(12), m: 2, n: 4, k: 3 });
    expect(Array.from(cAsync)).toEqual(Array.from(c));
    // row 0 of A·B by hand: a = [0.5, 0.75, 1], B[:,0] = [0.5, 1.5, 2.5]
    expect(c[0]).toBeCloseTo(0.5 * 0.5 + 0.75 * 1.5 + 1 * 2.5, 5);
    const out = new Float32Array(8);
    await backend.native().gemmAsync({ a: f32(6), b: f32(12), c: out, m: 2, n: 4, k: 3, transA: false, transB: false, alpha: 1, beta: 0 });
    expect(Array.from(out)).toEqual(Array.from(c));
  });
});
