// test/kernels/cosine.test.ts — kernels.cosineForward / cosineBackward /
// cosinePairedForward / cosinePairedBackward / cosineTopk (and their …Async forms) against the float64
// references in lib/reference/cosine.ts, and the backwards also against central finite
// differences of the reference forward, for every SIMD level × {1, all} threads.
//
// Shapes: n, c, dim drawn from {1, 7, 33, 100, 513}; c = 7 with n = 2000 (the fused few-labels
// row pass); c = 3000 with n = 40 (normalise + GEMM); scales ≠ 1 (negative, CLIP-like 1/0.07);
// exactly zero rows in x / e / h at the default eps and at a larger eps.
//
// Tolerances (besides rtol = 1e-5·|r|):
// - out = scale·cos: a float32 dot product of dim terms with Σ|x_k e_k| ≤ ‖x‖‖e‖ (Cauchy–Schwarz),
//   so |error| ≲ |scale|·(4√dim + 8)·u, and at least 2e-6·|scale| (near-zero cosines have no
//   relative accuracy).
// - gradients: each row of dx (de, dh) is rx·(scale·Σ_j dout_ij re_j e_j − rx·(Σ_j dout_ij out_ij)·x_i);
//   the allowance is 1e-4 × the row's largest absolute-term magnitude
//   A_ik = rx_i·(|scale|·Σ_j |dout_ij| re_j |e_jk| + rx_i·Σ_j |dout_ij out_ij|·|x_ik|).
//   Per row, not per array: a zero row's gradient is 1/eps ≈ 1e8 times larger than the others'.
//   The magnitude of the terms, not of the result: for dim = 1 the result is exactly 0.
// - top-k: indices equal the reference's wherever the reference score is separated from both
//   neighbours (in the full order) by more than max(1e-5·|scale|, 2.5·atol); elsewhere the
//   kernel's index must carry (per the reference) the score at that position. Bit-equal kernel
//   scores must come in ascending index order (ties → lower index).

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectSameBits, guarded, kernelConfigSuite } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const U = 2 ** -24;
const DEFAULT_EPS = 1e-8;

type RowPatch = Array<[row: number, what: 'zero' | number]>;

/** [rows, dim] normal values (mean 0.1) with some rows zeroed or rescaled to a given norm. */
function inputs(seed: number, rows: number, dim: number, patches: RowPatch = []): Float32Array {
  const a = makeRng(seed).normalF32(rows * dim, 0.1, 1);
  for (const [row, what] of patches) {
    let nr = 0;
    for (let k = 0; k < dim; k++) nr += a[row * dim + k]! ** 2;
    nr = Math.sqrt(nr);
    for (let k = 0; k < dim; k++) a[row * dim + k] = what === 'zero' ? 0 : (a[row * dim + k]! / nr) * what;
  }
  return a;
}

function rowNorms(v: ArrayLike<number>, rows: number, dim: number, eps: number): { norm: Float64Array; r: Float64Array } {
  const norm = new Float64Array(rows);
  const r = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += v[i * dim + k]! ** 2;
    norm[i] = Math.sqrt(s);
    r[i] = 1 / Math.max(norm[i]!, eps);
  }
  return { norm, r };
}

function outAtol(scale: number, dim: number): number {
  return Math.abs(scale) * Math.max(2e-6, (4 * Math.sqrt(dim) + 8) * U);
}

/** Per-element allowance: 1e-4 × the row maximum of a per-element magnitude [rows, dim]. */
function rowwise(mag: Float64Array, rows: number, dim: number): Float64Array {
  const atol = new Float64Array(rows * dim);
  for (let i = 0; i < rows; i++) {
    let m = 0;
    for (let k = 0; k < dim; k++) m = Math.max(m, mag[i * dim + k]!);
    atol.fill(1e-4 * m, i * dim, (i + 1) * dim);
  }
  return atol;
}

