// lib/kernels/memoryAttention.ts — memory attention: R query rows per sample over that sample's
// packed memory rows, which are both keys and values (the decoder's cross-attention with its
// key/value projections absorbed into the queries and the output;
// native/core/include/merclip/memory_attention.h, binding native/binding/memory_attention.cc).
//   q [batch, rows, dim]; x [T, dim] packed, sample b owning rows off_b … off_b + lengths[b];
//   S_b = scale·q_b x_bᵀ, P = softmax_rows(S_b), out_b = P x_b; lse [batch, rows].
// A sample with length 0 gets out 0, lse +Infinity and no gradient. The backward's dq is
// overwritten; dx is overwritten, or added to with `accumulate`.
import { defineOp } from './op.js';
import { Validator } from './validate.js';

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

// Same order as native/binding/memory_attention.cc.
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
