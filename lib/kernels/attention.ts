// lib/kernels/attention.ts — fused multi-head attention over packed variable-length sequences,
// forward and backward (native/core/include/merclip/attention.h).
// Layout (FlashAttention's varlen layout): q [Tq, ·] holds the valid query rows of all `batch`
// samples one after the other, sample b owning rows cuSeqlensQ[b] … cuSeqlensQ[b+1] − 1; head h
// is columns h·headDim … h·headDim + headDim − 1 of a row; rows are qStride floats apart
// (default heads·headDim, so a [T, d] projection is used in place). k, v [Tk, ·] likewise with
// cuSeqlensK. out (and dOut, dq) [Tq, heads·headDim], dk / dv [Tk, heads·headDim], lse
// [heads, Tq]. A padded [B, L] batch is the case cuSeqlens = b·L.
// S = scale·QKᵀ within a sample (scale defaults to 1/√headDim); `causal`: query i of a sample
// sees that sample's keys 0…i. A query whose sample has no keys gets out = 0, lse = +Infinity
// and zero gradients. The forward saves lse for the backward, which recomputes the
// probabilities: the lq × lk score matrix is never stored.
import { defineOp } from './op.js';
import { Validator, MAX_DIM } from './validate.js';
import { argRangeError } from './errors.js';

export const MAX_HEAD_DIM = 256;

export interface AttentionShape {
  /** Samples B. */
  batch: number;
  heads: number;
  headDim: number;
  /** [batch + 1] query row offsets: 0 = c[0] <= c[1] <= … <= c[batch] = Tq. */
  cuSeqlensQ: Int32Array;
  /** [batch + 1] key / value row offsets (Tk = c[batch]). */
  cuSeqlensK: Int32Array;
  /** At least every sample's query length, at most Tq. Default: the longest sample. */
  maxSeqlenQ?: number;
  /** Likewise for the keys. */
  maxSeqlenK?: number;
  /** Row strides (floats) of q, k, v; each >= heads·headDim (the default). */
  qStride?: number;
  kStride?: number;
  vStride?: number;
  /** Default 1/√headDim. */
  scale?: number;
  /** Default false. */
  causal?: boolean;
}

export interface AttentionForwardOptions extends AttentionShape {
  /** [Tq, ·]: Tq·heads·headDim floats (dense), or at least (Tq − 1)·qStride + heads·headDim */
  q: Float32Array;
  /** [Tk, ·] */
  k: Float32Array;
  /** [Tk, ·] */
  v: Float32Array;
  /** [Tq, heads·headDim] */
  out?: Float32Array;
  /** [heads, Tq] */
  lse?: Float32Array;
}

export interface AttentionBackwardOptions extends AttentionShape {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** The forward's out and lse. */
  out: Float32Array;
  lse: Float32Array;
  /** Gradient of the loss with respect to out, [Tq, heads·headDim]. */
  dOut: Float32Array;
  /** [Tq, heads·headDim] */
  dq?: Float32Array;
  /** [Tk, heads·headDim] */
  dk?: Float32Array;
  dv?: Float32Array;
}

interface ParsedShape {
  batch: number; heads: number; headDim: number; maxSeqlenQ: number; maxSeqlenK: number;
  cuSeqlensQ: Int32Array; cuSeqlensK: Int32Array; qStride: number; kStride: number; vStride: number;
  scale: number; causal: boolean;
  tq: number; tk: number; width: number;
}

/** Longest sample of an offsets array (0 for an empty one). */
export function maxSeqlen(cu: Int32Array): number {
  let m = 0;
  for (let b = 0; b + 1 < cu.length; b++) m = Math.max(m, cu[b + 1]! - cu[b]!);
  return m;
}

// cu[0] = 0, cu[b] <= cu[b+1] <= cu[b] + maxLen, maxLen <= cu[batch]; returns the total.
function checkOffsets(v: Validator, name: string, maxName: string, cu: Int32Array, maxLen: number): number {
  if (cu[0] !== 0) throw argRangeError(v.fn, `${name}[0] to be an integer in [0, 0]`, String(cu[0]));
  for (let b = 0; b + 1 < cu.length; b++) {
    const lo = cu[b]!, hi = Math.min(lo + maxLen, MAX_DIM), x = cu[b + 1]!;
    if (x < lo || x > hi) throw argRangeError(v.fn, `${name}[${b + 1}] to be an integer in [${lo}, ${hi}]`, String(x));
  }
  const total = cu[cu.length - 1]!;
  if (maxLen > total) throw argRangeError(v.fn, `${maxName} to be an integer in [0, ${total}] (the total length)`, String(maxLen));
  return total;
}

