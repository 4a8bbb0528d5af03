// lib/reference/attention.ts — float64 reference multi-head attention (SPEC §3), forward and
// backward, with the full Lq × Lk score matrix of each (batch, head) held in memory.
//
// Layout [B, H, L, Dh] row-major: q [B,H,Lq,Dh], k and v [B,H,Lk,Dh], out [B,H,Lq,Dh], lse [B,H,Lq].
//   S_ij = scale · <q_i, k_j>   (scale default 1/√Dh)
//   key j is masked for batch b when j ≥ keyLengths[b] (key padding), and for query i when
//   causal and j > i (no Lk − Lq offset: query i sees keys 0 … i even when Lq ≠ Lk);
//   P_ij = exp(S_ij − lse_i) over unmasked j (0 elsewhere), lse_i = log Σ_{j unmasked} exp(S_ij),
//   out_i = Σ_j P_ij v_j.
// A query row with every key masked gives out_i = 0, lse_i = +Infinity and zero gradients.
// Backward (the vector–Jacobian product of out with dOut):
//   dV_j = Σ_i P_ij dO_i,  dP_ij = <dO_i, v_j>,  D_i = Σ_j P_ij dP_ij,  dS_ij = P_ij (dP_ij − D_i),
//   dQ_i = scale · Σ_j dS_ij k_j,  dK_j = scale · Σ_i dS_ij q_i.
// The backward recomputes P from q, k (it accepts the forward's out and lse, as the kernels
// do, and only checks their lengths): the oracle depends on nothing a kernel produced.
//
// Contract: native/core/include/merclip/attention.h. Inputs are any ArrayLike<number>;
// keyLengths any ArrayLike<number> of integers; results are new Float64Arrays. Plain loops with
// double accumulators — this is what lib/kernels/attention.ts is tested against.
//
// Also memoryAttentionForward (end of file): a few query rows per sample over that sample's rows
// of a packed memory that is both keys and values (merclip/memory_attention.h).

import { checkLength, checkSize } from './check.js';

export interface AttentionRefOptions {
  /** [batch, heads, lq, headDim] */
  q: ArrayLike<number>;
  /** [batch, heads, lk, headDim] */
  k: ArrayLike<number>;
  /** [batch, heads, lk, headDim] */
  v: ArrayLike<number>;
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  headDim: number;
  /** Default 1/√headDim. */
  scale?: number | undefined;
  causal?: boolean | undefined;
  /** [batch], each in [0, lk]; null/undefined: no padding. */
  keyLengths?: ArrayLike<number> | null | undefined;
  /** [batch], each in [0, lq]: query rows past it are fully masked; null/undefined: none. */
  queryLengths?: ArrayLike<number> | null | undefined;
}

export interface AttentionBackwardRefOptions extends AttentionRefOptions {
  /** Gradient of the loss with respect to out, [batch, heads, lq, headDim]. */
  dOut: ArrayLike<number>;
  /** The forward's out (only its length is checked; P is recomputed). */
  out?: ArrayLike<number> | undefined;
  /** The forward's lse (only its length is checked). */
  lse?: ArrayLike<number> | undefined;
}

interface Resolved {
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  dh: number;
  scale: number;
  causal: boolean;
  /** Number of visible keys per batch (lk when unpadded). */
  kl: Int32Array;
  /** Number of real query rows per batch (lq when unpadded). */
  ql: Int32Array;
}

function resolve(fn: string, o: AttentionRefOptions): Resolved {
  const { batch, heads, lq, lk, headDim } = o;
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'heads', heads);
  checkSize(fn, 'lq', lq);
  checkSize(fn, 'lk', lk);
  checkSize(fn, 'headDim', headDim);
  const scale = o.scale ?? 1 / Math.sqrt(headDim);
  if (!Number.isFinite(scale)) throw new RangeError(`${fn}: expected scale to be a finite number, received ${String(scale)}`);
  const causal = o.causal ?? false;
  checkLength(fn, 'q', o.q, batch * heads * lq * headDim, 'batch·heads·lq·headDim');
  checkLength(fn, 'k', o.k, batch * heads * lk * headDim, 'batch·heads·lk·headDim');
  checkLength(fn, 'v', o.v, batch * heads * lk * headDim, 'batch·heads·lk·headDim');
  const lengths = (name: 'keyLengths' | 'queryLengths', hi: number): Int32Array => {
    const out = new Int32Array(batch).fill(hi);
    const given = o[name];
    if (given !== undefined && given !== null) {
      checkLength(fn, name, given, batch, 'batch');
      for (let b = 0; b < batch; b++) {
        const n = given[b]!;
        if (!Number.isInteger(n) || n < 0 || n > hi) {
          throw new RangeError(`${fn}: expected ${name}[${b}] to be an integer in [0, ${hi}], received ${String(n)}`);
        }
        out[b] = n;
      }
    }
    return out;
  };
  return { batch, heads, lq, lk, dh: headDim, scale, causal, kl: lengths('keyLengths', lk), ql: lengths('queryLengths', lq) };
}