/** Gathers rows `rows` of a [*, dim] array into a new Float64Array. */
function gather(a: ArrayLike<number>, rows: number[], dim: number): Float64Array {
  const out = new Float64Array(rows.length * dim);
  rows.forEach((r, t) => {
    for (let k = 0; k < dim; k++) out[t * dim + k] = a[r * dim + k]!;
  });
  return out;
}

/**
 * Central differences row by row: row i of `a` [rows, dim] is perturbed alone, with step h = 1e-6,
 * or eps/4 for a row inside the clamp (so the perturbed row stays there).
 */
function fdRows(
  a: ArrayLike<number>, rows: number, dim: number, eps: number,
  loss: (row: number, v: Float64Array) => number,
): Float64Array {
  const grad = new Float64Array(rows * dim);
  const { norm } = rowNorms(a, rows, dim, eps);
  for (let i = 0; i < rows; i++) {
    const v = gather(a, [i], dim);
    const h = norm[i]! <= eps ? eps / 4 : 1e-6;
    grad.set(finiteDiffGrad((w) => loss(i, w), v, h), i * dim);
  }
  return grad;
}

// ---------------------------------------------------------------------------------------------
// Batched cases.

interface SimCase {
  name: string;
  n: number;
  c: number;
  dim: number;
  scale: number;
  eps: number | undefined;
  x: Float32Array;
  e: Float32Array;
  dOut: Float32Array;
  fwd: Float64Array;
  bwd: { dx: Float64Array; de: Float64Array };
  atol: { out: number; dx: Float64Array; de: Float64Array };
  fd?: { dx: Float64Array; de: Float64Array } | undefined;
}

const FD_BUDGET = 2e7; // multiply-adds of the row-wise finite differences per case

function simCase(
  seed: number, n: number, c: number, dim: number, scale: number, eps?: number,
  xRows: RowPatch = [], eRows: RowPatch = [],
): SimCase {
  const x = inputs(seed, n, dim, xRows);
  const e = inputs(seed + 1, c, dim, eRows);
  const dOut = makeRng(seed + 2).normalF32(n * c);
  const fwd = reference.cosineForward({ x, e, n, c, dim, scale, eps });
  const bwd = reference.cosineBackward({ dOut, out: fwd, x, e, n, c, dim, scale, eps });

  const epsV = eps ?? DEFAULT_EPS;
  const xs = rowNorms(x, n, dim, epsV);
  const es = rowNorms(e, c, dim, epsV);
  const magDx = new Float64Array(n * dim);
  const magDe = new Float64Array(c * dim);
  const s = Math.abs(scale);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const g = Math.abs(dOut[i * c + j]!);
      const go = Math.abs(dOut[i * c + j]! * fwd[i * c + j]!);
      const rx = xs.r[i]!, re = es.r[j]!;
      for (let k = 0; k < dim; k++) {
        const xk = Math.abs(x[i * dim + k]!), ek = Math.abs(e[j * dim + k]!);
        magDx[i * dim + k] = magDx[i * dim + k]! + rx * (s * g * re * ek + rx * go * xk);
        magDe[j * dim + k] = magDe[j * dim + k]! + re * (s * g * rx * xk + re * go * ek);
      }
    }
  }

  let fd: SimCase['fd'];
  if (4 * n * c * dim * dim <= FD_BUDGET) {
    const x64 = Float64Array.from(x);
    const e64 = Float64Array.from(e);
    const dOutCol = (j: number): Float64Array => Float64Array.from({ length: n }, (_, i) => dOut[i * c + j]!);
    fd = {
      // loss_i(x_i) = Σ_j dout_ij · out_ij: only row i of out depends on x_i
      dx: fdRows(x64, n, dim, epsV, (i, v) =>
        dot(dOut.subarray(i * c, (i + 1) * c), reference.cosineForward({ x: v, e: e64, n: 1, c, dim, scale, eps }))),
      // loss_j(e_j) = Σ_i dout_ij · out_ij: only column j depends on e_j
      de: fdRows(e64, c, dim, epsV, (j, v) =>
        dot(dOutCol(j), reference.cosineForward({ x: x64, e: v, n, c: 1, dim, scale, eps }))),
    };
  }
  const zeros = xRows.length + eRows.length > 0 ? ` zero rows x${JSON.stringify(xRows.map((r) => r[0]))} e${JSON.stringify(eRows.map((r) => r[0]))}` : '';
  return {
    name: `n=${n} c=${c} dim=${dim} scale=${scale} eps=${eps ?? 'default'}${zeros}`,
    n, c, dim, scale, eps, x, e, dOut, fwd, bwd,
    atol: { out: outAtol(scale, dim), dx: rowwise(magDx, n, dim), de: rowwise(magDe, c, dim) },
    fd,
  };
}

