// test/tensor/memoryAttention.test.ts — the tape ops added for the absorbed cross-attention:
// ops.memoryAttention, ops.bmm and ops.withZeroGrad. Each runs in fp32 through the tape and is
// compared with a float64 reference forward, its gradients with central finite differences of
// that reference (test/helpers/gradCheck.ts). Also: the float64 memory-attention reference
// itself (a hand example, and agreement with reference.attentionForward on packed k = v),
// the raw kernel's accumulating backward, NaN confinement to one sample, zero-length samples
// (exact zeros), shape errors, and no pool buffer leaked by the op.

import { describe, expect, it, vi } from 'vitest';

import { kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { fromArray, ops, pool, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose, expectSameBits, maxAbs } from '../helpers/compare.js';
import { checkOp } from '../helpers/gradCheck.js';
import { makeRng } from '../helpers/seed.js';

const R = reference;

/** float64 memory attention of q [B, rows, dim] over the packed x (only `out`). */
function memRef(q: Float64Array, x: Float64Array, lengths: Int32Array, rows: number, dim: number, scale?: number): Float64Array {
  return R.memoryAttentionForward({ q, x, lengths, batch: lengths.length, rows, dim, scale }).out;
}

const total = (lengths: Int32Array): number => lengths.reduce((s, l) => s + l, 0);

// ---------------------------------------------------------------------------------------------

describe('reference.memoryAttentionForward', () => {
  it('matches a one-sample example computed by hand, and gives out 0 / lse +Infinity for length 0', () => {
    // sample 0: q = [[1, 0], [0, 2]], x = [[1, 2], [3, 4]], scale 1  → S = [[1, 3], [4, 8]]
    // sample 1: length 0
    const q = [1, 0, 0, 2, 5, 5, 5, 5];
    const x = [1, 2, 3, 4];
    const { out, lse } = R.memoryAttentionForward({ q, x, lengths: [2, 0], batch: 2, rows: 2, dim: 2, scale: 1 });
    const e = Math.E;
    const z0 = e + e ** 3;
    const z1 = e ** 4 + e ** 8;
    expectClose(out, [
      (e * 1 + e ** 3 * 3) / z0, (e * 2 + e ** 3 * 4) / z0,
      (e ** 4 * 1 + e ** 8 * 3) / z1, (e ** 4 * 2 + e ** 8 * 4) / z1,
      0, 0, 0, 0,
    ], { rtol: 1e-14, label: 'out' });
    expectClose(lse, [Math.log(z0), Math.log(z1), Infinity, Infinity], { rtol: 1e-14, label: 'lse' });
  });

  it('equals reference.attentionForward with k = v = x packed, one head, offsets from the lengths', () => {
    const rng = makeRng(7);
    const lengths = Int32Array.of(3, 0, 6, 1);
    const B = lengths.length, rows = 3, dim = 5;
    const x = Float64Array.from({ length: total(lengths) * dim }, () => rng.normal());
    const q = Float64Array.from({ length: B * rows * dim }, () => rng.normal());
    const cuSeqlensK = new Int32Array(B + 1);
    lengths.forEach((l, b) => { cuSeqlensK[b + 1] = cuSeqlensK[b]! + l; });
    const cuSeqlensQ = Int32Array.from({ length: B + 1 }, (_, b) => b * rows);
    for (const scale of [undefined, 0.3, -1.7]) {
      const mem = R.memoryAttentionForward({ q, x, lengths, batch: B, rows, dim, scale });
      const att = R.attentionForward({ q, k: x, v: x, batch: B, heads: 1, headDim: dim, cuSeqlensQ, cuSeqlensK, scale });
      expectClose(mem.out, att.out, { rtol: 1e-12, atol: 1e-14, label: `out (scale ${scale})` });
      expectClose(mem.lse, att.lse, { rtol: 1e-12, atol: 1e-14, label: `lse (scale ${scale})` });
    }
  });

  it('rejects inconsistent shapes', () => {
    const base = { q: new Float64Array(8), x: new Float64Array(6), lengths: [1, 2], batch: 2, rows: 2, dim: 2 };
    expect(() => R.memoryAttentionForward(base)).not.toThrow();
    expect(() => R.memoryAttentionForward({ ...base, x: new Float64Array(4) })).toThrow(/expected x to be of length 6 \(Σ lengths·dim\), received length 4/);
    expect(() => R.memoryAttentionForward({ ...base, lengths: [1] })).toThrow(/expected lengths to be of length 2/);
    expect(() => R.memoryAttentionForward({ ...base, lengths: [-1, 4] })).toThrow(/expected lengths\[0\] to be an integer ≥ 0/);
    expect(() => R.memoryAttentionForward({ ...base, scale: NaN })).toThrow(/scale/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ops.memoryAttention', () => {
  const lengths = Int32Array.of(3, 0, 5, 1);
  const B = lengths.length, rows = 2, dim = 3, T = total(lengths);

  it('several samples of different lengths (one of them 0), default scale', () => {
    checkOp('memoryAttention', [{ shape: [B, rows, dim] }, { shape: [T, dim] }],
      ([q, x]) => ops.memoryAttention(q!, x!, lengths),
      ([q, x]) => memRef(q!, x!, lengths, rows, dim), { seed: 11 });
  });
  it('an explicit scale (negative and large), dim 1, one row', () => {
    checkOp('memoryAttention scale 1.9', [{ shape: [B, rows, dim] }, { shape: [T, dim] }],
      ([q, x]) => ops.memoryAttention(q!, x!, lengths, 1.9),
      ([q, x]) => memRef(q!, x!, lengths, rows, dim, 1.9), { seed: 12 });
    checkOp('memoryAttention scale -0.6', [{ shape: [B, rows, dim] }, { shape: [T, dim] }],
      ([q, x]) => ops.memoryAttention(q!, x!, lengths, -0.6),
      ([q, x]) => memRef(q!, x!, lengths, rows, dim, -0.6), { seed: 13 });
    const l1 = Int32Array.of(2, 4);
    checkOp('memoryAttention dim 1 rows 1', [{ shape: [2, 1, 1] }, { shape: [6, 1] }],
      ([q, x]) => ops.memoryAttention(q!, x!, l1),
      ([q, x]) => memRef(q!, x!, l1, 1, 1), { seed: 14 });
  });
  it('q without grad (only x gets one)', () => {
    checkOp('memoryAttention, q no grad', [{ shape: [B, rows, dim], grad: false }, { shape: [T, dim] }],
      ([q, x]) => ops.memoryAttention(q!, x!, lengths, 0.8),
      ([q, x]) => memRef(q!, x!, lengths, rows, dim, 0.8), { seed: 15 });
  });
  it('x without grad (only q gets one)', () => {
    checkOp('memoryAttention, x no grad', [{ shape: [B, rows, dim] }, { shape: [T, dim], grad: false }],
      ([q, x]) => ops.memoryAttention(q!, x!, lengths),
      ([q, x]) => memRef(q!, x!, lengths, rows, dim), { seed: 16 });
  });
  it('x used twice: its gradient accumulates (the kernel\'s accumulate path)', () => {
    const spy = vi.spyOn(kernels, 'memoryAttentionBackward');
    checkOp('memoryAttention(q1, x) + memoryAttention(q2, x)',
      [{ shape: [B, rows, dim] }, { shape: [B, rows, dim] }, { shape: [T, dim] }],
      ([q1, q2, x]) => ops.add(ops.memoryAttention(q1!, x!, lengths), ops.memoryAttention(q2!, x!, lengths, 0.4)),
      ([q1, q2, x]) => {
        const a = memRef(q1!, x!, lengths, rows, dim);
        const b = memRef(q2!, x!, lengths, rows, dim, 0.4);
        return a.map((v, i) => v + b[i]!);
      }, { seed: 18 });
    // and three uses, the third without a grad on its query
    checkOp('three uses of x', [{ shape: [B, rows, dim] }, { shape: [B, rows, dim], grad: false }, { shape: [T, dim] }],
      ([q1, q2, x]) => ops.add(ops.add(ops.memoryAttention(q1!, x!, lengths), ops.memoryAttention(q2!, x!, lengths)), ops.memoryAttention(q1!, x!, lengths, 2)),
      ([q1, q2, x]) => {
        const a = memRef(q1!, x!, lengths, rows, dim);
        const b = memRef(q2!, x!, lengths, rows, dim);
        const c = memRef(q1!, x!, lengths, rows, dim, 2);
        return a.map((v, i) => v + b[i]! + c[i]!);
      }, { seed: 19 });
    // the second and later backward calls for x added into its existing gradient in the kernel
    const modes = spy.mock.calls.map(([o]) => o.accumulate ?? false);
    spy.mockRestore();
    expect(modes.filter((a) => !a).length, 'one overwriting call per checkOp').toBe(2);
    expect(modes.filter((a) => a).length, 'accumulating calls').toBe(3);
  });

  it('copies lengths at the forward: changing the caller\'s array before backward changes nothing', () => {
    const rng = makeRng(24);
    const qv = rng.normalF32(B * rows * dim);
    const xv = rng.normalF32(T * dim);
    const w = rng.normalF32(B * rows * dim);
    const grads = (mutate: boolean): Float32Array[] => {
      const lens = lengths.slice();
      let out: Float32Array[] = [];
      tidy(() => {
        const q = fromArray(qv, [B, rows, dim], { requiresGrad: true });
        const x = fromArray(xv, [T, dim], { requiresGrad: true });
        const y = ops.memoryAttention(q, x, lens);
        if (mutate) lens.set([0, 9, 0, 0]);
        y.backward(w);
        out = [q.grad!.data.slice(), x.grad!.data.slice()];
      });
      return out;
    };
    const [dq0, dx0] = grads(false);
    const [dq1, dx1] = grads(true);
    expectSameBits(dq1!, dq0!, 'dq');
    expectSameBits(dx1!, dx0!, 'dx');
  });
  it('q used twice (over two different memories): its gradient accumulates', () => {
    const l2 = Int32Array.of(0, 2, 2, 4);
    checkOp('memoryAttention(q, x1) + memoryAttention(q, x2)',
      [{ shape: [B, rows, dim] }, { shape: [T, dim] }, { shape: [total(l2), dim] }],
      ([q, x1, x2]) => ops.add(ops.memoryAttention(q!, x1!, lengths), ops.memoryAttention(q!, x2!, l2)),
      ([q, x1, x2]) => {
        const a = memRef(q!, x1!, lengths, rows, dim);
        const b = memRef(q!, x2!, l2, rows, dim);
        return a.map((v, i) => v + b[i]!);
      }, { seed: 20 });
  });

  it('a sample of length 0 gets exactly 0 output and exactly 0 query gradient', () => {
    const rng = makeRng(21);
    tidy(() => {
      const q = fromArray(rng.normalF32(B * rows * dim), [B, rows, dim], { requiresGrad: true });
      const x = fromArray(rng.normalF32(T * dim), [T, dim], { requiresGrad: true });
      const y = ops.memoryAttention(q, x, lengths);
      const s1 = rows * dim; // sample 1 (length 0) occupies [s1, 2·s1)
      expect(Array.from(y.data.subarray(s1, 2 * s1))).toEqual(new Array(s1).fill(0));
      y.backward(rng.normalF32(y.size));
      expect(Array.from(q.grad!.data.subarray(s1, 2 * s1))).toEqual(new Array(s1).fill(0));
      // the other samples' query gradients are not all zero
      expect(maxAbs(q.grad!.data.subarray(0, s1))).toBeGreaterThan(1e-3);
    });
  });

  it('a batch where every sample has length 0 (x empty): zeros, and a zero query gradient', () => {
    const rng = makeRng(22);
    tidy(() => {
      const q = fromArray(rng.normalF32(2 * 2 * 3), [2, 2, 3], { requiresGrad: true });
      const x = fromArray(new Float32Array(0), [0, 3], { requiresGrad: true });
      const y = ops.memoryAttention(q, x, Int32Array.of(0, 0));
      expect(Array.from(y.data)).toEqual(new Array(12).fill(0));
      y.backward(rng.normalF32(12));
      expect(Array.from(q.grad!.data)).toEqual(new Array(12).fill(0));
    });
  });

  it('NaN in one sample\'s memory gives NaN rows for that sample only (forward and backward)', () => {
    const rng = makeRng(22);
    const qv = rng.normalF32(B * rows * dim);
    const xv = rng.normalF32(T * dim);
    const w = rng.normalF32(B * rows * dim);
    const run = (x0: Float32Array): { y: Float32Array; dq: Float32Array; dx: Float32Array } => {
      let res: { y: Float32Array; dq: Float32Array; dx: Float32Array } | undefined;
      tidy(() => {
        const q = fromArray(qv, [B, rows, dim], { requiresGrad: true });
        const x = fromArray(x0, [T, dim], { requiresGrad: true });
        const y = ops.memoryAttention(q, x, lengths);
        const out = y.data.slice();
        y.backward(w);
        res = { y: out, dq: q.grad!.data.slice(), dx: x.grad!.data.slice() };
      });
      return res!;
    };
    const clean = run(xv);
    const bad = xv.slice();
    bad[(3 + 2) * dim + 1] = NaN; // sample 2 owns rows 3 … 7; poison one element of row 5
    const got = run(bad);
    const s = rows * dim;
    const sampleOfRow = [0, 0, 0, 2, 2, 2, 2, 2, 3];
    for (let b = 0; b < B; b++) {
      const ys = got.y.subarray(b * s, (b + 1) * s);
      const dqs = got.dq.subarray(b * s, (b + 1) * s);
      if (b === 2) {
        expect(Array.from(ys).every(Number.isNaN), 'sample 2 out all NaN').toBe(true);
        expect(Array.from(dqs).every(Number.isNaN), 'sample 2 dq all NaN').toBe(true);
      } else {
        expectSameBits(ys, clean.y.subarray(b * s, (b + 1) * s), `sample ${b} out unaffected`);
        expectSameBits(dqs, clean.dq.subarray(b * s, (b + 1) * s), `sample ${b} dq unaffected`);
      }
    }
    for (let t = 0; t < T; t++) {
      const row = got.dx.subarray(t * dim, (t + 1) * dim);
      if (sampleOfRow[t] === 2) expect(Array.from(row).some(Number.isNaN), `dx row ${t} has NaN`).toBe(true);
      else expectSameBits(row, clean.dx.subarray(t * dim, (t + 1) * dim), `dx row ${t} unaffected`);
    }
    // NaN in one query row poisons that row only (and the kernel's lse of that row)
    const qBad = qv.slice();
    // query rows 0-1 belong to sample 0, 2-3 to sample 1 (empty), 4-5 to sample 2, 6-7 to sample 3
    qBad[1 * dim + 2] = NaN; // sample 0, row 1: that row only
    qBad[3 * dim] = NaN; // sample 1, row 3: an empty sample stays 0 / +Infinity whatever q holds
    const fwd = kernels.memoryAttentionForward({ q: qBad, x: xv, lengths, batch: B, rows, dim });
    const ref = R.memoryAttentionForward({ q: qv, x: xv, lengths, batch: B, rows, dim });
    for (let r = 0; r < B * rows; r++) {
      const o = fwd.out.subarray(r * dim, (r + 1) * dim);
      if (r === 1) {
        expect(Array.from(o).every(Number.isNaN), 'row 1 out NaN').toBe(true);
        expect(fwd.lse[r]).toBeNaN();
      } else if (r === 2 || r === 3) {
        // sample 1 is empty: its rows stay 0 / +Infinity whatever q holds
        expect(Array.from(o)).toEqual([0, 0, 0]);
        expect(fwd.lse[r]).toBe(Infinity);
      } else {
        expectClose(o, ref.out.subarray(r * dim, (r + 1) * dim), { rtol: 1e-5, atol: 1e-6, label: `row ${r} out` });
        expectClose(fwd.lse[r]!, ref.lse[r]!, { rtol: 1e-5, atol: 1e-6, label: `row ${r} lse` });
      }
    }
  });

  it('mismatched shapes are clear RangeErrors', () => {
    tidy(() => {
      const q = fromArray(new Float32Array(B * rows * dim), [B, rows, dim]);
      const x = fromArray(new Float32Array(T * dim), [T, dim]);
      const throws = (f: () => unknown, re: RegExp): void => {
        expect(f).toThrow(RangeError);
        expect(f).toThrow(re);
      };
      throws(() => ops.memoryAttention(q, fromArray(new Float32Array((T + 1) * dim), [T + 1, dim]), lengths),
        /^memoryAttention: lengths sum to 9 but x has 10 rows$/);
      throws(() => ops.memoryAttention(q, x, Int32Array.of(3, 1, 5, 1)), /^memoryAttention: lengths sum to 10 but x has 9 rows$/);
      throws(() => ops.memoryAttention(q, x, Int32Array.of(3, 0, 6)), /^memoryAttention: expected 4 lengths \(one per sample\), received 3$/);
      throws(() => ops.memoryAttention(q, x, Int32Array.of(3, 0, 5, 1, 0)), /^memoryAttention: expected 4 lengths \(one per sample\), received 5$/);
      throws(() => ops.memoryAttention(q, x, Int32Array.of(4, -1, 5, 1)), /^memoryAttention: expected lengths\[1\] to be a non-negative integer, received -1$/);
      throws(() => ops.memoryAttention(q.reshape([B * rows, dim]), x, lengths), /^memoryAttention: expected q \[B, R, D\] and x \[T, D\], received \[8, 3\] and \[9, 3\]$/);
      throws(() => ops.memoryAttention(q, x.reshape([1, T, dim]), lengths), /^memoryAttention: expected q \[B, R, D\] and x \[T, D\]/);
      throws(() => ops.memoryAttention(q.reshape([B, 2, rows * dim / 2]), fromArray(new Float32Array(T * 2), [T, 2]), lengths),
        /^memoryAttention: expected q \[B, R, D\] and x \[T, D\], received \[4, 2, 3\] and \[9, 2\]/);
    });
  });

  it('returns every pool buffer it takes (lse, dq and dx temporaries), with and without grads', () => {
    const rng = makeRng(23);
    const qv = rng.normalF32(B * rows * dim);
    const xv = rng.normalF32(T * dim);
    const w = rng.normalF32(B * rows * dim);
    const before = pool.stats().liveBytes;
    for (const [qGrad, xGrad] of [[true, true], [false, true], [true, false], [false, false]] as const) {
      tidy(() => {
        const q = fromArray(qv, [B, rows, dim], { requiresGrad: qGrad });
        const x = fromArray(xv, [T, dim], { requiresGrad: xGrad });
        const y = ops.add(ops.memoryAttention(q, x, lengths), ops.memoryAttention(q, x, lengths, 0.5));
        if (y.requiresGrad) y.backward(w);
      });
      expect(pool.stats().liveBytes, `q grad ${qGrad}, x grad ${xGrad}`).toBe(before);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('kernels.memoryAttentionBackward with accumulate', () => {
  const cases = [
    { name: 'several samples, one empty', lengths: Int32Array.of(4, 0, 7, 2), rows: 3, dim: 5 },
    { name: 'one sample (threaded GEMMs)', lengths: Int32Array.of(23), rows: 6, dim: 17 },
  ];
  for (const c of cases) {
    it(`adds exactly the non-accumulating dx to the prior contents; dq is overwritten (${c.name})`, () => {
      const rng = makeRng(31);
      const batch = c.lengths.length, T = total(c.lengths), nq = batch * c.rows * c.dim, nx = T * c.dim;
      const shape = { batch, rows: c.rows, dim: c.dim, lengths: c.lengths, scale: 0.37 };
      const q = rng.normalF32(nq);
      const x = rng.normalF32(nx);
      const dOut = rng.normalF32(nq);
      const { out, lse } = kernels.memoryAttentionForward({ q, x, ...shape });
      const plain = kernels.memoryAttentionBackward({ q, x, out, lse, dOut, ...shape, dq: new Float32Array(nq).fill(NaN), dx: new Float32Array(nx).fill(NaN) });
      for (const v of plain.dx) expect(Number.isFinite(v)).toBe(true);
      const prior = rng.normalF32(nx, 0, 3);
      const dx = prior.slice();
      const dq = new Float32Array(nq).fill(NaN); // overwritten even when accumulating
      const acc = kernels.memoryAttentionBackward({ q, x, out, lse, dOut, ...shape, dq, dx, accumulate: true });
      expect(acc.dx).toBe(dx);
      expect(acc.dq).toBe(dq);
      expectSameBits(acc.dq, plain.dq, 'dq');
      const want = Float64Array.from(prior, (p, i) => p + plain.dx[i]!);
      // one fp32 rounding of the sum (and of the kernel's own accumulation order)
      expectClose(acc.dx, want, { rtol: 2e-6, atol: 2e-6 * maxAbs(want), label: 'dx = prior + dx' });
      // and not the plain result (the prior really is added)
      expect(maxAbs(Float64Array.from(acc.dx, (v, i) => v - plain.dx[i]!))).toBeGreaterThan(0.1);
      // accumulating twice adds twice
      kernels.memoryAttentionBackward({ q, x, out, lse, dOut, ...shape, dq, dx, accumulate: true });
      expectClose(dx, Float64Array.from(prior, (p, i) => p + 2 * plain.dx[i]!), { rtol: 4e-6, atol: 4e-6 * maxAbs(want), label: 'dx = prior + 2·dx' });
    });
  }
});

// ---------------------------------------------------------------------------------------------

/** float64 alpha · a [G, m, k] · b [G, k, n] (or b [G, n, k] transposed). */
function bmmRef(a: ArrayLike<number>, b: ArrayLike<number>, G: number, m: number, k: number, n: number, transB: boolean, alpha = 1): Float64Array {
  const out = new Float64Array(G * m * n);
  for (let g = 0; g < G; g++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[(g * m + i) * k + p]! * (transB ? b[(g * n + j) * k + p]! : b[(g * k + p) * n + j]!);
    out[(g * m + i) * n + j] = alpha * s;
  }
  return out;
}

describe('ops.bmm', () => {
  const G = 3, m = 2, k = 4, n = 5;
  it('a [G, m, k] · b [G, k, n], alpha 1 and alpha ≠ 1', () => {
    checkOp('bmm', [{ shape: [G, m, k] }, { shape: [G, k, n] }],
      ([a, b]) => ops.bmm(a!, b!),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, false), { seed: 41 });
    checkOp('bmm alpha -0.7', [{ shape: [G, m, k] }, { shape: [G, k, n] }],
      ([a, b]) => ops.bmm(a!, b!, { alpha: -0.7 }),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, false, -0.7), { seed: 42 });
  });
  it('transB: b [G, n, k] used transposed, alpha ≠ 1', () => {
    checkOp('bmm transB', [{ shape: [G, m, k] }, { shape: [G, n, k] }],
      ([a, b]) => ops.bmm(a!, b!, { transB: true }),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, true), { seed: 43 });
    checkOp('bmm transB alpha 1.6', [{ shape: [G, m, k] }, { shape: [G, n, k] }],
      ([a, b]) => ops.bmm(a!, b!, { transB: true, alpha: 1.6 }),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, true, 1.6), { seed: 44 });
  });
  it('one side without grad', () => {
    checkOp('bmm, a no grad', [{ shape: [G, m, k], grad: false }, { shape: [G, n, k] }],
      ([a, b]) => ops.bmm(a!, b!, { transB: true, alpha: 0.5 }),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, true, 0.5), { seed: 45 });
    checkOp('bmm, b no grad', [{ shape: [G, m, k] }, { shape: [G, k, n], grad: false }],
      ([a, b]) => ops.bmm(a!, b!, { alpha: 2 }),
      ([a, b]) => bmmRef(a!, b!, G, m, k, n, false, 2), { seed: 46 });
  });
  it('inputs used twice accumulate their gradients (GEMM beta = 1), both layouts', () => {
    checkOp('bmm(a, b) + bmm(a, c, transB) + bmm(a2, b)',
      [{ shape: [G, m, k] }, { shape: [G, k, n] }, { shape: [G, n, k] }, { shape: [G, m, k] }],
      ([a, b, c, a2]) => ops.add(ops.add(ops.bmm(a!, b!, { alpha: 0.3 }), ops.bmm(a!, c!, { transB: true, alpha: -1.2 })), ops.bmm(a2!, b!)),
      ([a, b, c, a2]) => {
        const x = bmmRef(a!, b!, G, m, k, n, false, 0.3);
        const y = bmmRef(a!, c!, G, m, k, n, true, -1.2);
        const z = bmmRef(a2!, b!, G, m, k, n, false);
        return x.map((v, i) => v + y[i]! + z[i]!);
      }, { seed: 47 });
    checkOp('bmm(a, c, transB) + bmm(a2, c, transB)',
      [{ shape: [G, m, k] }, { shape: [G, n, k] }, { shape: [G, m, k] }],
      ([a, c, a2]) => ops.add(ops.bmm(a!, c!, { transB: true }), ops.bmm(a2!, c!, { transB: true, alpha: 0.25 })),
      ([a, c, a2]) => {
        const x = bmmRef(a!, c!, G, m, k, n, true);
        const y = bmmRef(a2!, c!, G, m, k, n, true, 0.25);
        return x.map((v, i) => v + y[i]!);
      }, { seed: 48 });
  });
  it('rejects mismatched shapes', () => {
    tidy(() => {
      const a = fromArray(new Float32Array(G * m * k), [G, m, k]);
      expect(() => ops.bmm(a, fromArray(new Float32Array(G * n * k), [G, n, k]))).toThrow(/^bmm: cannot multiply \[3, 2, 4\] by \[3, 5, 4\]$/);
      expect(() => ops.bmm(a, fromArray(new Float32Array(G * k * n), [G, k, n]), { transB: true })).toThrow(/^bmm: cannot multiply \[3, 2, 4\] by \[3, 4, 5\] transposed$/);
      expect(() => ops.bmm(a, fromArray(new Float32Array(2 * k * n), [2, k, n]))).toThrow(RangeError);
      expect(() => ops.bmm(a.reshape([G * m, k]), fromArray(new Float32Array(k * n), [k, n]))).toThrow(RangeError);
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('ops.withZeroGrad', () => {
  it('passes y and its gradient through; the extra inputs get a gradient of exactly zero', () => {
    checkOp('withZeroGrad(2·a, p, r)', [{ shape: [2, 3] }, { shape: [4] }, { shape: [2, 2] }],
      ([a, p, r]) => ops.withZeroGrad(ops.scale(a!, 2), p!, r!),
      ([a]) => a!.map((v) => 2 * v), { seed: 51 });
    const rng = makeRng(52);
    const w = rng.normalF32(6);
    tidy(() => {
      const a = fromArray(rng.normalF32(6), [2, 3], { requiresGrad: true });
      const p = fromArray(rng.normalF32(4), [4], { requiresGrad: true });
      const y = ops.withZeroGrad(a, p);
      expect(y.shape).toEqual([2, 3]);
      expect(y.data).toBe(a.data); // a view: the same storage
      y.backward(w);
      expectSameBits(a.grad!.data, w, 'd a');
      expect(p.grad, 'p got a gradient').not.toBeNull();
      expect(Array.from(p.grad!.data)).toEqual([0, 0, 0, 0]);
    });
  });
  it('adds nothing to a gradient the extra input gets elsewhere (either backward order)', () => {
    const rng = makeRng(53);
    const w = rng.normalF32(6);
    const colSums = [0, 1, 2].map((j) => w[j]! + w[3 + j]!);
    tidy(() => {
      const a = fromArray(rng.normalF32(6), [2, 3], { requiresGrad: true });
      const p = fromArray(rng.normalF32(3), [3], { requiresGrad: true });
      // p is added (broadcast over rows) and also marked zero-grad: d p = column sums of w
      const build = (): Tensor => ops.withZeroGrad(ops.add(ops.mul(a, a), p), p);
      build().backward(w);
      expectClose(p.grad!.data, colSums, { rtol: 1e-6, atol: 1e-6, label: 'd p (first backward)' });
      build().backward(w); // p.grad exists now: the zero contribution goes through the add-into path
      expectClose(p.grad!.data, colSums.map((v) => 2 * v), { rtol: 1e-6, atol: 1e-6, label: 'd p (second backward)' });
      expectClose(a.grad!.data, Array.from(a.data, (v, i) => 4 * v * w[i]!), { rtol: 1e-6, atol: 1e-6, label: 'd a' });
    });
    tidy(() => {
      const p = fromArray(rng.normalF32(3), [3], { requiresGrad: true });
      const z = ops.withZeroGrad(ops.scale(p, 3), p); // p's only real path is through y
      z.backward(Float32Array.of(1, -2, 0.5));
      expectClose(p.grad!.data, [3, -6, 1.5], { rtol: 1e-7, label: 'd p through y only' });
    });
  });
});