/** Number of keys query i of batch b sees: keys 0 … visible − 1. */
function visible(r: Resolved, b: number, i: number): number {
  if (i >= r.ql[b]!) return 0; // a padding query row
  const n = r.kl[b]!;
  return r.causal ? Math.min(n, i + 1) : n;
}

// ---------------------------------------------------------------------------------------------
// Probabilities of one (batch, head) slice: P [lq, lk] (0 at masked entries) and lse [lq]
// (+Infinity for a fully masked row). qOff, kOff: element offsets of the slice in q and k.
function probabilities(
  r: Resolved, b: number, q: ArrayLike<number>, qOff: number, k: ArrayLike<number>, kOff: number,
): { p: Float64Array; lse: Float64Array } {
  const { lq, lk, dh, scale } = r;
  const p = new Float64Array(lq * lk);
  const lse = new Float64Array(lq);
  for (let i = 0; i < lq; i++) {
    const n = visible(r, b, i);
    if (n === 0) {
      lse[i] = Infinity; // fully masked: P row stays 0
      continue;
    }
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < dh; d++) s += q[qOff + i * dh + d]! * k[kOff + j * dh + d]!;
      s *= scale;
      p[i * lk + j] = s;
      if (s > m) m = s;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(p[i * lk + j]! - m); // max-shifted: no overflow
    const l = m + Math.log(sum);
    lse[i] = l;
    for (let j = 0; j < n; j++) p[i * lk + j] = Math.exp(p[i * lk + j]! - l);
  }
  return { p, lse };
}

// ---------------------------------------------------------------------------------------------
// attentionForward: q [B,H,Lq,Dh], k, v [B,H,Lk,Dh] → out [B,H,Lq,Dh], lse [B,H,Lq]
export function attentionForward(opts: AttentionRefOptions): { out: Float64Array; lse: Float64Array } {
  const r = resolve('reference.attentionForward', opts);
  const { batch, heads, lq, lk, dh } = r;
  const { q, k, v } = opts;
  const out = new Float64Array(batch * heads * lq * dh);
  const lse = new Float64Array(batch * heads * lq);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const bh = b * heads + h;
      const qOff = bh * lq * dh;
      const kOff = bh * lk * dh;
      const s = probabilities(r, b, q, qOff, k, kOff);
      lse.set(s.lse, bh * lq);
      for (let i = 0; i < lq; i++) {
        const n = visible(r, b, i);
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += s.p[i * lk + j]! * v[kOff + j * dh + d]!;
          out[qOff + i * dh + d] = acc;
        }
      }
    }
  }
  return { out, lse };
}