const SIM_CASES: SimCase[] = [
  simCase(3000, 1, 1, 1, 1),
  simCase(3010, 7, 33, 100, 1),
  simCase(3020, 33, 7, 513, 2.5),
  simCase(3030, 100, 513, 7, -1),
  simCase(3040, 513, 100, 33, 1 / 0.07),
  simCase(3050, 1, 513, 100, 1),
  simCase(3060, 513, 1, 1, -3),
  simCase(3070, 7, 7, 1, 1),
  simCase(3080, 33, 100, 513, 1),
  // the fused few-labels path, with zero rows
  simCase(3090, 2000, 7, 33, 1 / 0.07, undefined, [[0, 'zero'], [1234, 'zero']], [[3, 'zero']]),
  // the normalise + GEMM path, with a zero label and a zero query
  simCase(3100, 40, 3000, 100, 10, undefined, [[17, 'zero']], [[2999, 'zero'], [5, 'zero']]),
  // zero rows at the default eps (FD steps stay inside the clamp) and a clamped short row at eps 0.5
  simCase(3110, 7, 33, 7, 2, undefined, [[0, 'zero'], [6, 'zero']], [[32, 'zero']]),
  simCase(3120, 7, 33, 7, -1.5, 0.5, [[2, 0.1], [3, 'zero']], [[0, 0.2], [1, 'zero']]),
];

function simOpts(cs: SimCase) {
  return { x: cs.x, e: cs.e, n: cs.n, c: cs.c, dim: cs.dim, scale: cs.scale, ...(cs.eps !== undefined ? { eps: cs.eps } : {}) };
}

function checkSimForward(cs: SimCase, out: Float32Array, what: string): void {
  expectClose(out, cs.fwd, { rtol: 1e-5, atol: cs.atol.out, label: `cosineForward ${cs.name} ${what}`, cols: cs.c });
}

function checkSimBackward(cs: SimCase, res: { dx: Float32Array; de: Float32Array }, want: { dx: ArrayLike<number>; de: ArrayLike<number> }, what: string): void {
  expectClose(res.dx, want.dx, { rtol: 0, atol: cs.atol.dx, label: `cosineBackward ${cs.name} dx vs ${what}`, cols: cs.dim });
  expectClose(res.de, want.de, { rtol: 0, atol: cs.atol.de, label: `cosineBackward ${cs.name} de vs ${what}`, cols: cs.dim });
}

// ---------------------------------------------------------------------------------------------
// Paired cases.

interface PairedCase {
  name: string;
  batch: number;
  c: number;
  dim: number;
  scale: number;
  eps: number | undefined;
  h: Float32Array;
  e: Float32Array;
  dOut: Float32Array;
  fwd: Float64Array;
  bwd: { dh: Float64Array; de: Float64Array };
  atol: { out: number; dh: Float64Array; de: Float64Array };
  fd?: { dh: Float64Array; de: Float64Array } | undefined;
}

