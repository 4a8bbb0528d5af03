// lib/reference/cosine.ts — float64 reference cosine similarity (SPEC §3): the batched form, the
// paired form (the prediction head) and top-k, forward and backward side by side.
//
//   out[i, j] = scale · <x_i, e_j> · rx_i · re_j,   rx_i = 1 / max(‖x_i‖, eps),  re_j likewise
//
// A vector shorter than eps is divided by eps instead of its norm (a zero vector has cosine 0
// with everything, never NaN); in the backward that clamped normalisation is a constant, so the
// projection term is dropped ([‖x_i‖ > eps] below), as in PyTorch's F.normalize(x, eps=…):
//   dx_i = rx_i · (scale · Σ_j dout_ij · re_j · e_j − [‖x_i‖ > eps] · rx_i · (Σ_j dout_ij · out_ij) · x_i)
//   de_j = re_j · (scale · Σ_i dout_ij · rx_i · x_i − [‖e_j‖ > eps] · re_j · (Σ_i dout_ij · out_ij) · e_j)
// Paired: h [batch, c, dim], out[b, j] = scale · cos(h[b, j], e[j]); de summed over b.
// Top-k: per row of x, the k rows of e with the highest score (scale · cos), descending, ties
// broken by the lower index.
//
// Contract: native/core/include/merclip/cosine.h. Inputs are any ArrayLike<number>; results are
// new Float64Arrays (indices: Int32Array); nothing passed in is modified. Plain loops with double
// accumulators — this is what lib/kernels/cosine.ts is tested against.

import { checkLength, checkSize } from './check.js';

export interface CosineRefOptions {
  x: ArrayLike<number>;
  e: ArrayLike<number>;
  n: number;
  c: number;
  dim: number;
  scale?: number | undefined;
  eps?: number | undefined;
}

export interface CosineBackwardRefOptions extends CosineRefOptions {
  dOut: ArrayLike<number>;
  /** The forward's output [n, c] (its Σ_j dout_ij · out_ij is the projection coefficient). */
  out: ArrayLike<number>;
}

export interface CosinePairedRefOptions {
  h: ArrayLike<number>;
  e: ArrayLike<number>;
  batch: number;
  c: number;
  dim: number;
  scale?: number | undefined;
  eps?: number | undefined;
}

export interface CosinePairedBackwardRefOptions extends CosinePairedRefOptions {
  dOut: ArrayLike<number>;
  out: ArrayLike<number>;
}

export interface CosineTopKRefOptions extends CosineRefOptions {
  k: number;
}

const DEFAULT_EPS = 1e-8;

function checkScalars(fn: string, scale: number, eps: number): void {
  if (!Number.isFinite(scale)) throw new RangeError(`${fn}: expected scale to be a finite number, received ${String(scale)}`);
  if (!Number.isFinite(eps) || eps <= 0) throw new RangeError(`${fn}: expected eps to be a finite number > 0, received ${String(eps)}`);
}

// ---------------------------------------------------------------------------------------------
// Per-row norms of a [rows, dim] array starting at offset 0: norm [rows] and the clamped inverse
// r = 1 / max(norm, eps).
function rowNorms(v: ArrayLike<number>, rows: number, dim: number, eps: number): { norm: Float64Array; r: Float64Array } {
  const norm = new Float64Array(rows);
  const r = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let sq = 0;
    for (let k = 0; k < dim; k++) {
      const t = v[i * dim + k]!;
      sq += t * t;
    }
    const nrm = Math.sqrt(sq);
    norm[i] = nrm;
    r[i] = 1 / Math.max(nrm, eps);
  }
  return { norm, r };
}

function rowDot(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[aOff + k]! * b[bOff + k]!;
  return s;
}

