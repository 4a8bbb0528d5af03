// lib/kernels/attention.ts — fused multi-head attention, forward and backward.
// Layout [batch, heads, len, headDim]; S = scale·QKᵀ (scale defaults to 1/√headDim); keys at or
// past keyLengths[b] are masked (padding); `causal` masks keys after the query position (query i
// sees keys 0…i). A query whose keys are all masked gets out = 0, lse = +Infinity and zero
// gradients. The forward saves lse [batch, heads, lq] for the backward, which recomputes the
// probabilities: the lq × lk score matrix is never stored.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

export const MAX_HEAD_DIM = 256;

export interface AttentionShape {
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  headDim: number;
  /** Default 1/√headDim. */
  scale?: number;
  /** Default false. */
  causal?: boolean;
  /** [batch]: valid keys per batch item, each in [0, lk]; omitted → all keys valid. */
  keyLengths?: Int32Array | null;
  /**
   * [batch]: valid query rows per batch item, each in [0, lq]; rows past it are padding — not
   * computed, written as fully masked rows (out 0, lse +inf, no gradient). Omitted → all rows.
   */
  queryLengths?: Int32Array | null;
}

export interface AttentionForwardOptions extends AttentionShape {
  /** [batch, heads, lq, headDim] */
  q: Float32Array;
  /** [batch, heads, lk, headDim] */
  k: Float32Array;
  /** [batch, heads, lk, headDim] */
  v: Float32Array;
  out?: Float32Array;
  lse?: Float32Array;
}

export interface AttentionBackwardOptions extends AttentionShape {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** The forward's out and lse. */
  out: Float32Array;
  lse: Float32Array;
  /** Gradient of the loss with respect to out. */
  dOut: Float32Array;
  dq?: Float32Array;
  dk?: Float32Array;
  dv?: Float32Array;
}

interface ParsedShape {
  batch: number; heads: number; lq: number; lk: number; headDim: number;
  scale: number; causal: boolean; keyLengths: Int32Array | null; queryLengths: Int32Array | null;
  nq: number; nk: number; nl: number;
}

// Same order as native/binding/attention.cc, so both layers report the same first error.
function parseShape(v: Validator): ParsedShape {
  const batch = v.size('batch');
  const heads = v.size('heads');
  const lq = v.size('lq');
  const lk = v.size('lk');
  const headDim = v.integer('headDim', 1, MAX_HEAD_DIM);
  const scale = v.number('scale', 1 / Math.sqrt(headDim));
  const causal = v.boolean('causal', false);
  const lengths = (name: string, hi: number): Int32Array | null => {
    const raw = v.raw(name);
    if (raw === undefined || raw === null) return null;
    const arr = v.i32(name, batch, 'batch');
    v.indices(name, arr, 0, hi);
    return arr;
  };
  const keyLengths = lengths('keyLengths', lk);
  const queryLengths = lengths('queryLengths', lq);
  return {
    batch, heads, lq, lk, headDim, scale, causal, keyLengths, queryLengths,
    nq: batch * heads * lq * headDim, nk: batch * heads * lk * headDim, nl: batch * heads * lq,
  };
}

const WHAT_Q = 'batch·heads·lq·headDim';
const WHAT_K = 'batch·heads·lk·headDim';
const WHAT_L = 'batch·heads·lq';

const attentionForwardOp = defineOp('attentionForward', (fn, opts: AttentionForwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseShape(v);
  const q = v.f32('q', s.nq, WHAT_Q);
  const k = v.f32('k', s.nk, WHAT_K);
  const vv = v.f32('v', s.nk, WHAT_K);
  const out = v.f32Out('out', s.nq, WHAT_Q);
  const lse = v.f32Out('lse', s.nl, WHAT_L);
  v.disjoint([['out', out], ['lse', lse]], [['q', q], ['k', k], ['v', vv]]);
  const { batch, heads, lq, lk, headDim, scale, causal, keyLengths, queryLengths } = s;
  return {
    args: { q, k, v: vv, out, lse, batch, heads, lq, lk, headDim, scale, causal, keyLengths, queryLengths },
    result: () => ({ out, lse }),
  };
});

const attentionBackwardOp = defineOp('attentionBackward', (fn, opts: AttentionBackwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseShape(v);
  const q = v.f32('q', s.nq, WHAT_Q);
  const k = v.f32('k', s.nk, WHAT_K);
  const vv = v.f32('v', s.nk, WHAT_K);
  const out = v.f32('out', s.nq, WHAT_Q);
  const lse = v.f32('lse', s.nl, WHAT_L);
  const dOut = v.f32('dOut', s.nq, WHAT_Q);
  const dq = v.f32Out('dq', s.nq, WHAT_Q);
  const dk = v.f32Out('dk', s.nk, WHAT_K);
  const dv = v.f32Out('dv', s.nk, WHAT_K);
  v.disjoint([['dq', dq], ['dk', dk], ['dv', dv]], [['q', q], ['k', k], ['v', vv], ['out', out], ['lse', lse], ['dOut', dOut]]);
  const { batch, heads, lq, lk, headDim, scale, causal, keyLengths, queryLengths } = s;
  return {
    args: { q, k, v: vv, out, lse, dOut, dq, dk, dv, batch, heads, lq, lk, headDim, scale, causal, keyLengths, queryLengths },
    result: () => ({ dq, dk, dv }),
  };
});