function pairedCase(
  seed: number, batch: number, c: number, dim: number, scale: number, eps?: number,
  hRows: RowPatch = [], eRows: RowPatch = [],
): PairedCase {
  const h = inputs(seed, batch * c, dim, hRows);
  const e = inputs(seed + 1, c, dim, eRows);
  const dOut = makeRng(seed + 2).normalF32(batch * c);
  const fwd = reference.cosinePairedForward({ h, e, batch, c, dim, scale, eps });
  const bwd = reference.cosinePairedBackward({ dOut, out: fwd, h, e, batch, c, dim, scale, eps });

  const epsV = eps ?? DEFAULT_EPS;
  const hs = rowNorms(h, batch * c, dim, epsV);
  const es = rowNorms(e, c, dim, epsV);
  const magDh = new Float64Array(batch * c * dim);
  const magDe = new Float64Array(c * dim);
  const s = Math.abs(scale);
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < c; j++) {
      const row = b * c + j;
      const g = Math.abs(dOut[row]!);
      const go = Math.abs(dOut[row]! * fwd[row]!);
      const rh = hs.r[row]!, re = es.r[j]!;
      for (let k = 0; k < dim; k++) {
        const hk = Math.abs(h[row * dim + k]!), ek = Math.abs(e[j * dim + k]!);
        magDh[row * dim + k] = rh * (s * g * re * ek + rh * go * hk);
        magDe[j * dim + k] = magDe[j * dim + k]! + re * (s * g * rh * hk + re * go * ek);
      }
    }
  }

  let fd: PairedCase['fd'];
  if (4 * batch * c * dim * dim <= FD_BUDGET) {
    const h64 = Float64Array.from(h);
    const e64 = Float64Array.from(e);
    fd = {
      // out[b, j] depends on h[b, j] alone
      dh: fdRows(h64, batch * c, dim, epsV, (row, v) =>
        dOut[row]! * reference.cosinePairedForward({ h: v, e: e64.subarray((row % c) * dim, (row % c + 1) * dim), batch: 1, c: 1, dim, scale, eps })[0]!),
      // column j of out depends on e_j: Σ_b dout_bj · cos(h[b, j], e_j)
      de: fdRows(e64, c, dim, epsV, (j, v) => {
        const rows = Array.from({ length: batch }, (_, b) => b * c + j);
        const col = reference.cosinePairedForward({ h: gather(h64, rows, dim), e: v, batch, c: 1, dim, scale, eps });
        return dot(rows.map((r) => dOut[r]!), col);
      }),
    };
  }
  const zeros = hRows.length + eRows.length > 0 ? ` zero/short rows h${JSON.stringify(hRows.map((r) => r[0]))} e${JSON.stringify(eRows.map((r) => r[0]))}` : '';
  return {
    name: `batch=${batch} c=${c} dim=${dim} scale=${scale} eps=${eps ?? 'default'}${zeros}`,
    batch, c, dim, scale, eps, h, e, dOut, fwd, bwd,
    atol: { out: outAtol(scale, dim), dh: rowwise(magDh, batch * c, dim), de: rowwise(magDe, c, dim) },
    fd,
  };
}

const PAIRED_CASES: PairedCase[] = [
  pairedCase(4000, 1, 1, 1, 1),
  pairedCase(4010, 7, 33, 100, 1),
  pairedCase(4020, 33, 7, 513, -2),
  pairedCase(4030, 100, 7, 33, 1 / 0.07, undefined, [[0, 'zero'], [699, 'zero']], [[4, 'zero']]),
  pairedCase(4040, 2, 513, 7, 1),
  pairedCase(4050, 513, 1, 100, 3),
  pairedCase(4060, 5, 7, 6, 2, 0.5, [[3, 0.1], [10, 'zero']], [[2, 0.2]]),
];

function pairedOpts(cs: PairedCase) {
  return { h: cs.h, e: cs.e, batch: cs.batch, c: cs.c, dim: cs.dim, scale: cs.scale, ...(cs.eps !== undefined ? { eps: cs.eps } : {}) };
}

function checkPairedForward(cs: PairedCase, out: Float32Array, what: string): void {
  expectClose(out, cs.fwd, { rtol: 1e-5, atol: cs.atol.out, label: `cosinePairedForward ${cs.name} ${what}`, cols: cs.c });
}

