// lib/reference/attention.ts — float64 reference multi-head attention (SPEC §3), forward and
// backward, with the full Lq × Lk score matrix of each (sample, head) held in memory.
//
// Packed layout (native/core/include/merclip/attention.h): q [Tq, ·], k and v [Tk, ·]; sample b
// owns query rows cuSeqlensQ[b] … cuSeqlensQ[b+1] − 1 and key rows cuSeqlensK[b] … ; head h is
// columns h·Dh … h·Dh + Dh − 1 of a row, rows qStride / kStride / vStride apart (default H·Dh).
// out [Tq, H·Dh], lse [H, Tq]. Within sample b, for its queries i and keys j:
//   S_ij = scale · <q_i, k_j>   (scale default 1/√Dh)
//   key j is masked for query i when causal and j > i (no Lk − Lq offset: query i sees keys
//   0 … i even when the sample's Lq ≠ Lk); keys of other samples are never seen;
//   P_ij = exp(S_ij − lse_i) over unmasked j (0 elsewhere), lse_i = log Σ_{j unmasked} exp(S_ij),
//   out_i = Σ_j P_ij v_j.
// A query row that sees no key gives out_i = 0, lse_i = +Infinity and zero gradients.
// Backward (the vector–Jacobian product of out with dOut [Tq, H·Dh]):
//   dV_j = Σ_i P_ij dO_i,  dP_ij = <dO_i, v_j>,  D_i = Σ_j P_ij dP_ij,  dS_ij = P_ij (dP_ij − D_i),
//   dQ_i = scale · Σ_j dS_ij k_j,  dK_j = scale · Σ_i dS_ij q_i   (dq [Tq, H·Dh], dk, dv [Tk, H·Dh]).
// The backward recomputes P from q, k (it accepts the forward's out and lse, as the kernels
// do, and only checks their lengths): the oracle depends on nothing a kernel produced.
//
// Inputs are any ArrayLike<number>; offsets any ArrayLike<number> of integers; results are new
// Float64Arrays. Plain loops with double accumulators — this is what lib/kernels/attention.ts
// is tested against.

import { checkLength, checkMinLength, checkSize } from './check.js';

export interface AttentionRefOptions {
  /** [Tq, ·] */
  q: ArrayLike<number>;
  /** [Tk, ·] */
  k: ArrayLike<number>;
  /** [Tk, ·] */
  v: ArrayLike<number>;
  batch: number;
  heads: number;
  headDim: number;
  /** [batch + 1] query row offsets, 0 = c[0] <= … <= c[batch] = Tq. */
  cuSeqlensQ: ArrayLike<number>;
  /** [batch + 1] key row offsets. */
  cuSeqlensK: ArrayLike<number>;
  /** Row strides of q, k, v; default heads·headDim. */
  qStride?: number | undefined;
  kStride?: number | undefined;
  vStride?: number | undefined;
  /** Default 1/√headDim. */
  scale?: number | undefined;
  causal?: boolean | undefined;
}

export interface AttentionBackwardRefOptions extends AttentionRefOptions {
  /** Gradient of the loss with respect to out, [Tq, heads·headDim]. */
  dOut: ArrayLike<number>;
  /** The forward's out (only its length is checked; P is recomputed). */
  out?: ArrayLike<number> | undefined;
  /** The forward's lse (only its length is checked). */
  lse?: ArrayLike<number> | undefined;
}

interface Resolved {
  batch: number;
  heads: number;
  dh: number;
  scale: number;
  causal: boolean;
  cq: Int32Array;
  ck: Int32Array;
  tq: number;
  tk: number;
  qs: number;
  ks: number;
  vs: number;
}

function offsets(fn: string, name: string, given: ArrayLike<number>, batch: number): Int32Array {
  checkLength(fn, name, given, batch + 1, 'batch + 1');
  const out = new Int32Array(batch + 1);
  for (let b = 0; b <= batch; b++) {
    const c = given[b]!;
    const lo = b === 0 ? 0 : out[b - 1]!;
    if (!Number.isInteger(c) || c < lo || (b === 0 && c !== 0)) {
      throw new RangeError(`${fn}: expected ${name}[${b}] to be an integer ≥ ${lo}${b === 0 ? ' (0)' : ''}, received ${String(c)}`);
    }
    out[b] = c;
  }
  return out;
}

function resolve(fn: string, o: AttentionRefOptions): Resolved {
  const { batch, heads, headDim } = o;
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'heads', heads);
  checkSize(fn, 'headDim', headDim);
  const scale = o.scale ?? 1 / Math.sqrt(headDim);
  if (!Number.isFinite(scale)) throw new RangeError(`${fn}: expected scale to be a finite number, received ${String(scale)}`);
  const causal = o.causal ?? false;
  const cq = offsets(fn, 'cuSeqlensQ', o.cuSeqlensQ, batch);
  const ck = offsets(fn, 'cuSeqlensK', o.cuSeqlensK, batch);
  const tq = cq[batch]!, tk = ck[batch]!;
  const w = heads * headDim;
  const stride = (name: string, v: number | undefined): number => {
    const st = v ?? w;
    if (!Number.isInteger(st) || st < w) throw new RangeError(`${fn}: expected ${name} to be an integer ≥ ${w}, received ${String(st)}`);
    return st;
  };
  const qs = stride('qStride', o.qStride), ks = stride('kStride', o.kStride), vs = stride('vStride', o.vStride);
  const need = (rows: number, st: number): number => (rows === 0 ? 0 : (rows - 1) * st + w);
  checkMinLength(fn, 'q', o.q, need(tq, qs), '(Tq − 1)·qStride + heads·headDim');
  checkMinLength(fn, 'k', o.k, need(tk, ks), '(Tk − 1)·kStride + heads·headDim');
  checkMinLength(fn, 'v', o.v, need(tk, vs), '(Tk − 1)·vStride + heads·headDim');
  return { batch, heads, dh: headDim, scale, causal, cq, ck, tq, tk, qs, ks, vs };
}

