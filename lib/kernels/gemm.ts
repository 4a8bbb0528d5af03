// lib/kernels/gemm.ts — GEMM wrappers: C = alpha·op(A)·op(B) + beta·C + bias.
// Row-major fp32. op(A) is [m,k] (A stored [k,m] when transA); op(B) is [k,n] (B stored [n,k]
// when transB). beta = 0 → C's old content is never read. C is written in place when given.
import { loadNative } from '../backend/load.js';
import type { NativeGemmArgs, NativeGemmBatchedArgs } from '../backend/native.js';
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export interface GemmOptions {
  a: Float32Array;
  b: Float32Array;
  /** [m, n]; written in place when given (required content only when beta ≠ 0). */
  c?: Float32Array;
  /** [n], added to every row, not scaled by alpha. */
  bias?: Float32Array;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

export interface GemmBatchedOptions extends GemmOptions {
  batch: number;
  /** Elements between consecutive A matrices; 0 broadcasts one A. Default m·k. */
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

const MAX_STRIDE = 2 ** 53;

function parseGemm(fn: string, opts: unknown, batched: boolean): NativeGemmBatchedArgs {
  const v = new Validator(fn, opts);
  const batch = batched ? v.size('batch') : 1;
  const m = v.size('m');
  const n = v.size('n');
  const k = v.size('k');
  const transA = v.boolean('transA', false);
  const transB = v.boolean('transB', false);
  const alpha = v.number('alpha', 1);
  const beta = v.number('beta', 0);
  const mk = m * k, kn = k * n, mn = m * n;
  let a: Float32Array, b: Float32Array, c: Float32Array;
  let strideA = mk, strideB = kn, strideC = mn;
  if (!batched) {
    a = v.f32('a', mk, 'm·k');
    b = v.f32('b', kn, 'k·n');
    c = v.f32Out('c', mn, 'm·n');
  } else {
    strideA = v.integer('strideA', 0, MAX_STRIDE, mk);
    strideB = v.integer('strideB', 0, MAX_STRIDE, kn);
    strideC = v.integer('strideC', 0, MAX_STRIDE, mn);
    if (batch > 1 && strideC < mn) {
      throw new RangeError(`${fn}: expected strideC to be at least m·n = ${mn} (batch outputs must not overlap), received ${strideC}`);
    }
    const need = (stride: number, size: number): number => (batch - 1) * stride + size;
    a = v.f32AtLeast('a', need(strideA, mk), '(batch−1)·strideA + m·k');
    b = v.f32AtLeast('b', need(strideB, kn), '(batch−1)·strideB + k·n');
    c = v.raw('c') === undefined || v.raw('c') === null
      ? new Float32Array(need(strideC, mn))
      : v.f32AtLeast('c', need(strideC, mn), '(batch−1)·strideC + m·n');
  }
  const bias = v.f32Optional('bias', n, 'n');
  v.noOverlap('c', c, 'a', a);
  v.noOverlap('c', c, 'b', b);
  v.noOverlap('c', c, 'bias', bias);
  return { a, b, c, bias: bias ?? null, m, n, k, transA, transB, alpha, beta, batch, strideA, strideB, strideC };
}

function gemmArgs(p: NativeGemmBatchedArgs): NativeGemmArgs {
  const { a, b, c, bias, m, n, k, transA, transB, alpha, beta } = p;
  return { a, b, c, bias, m, n, k, transA, transB, alpha, beta };
}

const gemmOp = defineOp('gemm', (fn, opts: GemmOptions) => {
  const p = parseGemm(fn, opts, false);
  return { args: gemmArgs(p), result: () => p.c };
});

const gemmBatchedOp = defineOp('gemmBatched', (fn, opts: GemmBatchedOptions) => {
  const p = parseGemm(fn, opts, true);
  return { args: p, result: () => p.c };
});

/** C = alpha·op(A)·op(B) + beta·C + bias; returns C (the given `c`, or a new array). */
export const gemm = gemmOp.sync;
/** gemm off the event loop. Do not modify the inputs until the promise settles. */
export const gemmAsync = gemmOp.async;
export const gemmBatched = gemmBatchedOp.sync;
export const gemmBatchedAsync = gemmBatchedOp.async;

/** dBias[n] = column sums of dy [m, n] (the backward of the bias add). */
export function biasGrad(opts: { dy: Float32Array; m: number; n: number; dBias?: Float32Array }): Float32Array {
  const v = new Validator('biasGrad', opts);
  const m = v.size('m');
  const n = v.size('n');
  const dy = v.f32('dy', m * n, 'm·n');
  const dBias = v.f32Out('dBias', n, 'n');
  v.noOverlap('dBias', dBias, 'dy', dy);
  loadNative().biasGrad({ dy, dBias, m, n });
  return dBias;
}