function checkPairedBackward(cs: PairedCase, res: { dh: Float32Array; de: Float32Array }, want: { dh: ArrayLike<number>; de: ArrayLike<number> }, what: string): void {
  expectClose(res.dh, want.dh, { rtol: 0, atol: cs.atol.dh, label: `cosinePairedBackward ${cs.name} dh vs ${what}`, cols: cs.dim });
  expectClose(res.de, want.de, { rtol: 0, atol: cs.atol.de, label: `cosinePairedBackward ${cs.name} de vs ${what}`, cols: cs.dim });
}

// ---------------------------------------------------------------------------------------------
// Top-k cases.

interface TopKCase {
  name: string;
  n: number;
  c: number;
  dim: number;
  k: number;
  scale: number;
  x: Float32Array;
  e: Float32Array;
  /** Every reference score [n, c]. */
  all: Float64Array;
  /** The reference's first min(k + 1, c) indices and scores per row (one past k: the next candidate). */
  ref: { indices: Int32Array; scores: Float64Array; kk: number };
  atol: number;
}

function topkCase(seed: number, n: number, c: number, dim: number, k: number, scale: number, dup: Array<[number, number]> = [], eRows: RowPatch = []): TopKCase {
  const x = inputs(seed, n, dim);
  const e = inputs(seed + 1, c, dim, eRows);
  for (const [to, from] of dup) e.copyWithin(to * dim, from * dim, (from + 1) * dim); // exact duplicate rows
  // x_0 = the duplicated row itself: the duplicates score highest for row 0 (ties at the top)
  if (dup.length > 0) x.set(e.subarray(dup[0]![1] * dim, (dup[0]![1] + 1) * dim), 0);
  const all = reference.cosineForward({ x, e, n, c, dim, scale });
  const kk = Math.min(k + 1, c);
  const r = reference.cosineTopk({ x, e, n, c, dim, k: kk, scale });
  return {
    name: `n=${n} c=${c} dim=${dim} k=${k} scale=${scale}${dup.length ? ` duplicates ${JSON.stringify(dup)}` : ''}`,
    n, c, dim, k, scale, x, e, all, ref: { ...r, kk }, atol: outAtol(scale, dim),
  };
}

const TOPK_CASES: TopKCase[] = [
  topkCase(5000, 1, 1, 1, 1, 1),
  topkCase(5010, 3, 7, 5, 7, 1), // k = c, tiny
  topkCase(5020, 7, 33, 100, 5, 1 / 0.07, [[20, 5], [30, 5]]),
  topkCase(5030, 33, 513, 7, 10, -1, [[400, 3]]),
  topkCase(5040, 100, 7, 33, 3, 2, [], [[2, 'zero']]),
  topkCase(5050, 40, 3000, 100, 17, 1, [[2500, 10], [2999, 10]]),
  topkCase(5060, 8, 20000, 33, 5, 1 / 0.07),
  topkCase(5070, 2, 513, 1, 513, 1), // dim = 1: cosines are ±1, massive ties
  topkCase(5080, 300, 100, 7, 4, -2), // more rows than one top-k row block
];