/** Number of keys query i (of a sample with n keys) sees: keys 0 … visible − 1. */
function visible(r: Resolved, n: number, i: number): number {
  return r.causal ? Math.min(n, i + 1) : n;
}

// ---------------------------------------------------------------------------------------------
// Probabilities of one (sample, head): P [lq, lk] (0 at masked entries) and lse [lq] (+Infinity
// for a row that sees no key).
function probabilities(r: Resolved, b: number, h: number, q: ArrayLike<number>, k: ArrayLike<number>): { p: Float64Array; lse: Float64Array; lq: number; lk: number } {
  const { dh, scale } = r;
  const q0 = r.cq[b]!, lq = r.cq[b + 1]! - q0, k0 = r.ck[b]!, lk = r.ck[b + 1]! - k0;
  const p = new Float64Array(lq * lk);
  const lse = new Float64Array(lq);
  for (let i = 0; i < lq; i++) {
    const n = visible(r, lk, i);
    if (n === 0) {
      lse[i] = Infinity; // no key: P row stays 0
      continue;
    }
    const qo = (q0 + i) * r.qs + h * dh;
    let m = -Infinity;
    for (let j = 0; j < n; j++) {
      const ko = (k0 + j) * r.ks + h * dh;
      let s = 0;
      for (let d = 0; d < dh; d++) s += q[qo + d]! * k[ko + d]!;
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
  return { p, lse, lq, lk };
}

// ---------------------------------------------------------------------------------------------
// attentionForward: q [Tq, ·], k, v [Tk, ·] → out [Tq, H·Dh], lse [H, Tq]
export function attentionForward(opts: AttentionRefOptions): { out: Float64Array; lse: Float64Array } {
  const r = resolve('reference.attentionForward', opts);
  const { batch, heads, dh, tq } = r;
  const { q, k, v } = opts;
  const w = heads * dh;
  const out = new Float64Array(tq * w);
  const lse = new Float64Array(heads * tq);
  for (let b = 0; b < batch; b++) {
    const q0 = r.cq[b]!, k0 = r.ck[b]!;
    for (let h = 0; h < heads; h++) {
      const s = probabilities(r, b, h, q, k);
      lse.set(s.lse, h * tq + q0);
      for (let i = 0; i < s.lq; i++) {
        const n = visible(r, s.lk, i);
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += s.p[i * s.lk + j]! * v[(k0 + j) * r.vs + h * dh + d]!;
          out[(q0 + i) * w + h * dh + d] = acc;
        }
      }
    }
  }
  return { out, lse };
}

// ---------------------------------------------------------------------------------------------
// attentionBackward: dOut [Tq, H·Dh] (+ q, k, v) → dq [Tq, H·Dh], dk, dv [Tk, H·Dh]
export function attentionBackward(opts: AttentionBackwardRefOptions): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const fn = 'reference.attentionBackward';
  const r = resolve(fn, opts);
  const { batch, heads, dh, scale, tq, tk } = r;
  const { q, k, v, dOut } = opts;
  const w = heads * dh;
  checkLength(fn, 'dOut', dOut, tq * w, 'Tq·heads·headDim');
  if (opts.out !== undefined) checkLength(fn, 'out', opts.out, tq * w, 'Tq·heads·headDim');
  if (opts.lse !== undefined) checkLength(fn, 'lse', opts.lse, heads * tq, 'heads·Tq');

  const dq = new Float64Array(tq * w);
  const dk = new Float64Array(tk * w);
  const dv = new Float64Array(tk * w);
  for (let b = 0; b < batch; b++) {
    const q0 = r.cq[b]!, k0 = r.ck[b]!;
    for (let h = 0; h < heads; h++) {
      const { p, lq, lk } = probabilities(r, b, h, q, k);
      const ds = new Float64Array(lk);
      for (let i = 0; i < lq; i++) {
        const n = visible(r, lk, i); // n = 0: nothing flows (zero gradients)
        const go = (q0 + i) * w + h * dh, qo = (q0 + i) * r.qs + h * dh;
        // dP_ij = <dO_i, v_j>; D_i = Σ_j P_ij dP_ij (= <dO_i, out_i>)
        let D = 0;
        for (let j = 0; j < n; j++) {
          const vo = (k0 + j) * r.vs + h * dh;
          let dp = 0;
          for (let d = 0; d < dh; d++) dp += dOut[go + d]! * v[vo + d]!;
          ds[j] = dp;
          D += p[i * lk + j]! * dp;
        }
        for (let j = 0; j < n; j++) {
          const pij = p[i * lk + j]!;
          const dsij = pij * (ds[j]! - D);
          const ko = (k0 + j) * r.ks + h * dh, gk = (k0 + j) * w + h * dh;
          for (let d = 0; d < dh; d++) {
            dv[gk + d] = dv[gk + d]! + pij * dOut[go + d]!;
            dq[go + d] = dq[go + d]! + scale * dsij * k[ko + d]!;
            dk[gk + d] = dk[gk + d]! + scale * dsij * q[qo + d]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