// ---------------------------------------------------------------------------------------------
// attentionBackward: dOut [B,H,Lq,Dh] (+ q, k, v) → dq [B,H,Lq,Dh], dk, dv [B,H,Lk,Dh]
export function attentionBackward(opts: AttentionBackwardRefOptions): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const fn = 'reference.attentionBackward';
  const r = resolve(fn, opts);
  const { batch, heads, lq, lk, dh, scale } = r;
  const { q, k, v, dOut } = opts;
  checkLength(fn, 'dOut', dOut, batch * heads * lq * dh, 'batch·heads·lq·headDim');
  if (opts.out !== undefined) checkLength(fn, 'out', opts.out, batch * heads * lq * dh, 'batch·heads·lq·headDim');
  if (opts.lse !== undefined) checkLength(fn, 'lse', opts.lse, batch * heads * lq, 'batch·heads·lq');

  const dq = new Float64Array(batch * heads * lq * dh);
  const dk = new Float64Array(batch * heads * lk * dh);
  const dv = new Float64Array(batch * heads * lk * dh);
  const ds = new Float64Array(lk);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const bh = b * heads + h;
      const qOff = bh * lq * dh;
      const kOff = bh * lk * dh;
      const { p } = probabilities(r, b, q, qOff, k, kOff);
      for (let i = 0; i < lq; i++) {
        const n = visible(r, b, i); // n = 0: nothing flows (zero gradients)
        // dP_ij = <dO_i, v_j>; D_i = Σ_j P_ij dP_ij (= <dO_i, out_i>)
        let D = 0;
        for (let j = 0; j < n; j++) {
          let dp = 0;
          for (let d = 0; d < dh; d++) dp += dOut[qOff + i * dh + d]! * v[kOff + j * dh + d]!;
          ds[j] = dp;
          D += p[i * lk + j]! * dp;
        }
        for (let j = 0; j < n; j++) {
          const pij = p[i * lk + j]!;
          const dsij = pij * (ds[j]! - D);
          for (let d = 0; d < dh; d++) {
            dv[kOff + j * dh + d] = dv[kOff + j * dh + d]! + pij * dOut[qOff + i * dh + d]!;
            dq[qOff + i * dh + d] = dq[qOff + i * dh + d]! + scale * dsij * k[kOff + j * dh + d]!;
            dk[kOff + j * dh + d] = dk[kOff + j * dh + d]! + scale * dsij * q[qOff + i * dh + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

// ---------------------------------------------------------------------------------------------
// memoryAttentionForward: q [B,R,D] over the packed memory x [T,D] (keys = values = x)
//
// Contract: native/core/include/merclip/memory_attention.h. Sample b owns the rows
// [off_b, off_b + lengths[b]) of x, off_b = Σ_{c<b} lengths[c], T = Σ lengths;
//   S_b[r, t] = scale · <q_b[r], x_{off_b + t}>   (scale default 1/√D)
//   lse[b, r] = log Σ_t exp(S_b[r, t]),  P = exp(S_b − lse),  out_b[r] = Σ_t P[r, t] x_{off_b + t}.
// A sample with length 0 gets out rows 0 and lse +Infinity. NaN anywhere in a sample's q rows
// or memory rows propagates to NaN in that sample's out (and lse) — never a finite number.
// Written independently of reference.attentionForward (its own loops), so the two can be
// checked against each other (k = v = x zero-padded per sample, keyLengths = lengths).

export interface MemoryAttentionRefOptions {
  /** [batch, rows, dim] */
  q: ArrayLike<number>;
  /** [Σ lengths, dim], packed: sample b's rows follow sample b − 1's. */
  x: ArrayLike<number>;
  /** [batch] memory rows per sample, integers ≥ 0. */
  lengths: ArrayLike<number>;
  batch: number;
  rows: number;
  dim: number;
  /** Default 1/√dim. */
  scale?: number | undefined;
}

export function memoryAttentionForward(opts: MemoryAttentionRefOptions): { out: Float64Array; lse: Float64Array } {
  const fn = 'reference.memoryAttentionForward';
  const { q, x, lengths, batch, rows, dim } = opts;
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'rows', rows);
  checkSize(fn, 'dim', dim);
  const scale = opts.scale ?? 1 / Math.sqrt(dim);
  if (!Number.isFinite(scale)) throw new RangeError(`${fn}: expected scale to be a finite number, received ${String(scale)}`);
  checkLength(fn, 'lengths', lengths, batch, 'batch');
  let total = 0;
  for (let b = 0; b < batch; b++) {
    const n = lengths[b]!;
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${fn}: expected lengths[${b}] to be an integer ≥ 0, received ${String(n)}`);
    total += n;
  }
  checkLength(fn, 'q', q, batch * rows * dim, 'batch·rows·dim');
  checkLength(fn, 'x', x, total * dim, 'Σ lengths·dim');

  const out = new Float64Array(batch * rows * dim);
  const lse = new Float64Array(batch * rows);
  let off = 0; // first memory row of sample b
  for (let b = 0; b < batch; b++) {
    const n = lengths[b]!;
    const s = new Float64Array(n);
    for (let r = 0; r < rows; r++) {
      const qo = (b * rows + r) * dim;
      if (n === 0) {
        lse[b * rows + r] = Infinity; // out row stays 0
        continue;
      }
      let m = -Infinity;
      for (let t = 0; t < n; t++) {
        let acc = 0;
        for (let d = 0; d < dim; d++) acc += q[qo + d]! * x[(off + t) * dim + d]!;
        s[t] = scale * acc;
        if (s[t]! > m) m = s[t]!;
      }
      let sum = 0;
      for (let t = 0; t < n; t++) sum += Math.exp(s[t]! - m); // max-shifted: no overflow
      const l = m + Math.log(sum);
      lse[b * rows + r] = l;
      for (let t = 0; t < n; t++) {
        const p = Math.exp(s[t]! - l);
        for (let d = 0; d < dim; d++) out[qo + d] = out[qo + d]! + p * x[(off + t) * dim + d]!;
      }
    }
    off += n;
  }
  return { out, lse };
}