function checkTopK(cs: TopKCase, res: { indices: Int32Array; scores: Float32Array }, what: string): void {
  const { n, c, k, all, ref } = cs;
  const label = `cosineTopk ${cs.name} ${what}`;
  expect(res.indices).toBeInstanceOf(Int32Array);
  expect(res.indices.length, `${label} indices length`).toBe(n * k);
  expect(res.scores.length, `${label} scores length`).toBe(n * k);
  const gap = Math.max(1e-5 * Math.abs(cs.scale), 2.5 * cs.atol);
  const tol = (r: number): number => cs.atol + 1e-5 * Math.abs(r);
  for (let i = 0; i < n; i++) {
    const seen = new Set<number>();
    for (let r = 0; r < k; r++) {
      const idx = res.indices[i * k + r]!;
      const score = res.scores[i * k + r]!;
      const where = `${label}: row ${i}, position ${r}`;
      if (!(Number.isInteger(idx) && idx >= 0 && idx < c)) expect.fail(`${where}: index ${idx} outside [0, ${c})`);
      if (seen.has(idx)) expect.fail(`${where}: index ${idx} repeated`);
      seen.add(idx);
      const refScore = ref.scores[i * ref.kk + r]!;
      const ownScore = all[i * c + idx]!; // the reference score of the index the kernel chose
      if (!(Math.abs(score - refScore) <= tol(refScore))) {
        expect.fail(`${where}: score ${score}, reference score at this position ${refScore} (index ${ref.indices[i * ref.kk + r]}), allowed ${tol(refScore)}`);
      }
      if (!(Math.abs(score - ownScore) <= tol(ownScore))) {
        expect.fail(`${where}: index ${idx} reported with score ${score}, its reference score is ${ownScore}`);
      }
      const prev = r > 0 ? ref.scores[i * ref.kk + r - 1]! : Infinity;
      const next = r + 1 < ref.kk ? ref.scores[i * ref.kk + r + 1]! : -Infinity;
      if (prev - refScore > gap && refScore - next > gap && idx !== ref.indices[i * ref.kk + r]) {
        expect.fail(`${where}: index ${idx} (score ${score}), reference index ${ref.indices[i * ref.kk + r]} (score ${refScore}, gaps ${prev - refScore} / ${refScore - next})`);
      }
      if (r > 0) {
        const before = res.scores[i * k + r - 1]!;
        if (!(before >= score)) expect.fail(`${where}: scores not descending (${before} then ${score})`);
        if (before === score && res.indices[i * k + r - 1]! > idx) {
          expect.fail(`${where}: equal scores ${score} with indices ${res.indices[i * k + r - 1]} then ${idx} (ties → lower index first)`);
        }
      }
    }
  }
}

function topkOpts(cs: TopKCase) {
  return { x: cs.x, e: cs.e, n: cs.n, c: cs.c, dim: cs.dim, k: cs.k, scale: cs.scale };
}

// ---------------------------------------------------------------------------------------------