// ---------------------------------------------------------------------------------------------
// cosineForward: x [n,dim], e [c,dim] → out [n,c]
export function cosineForward(opts: CosineRefOptions): Float64Array {
  const fn = 'reference.cosineForward';
  const { x, e, n, c, dim } = opts;
  const scale = opts.scale ?? 1;
  const eps = opts.eps ?? DEFAULT_EPS;
  checkSize(fn, 'n', n);
  checkSize(fn, 'c', c);
  checkSize(fn, 'dim', dim);
  checkScalars(fn, scale, eps);
  checkLength(fn, 'x', x, n * dim, 'n·dim');
  checkLength(fn, 'e', e, c * dim, 'c·dim');

  const rx = rowNorms(x, n, dim, eps).r;
  const re = rowNorms(e, c, dim, eps).r;
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      out[i * c + j] = scale * rowDot(x, i * dim, e, j * dim, dim) * rx[i]! * re[j]!;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// cosineBackward: dOut [n,c], out [n,c], x [n,dim], e [c,dim] → dx [n,dim], de [c,dim]
export function cosineBackward(opts: CosineBackwardRefOptions): { dx: Float64Array; de: Float64Array } {
  const fn = 'reference.cosineBackward';
  const { dOut, out, x, e, n, c, dim } = opts;
  const scale = opts.scale ?? 1;
  const eps = opts.eps ?? DEFAULT_EPS;
  checkSize(fn, 'n', n);
  checkSize(fn, 'c', c);
  checkSize(fn, 'dim', dim);
  checkScalars(fn, scale, eps);
  checkLength(fn, 'dOut', dOut, n * c, 'n·c');
  checkLength(fn, 'out', out, n * c, 'n·c');
  checkLength(fn, 'x', x, n * dim, 'n·dim');
  checkLength(fn, 'e', e, c * dim, 'c·dim');

  const xs = rowNorms(x, n, dim, eps);
  const es = rowNorms(e, c, dim, eps);
  const dx = new Float64Array(n * dim);
  const de = new Float64Array(c * dim);

  // dx_i = rx_i · (scale · Σ_j dout_ij · re_j · e_j − [‖x_i‖ > eps] · rx_i · (Σ_j dout_ij · out_ij) · x_i)
  for (let i = 0; i < n; i++) {
    const rxi = xs.r[i]!;
    let proj = 0;
    for (let j = 0; j < c; j++) {
      const g = dOut[i * c + j]!;
      proj += g * out[i * c + j]!;
      const w = scale * g * es.r[j]!;
      for (let k = 0; k < dim; k++) dx[i * dim + k] = dx[i * dim + k]! + w * e[j * dim + k]!;
    }
    const p = xs.norm[i]! > eps ? rxi * proj : 0; // clamped: the normalisation is a constant
    for (let k = 0; k < dim; k++) dx[i * dim + k] = rxi * (dx[i * dim + k]! - p * x[i * dim + k]!);
  }

  // de_j = re_j · (scale · Σ_i dout_ij · rx_i · x_i − [‖e_j‖ > eps] · re_j · (Σ_i dout_ij · out_ij) · e_j)
  for (let j = 0; j < c; j++) {
    const rej = es.r[j]!;
    let proj = 0;
    for (let i = 0; i < n; i++) {
      const g = dOut[i * c + j]!;
      proj += g * out[i * c + j]!;
      const w = scale * g * xs.r[i]!;
      for (let k = 0; k < dim; k++) de[j * dim + k] = de[j * dim + k]! + w * x[i * dim + k]!;
    }
    const p = es.norm[j]! > eps ? rej * proj : 0;
    for (let k = 0; k < dim; k++) de[j * dim + k] = rej * (de[j * dim + k]! - p * e[j * dim + k]!);
  }
  return { dx, de };
}

// ---------------------------------------------------------------------------------------------
// cosinePairedForward: h [batch,c,dim], e [c,dim] → out [batch,c], out[b,j] = scale · cos(h[b,j], e[j])
export function cosinePairedForward(opts: CosinePairedRefOptions): Float64Array {
  const fn = 'reference.cosinePairedForward';
  const { h, e, batch, c, dim } = opts;
  const scale = opts.scale ?? 1;
  const eps = opts.eps ?? DEFAULT_EPS;
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'c', c);
  checkSize(fn, 'dim', dim);
  checkScalars(fn, scale, eps);
  checkLength(fn, 'h', h, batch * c * dim, 'batch·c·dim');
  checkLength(fn, 'e', e, c * dim, 'c·dim');

  const rh = rowNorms(h, batch * c, dim, eps).r;
  const re = rowNorms(e, c, dim, eps).r;
  const out = new Float64Array(batch * c);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < c; j++) {
      const row = b * c + j;
      out[row] = scale * rowDot(h, row * dim, e, j * dim, dim) * rh[row]! * re[j]!;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// cosinePairedBackward: dOut [batch,c], out [batch,c], h [batch,c,dim], e [c,dim]
//   → dh [batch,c,dim], de [c,dim] (summed over b)
//   dh_bj = rh_bj · (scale · dout_bj · re_j · e_j − [‖h_bj‖ > eps] · rh_bj · dout_bj · out_bj · h_bj)
//   de_j  = re_j · (scale · Σ_b dout_bj · rh_bj · h_bj − [‖e_j‖ > eps] · re_j · (Σ_b dout_bj · out_bj) · e_j)
export function cosinePairedBackward(opts: CosinePairedBackwardRefOptions): { dh: Float64Array; de: Float64Array } {
  const fn = 'reference.cosinePairedBackward';
  const { dOut, out, h, e, batch, c, dim } = opts;
  const scale = opts.scale ?? 1;
  const eps = opts.eps ?? DEFAULT_EPS;
  checkSize(fn, 'batch', batch);
  checkSize(fn, 'c', c);
  checkSize(fn, 'dim', dim);
  checkScalars(fn, scale, eps);
  checkLength(fn, 'dOut', dOut, batch * c, 'batch·c');
  checkLength(fn, 'out', out, batch * c, 'batch·c');
  checkLength(fn, 'h', h, batch * c * dim, 'batch·c·dim');
  checkLength(fn, 'e', e, c * dim, 'c·dim');

  const hs = rowNorms(h, batch * c, dim, eps);
  const es = rowNorms(e, c, dim, eps);
  const dh = new Float64Array(batch * c * dim);
  const de = new Float64Array(c * dim);
  for (let j = 0; j < c; j++) {
    const rej = es.r[j]!;
    let proj = 0;
    for (let b = 0; b < batch; b++) {
      const row = b * c + j;
      const g = dOut[row]!;
      const o = out[row]!;
      const rh = hs.r[row]!;
      proj += g * o;
      const p = hs.norm[row]! > eps ? rh * g * o : 0;
      for (let k = 0; k < dim; k++) {
        dh[row * dim + k] = rh * (scale * g * rej * e[j * dim + k]! - p * h[row * dim + k]!);
        de[j * dim + k] = de[j * dim + k]! + scale * g * rh * h[row * dim + k]!;
      }
    }
    const p = es.norm[j]! > eps ? rej * proj : 0;
    for (let k = 0; k < dim; k++) de[j * dim + k] = rej * (de[j * dim + k]! - p * e[j * dim + k]!);
  }
  return { dh, de };
}

// ---------------------------------------------------------------------------------------------
// cosineTopk: x [n,dim], e [c,dim] → indices [n,k] (Int32Array), scores [n,k] (scale · cos),
// each row in descending score order, equal scores by ascending index. 1 ≤ k ≤ c.
export function cosineTopk(opts: CosineTopKRefOptions): { indices: Int32Array; scores: Float64Array } {
  const fn = 'reference.cosineTopk';
  const { n, c, k } = opts;
  checkSize(fn, 'k', k);
  if (k > c) throw new RangeError(`${fn}: expected k to be an integer in [1, c = ${c}], received ${k}`);
  const all = cosineForward(opts); // validates the rest
  const indices = new Int32Array(n * k);
  const scores = new Float64Array(n * k);
  const order = new Array<number>(c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) order[j] = j;
    const row = all.subarray(i * c, (i + 1) * c);
    order.sort((a, b) => row[b]! - row[a]! || a - b);
    for (let r = 0; r < k; r++) {
      indices[i * k + r] = order[r]!;
      scores[i * k + r] = row[order[r]!]!;
    }
  }
  return { indices, scores };
}
