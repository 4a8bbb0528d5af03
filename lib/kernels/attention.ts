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