/** Fused attention forward: { out [B,H,Lq,Dh], lse [B,H,Lq] }. */
export const attentionForward = attentionForwardOp.sync;
export const attentionForwardAsync = attentionForwardOp.async;
/** Fused attention backward: { dq, dk, dv }. */
export const attentionBackward = attentionBackwardOp.sync;
export const attentionBackwardAsync = attentionBackwardOp.async;

// ---------------------------------------------------------------------------------------------
// Memory attention: R query rows per sample over that sample's packed memory rows, which are
// both keys and values (the decoder's cross-attention with its key/value projections absorbed
// into the queries and the output; native/core/include/merclip/memory_attention.h).
//   q [batch, rows, dim]; x [T, dim] packed, sample b owning rows off_b … off_b + lengths[b];
//   S_b = scale·q_b x_bᵀ, P = softmax_rows(S_b), out_b = P x_b; lse [batch, rows].
// A sample with length 0 gets out 0, lse +Infinity and no gradient.

export interface MemoryAttentionShape {
  batch: number;
  rows: number;
  dim: number;
  /** Default 1/√dim. */
  scale?: number;
  /** [batch] memory rows per sample (≥ 0); x holds Σ lengths rows. */
  lengths: Int32Array;
}

export interface MemoryAttentionForwardOptions extends MemoryAttentionShape {
  /** [batch, rows, dim] */
  q: Float32Array;
  /** [Σ lengths, dim] */
  x: Float32Array;
  out?: Float32Array;
  lse?: Float32Array;
}

export interface MemoryAttentionBackwardOptions extends MemoryAttentionShape {
  q: Float32Array;
  x: Float32Array;
  /** The forward's out and lse. */
  out: Float32Array;
  lse: Float32Array;
  dOut: Float32Array;
  dq?: Float32Array;
  /** [Σ lengths, dim]; overwritten, or added to with `accumulate`. */
  dx?: Float32Array;
  accumulate?: boolean;
}

interface ParsedMemory { batch: number; rows: number; dim: number; scale: number; lengths: Int32Array; nq: number; nx: number }

// Same order as native/binding/attention.cc.
function parseMemory(v: Validator): ParsedMemory {
  const batch = v.size('batch');
  const rows = v.size('rows');
  const dim = v.size('dim');
  const scale = v.number('scale', 1 / Math.sqrt(dim));
  const lengths = v.i32('lengths', batch, 'batch');
  v.indices('lengths', lengths, 0, 2 ** 31 - 1);
  let total = 0;
  for (const l of lengths) total += l;
  return { batch, rows, dim, scale, lengths, nq: batch * rows * dim, nx: total * dim };
}

const WHAT_MQ = 'batch·rows·dim';
const WHAT_MX = 'Σ lengths·dim';

const memoryAttentionForwardOp = defineOp('memoryAttentionForward', (fn, opts: MemoryAttentionForwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseMemory(v);
  const q = v.f32('q', s.nq, WHAT_MQ);
  const x = v.f32('x', s.nx, WHAT_MX);
  const out = v.f32Out('out', s.nq, WHAT_MQ);
  const lse = v.f32Out('lse', s.batch * s.rows, 'batch·rows');
  v.disjoint([['out', out], ['lse', lse]], [['q', q], ['x', x]]);
  const { batch, rows, dim, scale, lengths } = s;
  return { args: { q, x, out, lse, batch, rows, dim, scale, lengths }, result: () => ({ out, lse }) };
});

const memoryAttentionBackwardOp = defineOp('memoryAttentionBackward', (fn, opts: MemoryAttentionBackwardOptions) => {
  const v = new Validator(fn, opts);
  const s = parseMemory(v);
  const accumulate = v.boolean('accumulate', false);
  const q = v.f32('q', s.nq, WHAT_MQ);
  const x = v.f32('x', s.nx, WHAT_MX);
  const out = v.f32('out', s.nq, WHAT_MQ);
  const lse = v.f32('lse', s.batch * s.rows, 'batch·rows');
  const dOut = v.f32('dOut', s.nq, WHAT_MQ);
  const dq = v.f32Out('dq', s.nq, WHAT_MQ);
  const dx = accumulate ? v.f32('dx', s.nx, WHAT_MX) : v.f32Out('dx', s.nx, WHAT_MX);
  v.disjoint([['dq', dq], ['dx', dx]], [['q', q], ['x', x], ['out', out], ['lse', lse], ['dOut', dOut]]);
  const { batch, rows, dim, scale, lengths } = s;
  return {
    args: { q, x, out, lse, dOut, dq, dx, batch, rows, dim, scale, lengths, accumulate },
    result: () => ({ dq, dx }),
  };
});

/** Memory attention forward: { out [batch, rows, dim], lse [batch, rows] }. */
export const memoryAttentionForward = memoryAttentionForwardOp.sync;
export const memoryAttentionForwardAsync = memoryAttentionForwardOp.async;
/** Memory attention backward: { dq, dx }. */
export const memoryAttentionBackward = memoryAttentionBackwardOp.sync;
export const memoryAttentionBackwardAsync = memoryAttentionBackwardOp.async;
