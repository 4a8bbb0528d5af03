// lib/reference/memoryAttention.ts — float64 reference memory attention, forward only: q [B,R,D]
// over the packed memory x [T,D] (keys = values = x).
//
// Contract: native/core/include/merclip/memory_attention.h. Sample b owns the rows
// [off_b, off_b + lengths[b]) of x, off_b = Σ_{c<b} lengths[c], T = Σ lengths;
//   S_b[r, t] = scale · <q_b[r], x_{off_b + t}>   (scale default 1/√D)
//   lse[b, r] = log Σ_t exp(S_b[r, t]),  P = exp(S_b − lse),  out_b[r] = Σ_t P[r, t] x_{off_b + t}.
// A sample with length 0 gets out rows 0 and lse +Infinity. NaN anywhere in a sample's q rows
// or memory rows propagates to NaN in that sample's out (and lse) — never a finite number.
// Written independently of reference.attentionForward (its own loops), so the two can be
// checked against each other (k = v = x zero-padded per sample, keyLengths = lengths).

import { checkLength, checkSize } from './check.js';

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