// Same order as native/binding/attention.cc, so both layers report the same first error.
function parseShape(v: Validator): ParsedShape {
  const batch = v.size('batch');
  const heads = v.size('heads');
  const headDim = v.integer('headDim', 1, MAX_HEAD_DIM);
  const cuQRaw = v.raw('cuSeqlensQ'), cuKRaw = v.raw('cuSeqlensK');
  const guess = (raw: unknown): number | undefined => (raw instanceof Int32Array && raw.length === batch + 1 ? maxSeqlen(raw) : undefined);
  const maxSeqlenQ = v.integer('maxSeqlenQ', 0, MAX_DIM, guess(cuQRaw) ?? 0);
  const maxSeqlenK = v.integer('maxSeqlenK', 0, MAX_DIM, guess(cuKRaw) ?? 0);
  const cuSeqlensQ = v.i32('cuSeqlensQ', batch + 1, 'batch + 1');
  const tq = checkOffsets(v, 'cuSeqlensQ', 'maxSeqlenQ', cuSeqlensQ, maxSeqlenQ);
  const cuSeqlensK = v.i32('cuSeqlensK', batch + 1, 'batch + 1');
  const tk = checkOffsets(v, 'cuSeqlensK', 'maxSeqlenK', cuSeqlensK, maxSeqlenK);
  const width = heads * headDim;
  const qStride = v.integer('qStride', width, MAX_DIM, width);
  const kStride = v.integer('kStride', width, MAX_DIM, width);
  const vStride = v.integer('vStride', width, MAX_DIM, width);
  const scale = v.number('scale', 1 / Math.sqrt(headDim));
  const causal = v.boolean('causal', false);
  return {
    batch, heads, headDim, maxSeqlenQ, maxSeqlenK, cuSeqlensQ, cuSeqlensK, qStride, kStride, vStride,
    scale, causal, tq, tk, width,
  };
}

const strided = (rows: number, stride: number, width: number): number => (rows === 0 ? 0 : (rows - 1) * stride + width);
const WHAT_O = 'Tq·heads·headDim';
const WHAT_K = 'Tk·heads·headDim';

function inputs(v: Validator, s: ParsedShape): { q: Float32Array; k: Float32Array; vv: Float32Array } {
  // dense rows: exactly T rows; strided: at least up to the last row's heads (a view into a
  // wider projection may run on past them) — as native/binding/attention.cc
  const input = (name: string, rows: number, stride: number, what: string): Float32Array =>
    (stride === s.width ? v.f32(name, strided(rows, stride, s.width), what) : v.f32AtLeast(name, strided(rows, stride, s.width), what));
  const q = input('q', s.tq, s.qStride, '(Tq − 1)·qStride + heads·headDim');
  const k = input('k', s.tk, s.kStride, '(Tk − 1)·kStride + heads·headDim');
  const vv = input('v', s.tk, s.vStride, '(Tk − 1)·vStride + heads·headDim');
  return { q, k, vv };
}

function nativeShape(s: ParsedShape) {
  const { batch, heads, headDim, maxSeqlenQ, maxSeqlenK, cuSeqlensQ, cuSeqlensK, qStride, kStride, vStride, scale, causal } = s;
  return { batch, heads, headDim, maxSeqlenQ, maxSeqlenK, cuSeqlensQ, cuSeqlensK, qStride, kStride, vStride, scale, causal };
}

const attentionForwardOp = defineOp('attentionForward', (fn, opts: AttentionForwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseShape(v);
  const { q, k, vv } = inputs(v, s);
  const out = v.f32Out('out', s.tq * s.width, WHAT_O);
  const lse = v.f32Out('lse', s.heads * s.tq, 'heads·Tq');
  v.disjoint([['out', out], ['lse', lse]], [['q', q], ['k', k], ['v', vv]]);
  return {
    args: { q, k, v: vv, out, lse, ...nativeShape(s) },
    result: () => ({ out, lse }),
  };
});

const attentionBackwardOp = defineOp('attentionBackward', (fn, opts: AttentionBackwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseShape(v);
  const { q, k, vv } = inputs(v, s);
  const out = v.f32('out', s.tq * s.width, WHAT_O);
  const lse = v.f32('lse', s.heads * s.tq, 'heads·Tq');
  const dOut = v.f32('dOut', s.tq * s.width, WHAT_O);
  const dq = v.f32Out('dq', s.tq * s.width, WHAT_O);
  const dk = v.f32Out('dk', s.tk * s.width, WHAT_K);
  const dv = v.f32Out('dv', s.tk * s.width, WHAT_K);
  v.disjoint([['dq', dq], ['dk', dk], ['dv', dv]], [['q', q], ['k', k], ['v', vv], ['out', out], ['lse', lse], ['dOut', dOut]]);
  return {
    args: { q, k, v: vv, out, lse, dOut, dq, dk, dv, ...nativeShape(s) },
    result: () => ({ dq, dk, dv }),
  };
});

/** Fused attention forward: { out [Tq, heads·headDim], lse [heads, Tq] }. */
export const attentionForward = attentionForwardOp.sync;
export const attentionForwardAsync = attentionForwardOp.async;
/** Fused attention backward: { dq, dk, dv }. */
export const attentionBackward = attentionBackwardOp.sync;
export const attentionBackwardAsync = attentionBackwardOp.async;
