// lib/reference/gemm.ts — float64 reference GEMM, batched GEMM and the bias gradient.
//
//   C[m,n] = alpha · op(A) · op(B) + beta · C + bias[n]
//
// op(A) is [m,k]: A stored [m,k], or with transA A stored [k,m] (op(A) = Aᵀ).
// op(B) is [k,n]: B stored [k,n], or with transB B stored [n,k] (op(B) = Bᵀ).
// bias is added to every row and is not scaled by alpha. beta = 0 means C's old contents (even
// NaN) are never read, as in BLAS. Row-major, packed. Results are new Float64Arrays; nothing
// passed in is modified. Plain triple loops with a double accumulator — boring on purpose: this
// is what lib/kernels is tested against.

import { checkLength, checkMinLength, checkSize } from './check.js';

export interface GemmRefOptions {
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  c?: ArrayLike<number> | null | undefined;
  bias?: ArrayLike<number> | null | undefined;
  m: number;
  n: number;
  k: number;
  transA?: boolean | undefined;
  transB?: boolean | undefined;
  alpha?: number | undefined;
  beta?: number | undefined;
}

export interface GemmBatchedRefOptions extends GemmRefOptions {
  batch: number;
  /** Elements between consecutive A matrices; 0 broadcasts one A. Default m·k. */
  strideA?: number | undefined;
  /** Elements between consecutive B matrices; 0 broadcasts one B. Default k·n. */
  strideB?: number | undefined;
  /** Elements between consecutive C matrices. Default m·n. */
  strideC?: number | undefined;
}

// ---------------------------------------------------------------------------------------------
// One matrix product into out[outOffset … outOffset + m·n), reading A at aOffset, B at bOffset,
// the old C (only when beta ≠ 0) at cOffset.
function gemmInto(
  out: Float64Array,
  outOffset: number,
  a: ArrayLike<number>,
  aOffset: number,
  b: ArrayLike<number>,
  bOffset: number,
  c: ArrayLike<number> | null | undefined,
  cOffset: number,
  bias: ArrayLike<number> | null | undefined,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  alpha: number,
  beta: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        const aip = transA ? a[aOffset + p * m + i]! : a[aOffset + i * k + p]!; // op(A)[i,p]
        const bpj = transB ? b[bOffset + j * k + p]! : b[bOffset + p * n + j]!; // op(B)[p,j]
        acc += aip * bpj;
      }
      let value = alpha * acc;
      if (beta !== 0) value += beta * c![cOffset + i * n + j]!; // beta = 0: C never read
      if (bias) value += bias[j]!;
      out[outOffset + i * n + j] = value;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gemm: a [m,k] (or [k,m] with transA), b [k,n] (or [n,k] with transB), c [m,n], bias [n] → [m,n]
export function gemm(opts: GemmRefOptions): Float64Array {
  const fn = 'reference.gemm';
  const { a, b, c, bias, m, n, k } = opts;
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  checkSize(fn, 'm', m);
  checkSize(fn, 'n', n);
  checkSize(fn, 'k', k);
  checkLength(fn, 'a', a, m * k, 'm·k');
  checkLength(fn, 'b', b, k * n, 'k·n');
  if (beta !== 0) {
    if (!c) throw new RangeError(`${fn}: expected c to be given when beta ≠ 0, received ${String(c)}`);
    checkLength(fn, 'c', c, m * n, 'm·n');
  }
  if (bias) checkLength(fn, 'bias', bias, n, 'n');
  const out = new Float64Array(m * n);
  gemmInto(out, 0, a, 0, b, 0, c, 0, bias, m, n, k, transA, transB, alpha, beta);
  return out;
}

// ---------------------------------------------------------------------------------------------
// gemmBatched: for i in [0, batch): C_i = alpha · op(A_i) · op(B_i) + beta · C_i + bias, where
// X_i starts at i · strideX. Returns an array of the size of c when c is given (elements that
// no C_i covers keep c's values), else of (batch − 1) · strideC + m·n (gaps are 0).
export function gemmBatched(opts: GemmBatchedRefOptions): Float64Array {
  const fn = 'reference.gemmBatched';
  const { a, b, c, bias, m, n, k, batch } = opts;
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const alpha = opts.alpha ?? 1;
  const beta = opts.beta ?? 0;
  const strideA = opts.strideA ?? m * k;
  const strideB = opts.strideB ?? k * n;
  const strideC = opts.strideC ?? m * n;
  checkSize(fn, 'm', m);
  checkSize(fn, 'n', n);
  checkSize(fn, 'k', k);
  checkSize(fn, 'batch', batch);
  checkMinLength(fn, 'a', a, (batch - 1) * strideA + m * k, '(batch−1)·strideA + m·k');
  checkMinLength(fn, 'b', b, (batch - 1) * strideB + k * n, '(batch−1)·strideB + k·n');
  const cLength = (batch - 1) * strideC + m * n;
  if (c) checkMinLength(fn, 'c', c, cLength, '(batch−1)·strideC + m·n');
  else if (beta !== 0) throw new RangeError(`${fn}: expected c to be given when beta ≠ 0, received ${String(c)}`);
  if (bias) checkLength(fn, 'bias', bias, n, 'n');

  const out = c ? Float64Array.from(c) : new Float64Array(cLength);
  for (let i = 0; i < batch; i++) {
    gemmInto(
      out, i * strideC,
      a, i * strideA,
      b, i * strideB,
      c, i * strideC,
      bias, m, n, k, transA, transB, alpha, beta,
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// biasGrad: dy [m,n] → dBias [n], the column sums (the backward of "+ bias[n]" on every row).
export function biasGrad(opts: { dy: ArrayLike<number>; m: number; n: number }): Float64Array {
  const fn = 'reference.biasGrad';
  const { dy, m, n } = opts;
  checkSize(fn, 'm', m);
  checkSize(fn, 'n', n);
  checkLength(fn, 'dy', dy, m * n, 'm·n');
  const dBias = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) dBias[j] = dBias[j]! + dy[i * n + j]!;
  }
  return dBias;
}