for (const cfg of kernelConfigSuite(backend)) {
  describe(`cosine kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('cosineForward matches the reference (allocated and guarded in-place outputs)', () => {
      for (const cs of SIM_CASES) {
        const fresh = kernels.cosineForward(simOpts(cs));
        expect(fresh).toBeInstanceOf(Float32Array);
        checkSimForward(cs, fresh, 'allocated');
        const out = guarded(cs.n * cs.c);
        const res = kernels.cosineForward({ ...simOpts(cs), out: out.view });
        expect(res).toBe(out.view);
        out.check(`${cs.name} out`);
        expectSameBits(res, fresh, `${cs.name} out in place vs allocated`);
      }
    });

    it('cosineBackward matches the reference backward and finite differences', () => {
      for (const cs of SIM_CASES) {
        const out = kernels.cosineForward(simOpts(cs));
        const args = { ...simOpts(cs), dOut: cs.dOut, out };
        const fresh = kernels.cosineBackward(args);
        checkSimBackward(cs, fresh, cs.bwd, 'reference');
        if (cs.fd) checkSimBackward(cs, fresh, cs.fd, 'finite differences');
        const dx = guarded(cs.n * cs.dim);
        const de = guarded(cs.c * cs.dim);
        const res = kernels.cosineBackward({ ...args, dx: dx.view, de: de.view });
        expect(res.dx).toBe(dx.view);
        expect(res.de).toBe(de.view);
        dx.check(`${cs.name} dx`);
        de.check(`${cs.name} de`);
        expectSameBits(res.dx, fresh.dx, `${cs.name} dx in place vs allocated`);
        expectSameBits(res.de, fresh.de, `${cs.name} de in place vs allocated`);
      }
    });

    it('cosinePairedForward matches the reference (allocated and guarded in-place outputs)', () => {
      for (const cs of PAIRED_CASES) {
        const fresh = kernels.cosinePairedForward(pairedOpts(cs));
        checkPairedForward(cs, fresh, 'allocated');
        const out = guarded(cs.batch * cs.c);
        const res = kernels.cosinePairedForward({ ...pairedOpts(cs), out: out.view });
        expect(res).toBe(out.view);
        out.check(`${cs.name} out`);
        expectSameBits(res, fresh, `${cs.name} out in place vs allocated`);
      }
    });

    it('cosinePairedBackward matches the reference backward and finite differences', () => {
      for (const cs of PAIRED_CASES) {
        const out = kernels.cosinePairedForward(pairedOpts(cs));
        const args = { ...pairedOpts(cs), dOut: cs.dOut, out };
        const fresh = kernels.cosinePairedBackward(args);
        checkPairedBackward(cs, fresh, cs.bwd, 'reference');
        if (cs.fd) checkPairedBackward(cs, fresh, cs.fd, 'finite differences');
        const dh = guarded(cs.batch * cs.c * cs.dim);
        const de = guarded(cs.c * cs.dim);
        const res = kernels.cosinePairedBackward({ ...args, dh: dh.view, de: de.view });
        expect(res.dh).toBe(dh.view);
        expect(res.de).toBe(de.view);
        dh.check(`${cs.name} dh`);
        de.check(`${cs.name} de`);
        expectSameBits(res.dh, fresh.dh, `${cs.name} dh in place vs allocated`);
        expectSameBits(res.de, fresh.de, `${cs.name} de in place vs allocated`);
      }
    });

    it('cosineTopk matches the reference (order, scores, ties → lower index)', () => {
      for (const cs of TOPK_CASES) {
        const fresh = kernels.cosineTopk(topkOpts(cs));
        checkTopK(cs, fresh, 'allocated');
        const scores = guarded(cs.n * cs.k);
        const indices = new Int32Array(cs.n * cs.k).fill(-1);
        const res = kernels.cosineTopk({ ...topkOpts(cs), indices, scores: scores.view });
        expect(res.indices).toBe(indices);
        expect(res.scores).toBe(scores.view);
        scores.check(`${cs.name} scores`);
        expect(Array.from(res.indices)).toEqual(Array.from(fresh.indices));
        expectSameBits(res.scores, fresh.scores, `${cs.name} scores in place vs allocated`);
      }
    });

    it('cosineTopk agrees with cosineForward (same scores, same order)', () => {
      for (const cs of TOPK_CASES.filter((t) => t.n * t.c <= 2e5)) {
        const { indices, scores } = kernels.cosineTopk(topkOpts(cs));
        const out = kernels.cosineForward({ x: cs.x, e: cs.e, n: cs.n, c: cs.c, dim: cs.dim, scale: cs.scale });
        for (let i = 0; i < cs.n; i++) {
          for (let r = 0; r < cs.k; r++) {
            const s = scores[i * cs.k + r]!;
            const o = out[i * cs.c + indices[i * cs.k + r]!]!;
            if (!(Math.abs(s - o) <= 2 * cs.atol)) expect.fail(`${cs.name}: row ${i} position ${r}: topk score ${s}, cosineForward ${o}`);
          }
        }
      }
    });

    it('cosineTopk with scale = 0 ties every score → indices 0 … k−1', () => {
      const cs = TOPK_CASES[3]!; // c = 513
      const res = kernels.cosineTopk({ ...topkOpts(cs), scale: 0 });
      for (let i = 0; i < cs.n; i++) {
        expect(Array.from(res.indices.subarray(i * cs.k, (i + 1) * cs.k)), `row ${i}`).toEqual(Array.from({ length: cs.k }, (_, r) => r));
        expect(Array.from(res.scores.subarray(i * cs.k, (i + 1) * cs.k)).every((s) => s === 0)).toBe(true);
      }
    });

    it('the …Async forms give the same bits as the sync calls', async () => {
      for (const cs of [SIM_CASES[1]!, SIM_CASES[9]!, SIM_CASES[10]!]) {
        const out = kernels.cosineForward(simOpts(cs));
        expectSameBits(await kernels.cosineForwardAsync(simOpts(cs)), out, `cosineForwardAsync ${cs.name}`);
        const bwdArgs = { ...simOpts(cs), dOut: cs.dOut, out };
        const sync = kernels.cosineBackward(bwdArgs);
        const viaAsync = await kernels.cosineBackwardAsync(bwdArgs);
        expectSameBits(viaAsync.dx, sync.dx, `cosineBackwardAsync ${cs.name} dx`);
        expectSameBits(viaAsync.de, sync.de, `cosineBackwardAsync ${cs.name} de`);
      }
      for (const cs of [PAIRED_CASES[1]!, PAIRED_CASES[3]!]) {
        const out = kernels.cosinePairedForward(pairedOpts(cs));
        const given = new Float32Array(out.length).fill(NaN);
        const outAsync = await kernels.cosinePairedForwardAsync({ ...pairedOpts(cs), out: given });
        expect(outAsync).toBe(given);
        expectSameBits(outAsync, out, `cosinePairedForwardAsync ${cs.name}`);
        const bwdArgs = { ...pairedOpts(cs), dOut: cs.dOut, out };
        const sync = kernels.cosinePairedBackward(bwdArgs);
        const viaAsync = await kernels.cosinePairedBackwardAsync(bwdArgs);
        expectSameBits(viaAsync.dh, sync.dh, `cosinePairedBackwardAsync ${cs.name} dh`);
        expectSameBits(viaAsync.de, sync.de, `cosinePairedBackwardAsync ${cs.name} de`);
      }
      for (const cs of [TOPK_CASES[2]!, TOPK_CASES[5]!]) {
        const sync = kernels.cosineTopk(topkOpts(cs));
        const viaAsync = await kernels.cosineTopkAsync(topkOpts(cs));
        expect(Array.from(viaAsync.indices)).toEqual(Array.from(sync.indices));
        expectSameBits(viaAsync.scores, sync.scores, `cosineTopkAsync ${cs.name}`);
      }
      // concurrent calls agree with the sequential ones
      const picks = [SIM_CASES[2]!, SIM_CASES[4]!, SIM_CASES[10]!];
      const concurrent = await Promise.all(picks.map((cs) => kernels.cosineForwardAsync(simOpts(cs))));
      concurrent.forEach((o, t) => expectSameBits(o, kernels.cosineForward(simOpts(picks[t]!)), `concurrent cosineForwardAsync #${t}`));
    });
  });
}

describe('cosine kernels: defaults', () => {
  it('scale = 1 and eps = 1e-8 by default (zero vectors give 0, never NaN)', () => {
    const x = Float32Array.of(3, 4, 0, 0);
    const e = Float32Array.of(1, 0, 0, 2);
    const out = kernels.cosineForward({ x, e, n: 2, c: 2, dim: 2 });
    expectClose(out, [0.6, 0.8, 0, 0], { rtol: 1e-6, atol: 1e-7, label: 'out' });
    const { dx, de } = kernels.cosineBackward({ dOut: Float32Array.of(1, 1, 1, 1), out, x, e, n: 2, c: 2, dim: 2 });
    const want = reference.cosineBackward({ dOut: [1, 1, 1, 1], out: reference.cosineForward({ x, e, n: 2, c: 2, dim: 2 }), x, e, n: 2, c: 2, dim: 2 });
    // row 1 of x is zero: dx_1 = 1e8 · (e_0/1 + e_1/2) = [1e8, 1e8]
    expectClose(dx, want.dx, { rtol: 1e-5, label: 'dx' });
    expectClose(de, want.de, { rtol: 1e-5, atol: 1e-6, label: 'de' });
    const top = kernels.cosineTopk({ x, e, n: 2, c: 2, dim: 2, k: 1 });
    expect(Array.from(top.indices)).toEqual([1, 0]); // row 0: 0.8 at index 1; row 1: both 0 → the lower index
  });
});
