// test/kernels/memoryAttention.test.ts — kernels.memoryAttentionForward / memoryAttentionBackward
// (and their …Async forms) against the float64 reference (reference.memoryAttentionForward), the
// backward against central finite differences of that reference, for every SIMD level × {1, all}
// threads.
//
// Shapes: rows 1 … 16, dims 1 … 64 (odd ones included), samples of length 0 and 1, one long
// sample (several tiles of memory rows), one sample alone (the kernel's threaded-GEMM path when
// there are fewer samples than threads) and several (one thread per sample), scales ≠ 1/√D
// (negative, peaky).
//
// Tolerances:
// - out: |x − r| ≤ 1e-5·|r| + 1e-5·max|out_ref| (out is a convex combination of memory rows);
//   rows of a sample of length 0: exactly 0.
// - lse: |x − r| ≤ 1e-5·|r| + 1e-5; exactly +Infinity for a sample of length 0.
// - dq, dx: |x − r| ≤ 1e-4·max|r| of the tensor against per-element finite differences of the
//   reference (small cases; each sample differenced on its own, samples being independent); for
//   the larger cases ⟨g, v⟩ against the finite difference along random directions v, within
//   1e-4·Σ|g_i v_i|. dq rows of a sample of length 0: exactly 0.
// Outputs are guarded (NaN-prefilled, guard words checked): nothing left unwritten, nothing
// written outside. Async gives the same bits as sync; 1 and all threads give the same bits.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectSameBits, guarded, kernelConfigSuite, maxAbs } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

interface Spec {
  lengths: number[];
  rows: number;
  dim: number;
  scale?: number;
}

interface Case {
  name: string;
  batch: number;
  rows: number;
  dim: number;
  scale: number | undefined;
  lengths: Int32Array;
  q: Float32Array;
  x: Float32Array;
  dOut: Float32Array;
  fwd: { out: Float64Array; lse: Float64Array };
  /** Per-element finite differences (small cases). */
  fd?: { dq: Float64Array; dx: Float64Array } | undefined;
  /** Directional finite differences: ⟨dq, vq⟩ + ⟨dx, vx⟩ ≈ fd (larger cases). */
  dirs?: Array<{ vq: Float64Array; vx: Float64Array; fd: number }> | undefined;
}

const FD_BUDGET = 4e8; // multiply-adds of the per-element finite differences per case

function makeCase(seed: number, s: Spec): Case {
  const rng = makeRng(seed);
  const lengths = Int32Array.from(s.lengths);
  const batch = lengths.length, { rows, dim } = s;
  const T = s.lengths.reduce((a, b) => a + b, 0);
  const q = rng.normalF32(batch * rows * dim);
  const x = rng.normalF32(T * dim);
  const dOut = rng.normalF32(batch * rows * dim);
  const shape = { batch, rows, dim, scale: s.scale, lengths };
  const fwd = reference.memoryAttentionForward({ ...shape, q, x });
  const name = `B=${batch} R=${rows} D=${dim} lengths=[${s.lengths.join(',')}]${s.scale !== undefined ? ` scale=${s.scale}` : ''}`;
  const c: Case = { name, ...shape, q, x, dOut, fwd };
  // L = ⟨dOut, out(q, x)⟩
  const loss = (qv: ArrayLike<number>, xv: ArrayLike<number>): number => dot(dOut, reference.memoryAttentionForward({ ...shape, q: qv, x: xv }).out);
  const cost = s.lengths.reduce((acc, l) => acc + 2 * (rows + l) * dim * 4 * rows * l * dim, 0);
  if (cost <= FD_BUDGET) {
    // samples are independent: difference each one on its own (batch 1)
    const dq = new Float64Array(q.length);
    const dx = new Float64Array(x.length);
    let off = 0;
    for (let b = 0; b < batch; b++) {
      const l = lengths[b]!;
      const nq = rows * dim;
      const qs = Float64Array.from(q.subarray(b * nq, (b + 1) * nq));
      const xs = Float64Array.from(x.subarray(off * dim, (off + l) * dim));
      const ds = dOut.subarray(b * nq, (b + 1) * nq);
      if (l > 0) {
        const one = { batch: 1, rows, dim, scale: s.scale, lengths: Int32Array.of(l) };
        dq.set(finiteDiffGrad((v) => dot(ds, reference.memoryAttentionForward({ ...one, q: v, x: xs }).out), qs.slice()), b * nq);
        dx.set(finiteDiffGrad((v) => dot(ds, reference.memoryAttentionForward({ ...one, q: qs, x: v }).out), xs.slice()), off * dim);
      }
      off += l;
    }
    c.fd = { dq, dx };
  } else {
    const h = 1e-6;
    c.dirs = Array.from({ length: 4 }, () => {
      const vq = Float64Array.from({ length: q.length }, () => rng.normal());
      const vx = Float64Array.from({ length: x.length }, () => rng.normal());
      const plus = loss(Float64Array.from(q, (v, i) => v + h * vq[i]!), Float64Array.from(x, (v, i) => v + h * vx[i]!));
      const minus = loss(Float64Array.from(q, (v, i) => v - h * vq[i]!), Float64Array.from(x, (v, i) => v - h * vx[i]!));
      return { vq, vx, fd: (plus - minus) / (2 * h) };
    });
  }
  return c;
}

const CASES: Case[] = [
  makeCase(7000, { lengths: [1], rows: 1, dim: 1 }),
  makeCase(7010, { lengths: [4, 0, 7], rows: 3, dim: 5, scale: 0.37 }),
  makeCase(7020, { lengths: [37, 0, 19, 1, 50], rows: 6, dim: 20 }),
  makeCase(7030, { lengths: [65], rows: 8, dim: 33 }), // one sample: threaded GEMMs
  makeCase(7040, { lengths: [30, 12], rows: 4, dim: 8, scale: 4 }), // peaky softmax
  makeCase(7050, { lengths: [0, 0, 3, 0], rows: 2, dim: 7, scale: -1.1 }), // mostly empty
  makeCase(7060, { lengths: [100, 3], rows: 16, dim: 64 }), // the decoder: C·H = 16 rows
  makeCase(7070, { lengths: [300, 5, 0], rows: 3, dim: 16 }), // a long sample
  makeCase(7080, { lengths: [257], rows: 12, dim: 48, scale: 0.2 }),
];

const opts = (c: Case) => ({
  q: c.q, x: c.x, batch: c.batch, rows: c.rows, dim: c.dim, lengths: c.lengths,
  ...(c.scale !== undefined ? { scale: c.scale } : {}),
});

/** Per query row [batch·rows]: whether its sample has length 0. */
const emptyRows = (c: Case): boolean[] => Array.from({ length: c.batch * c.rows }, (_, r) => c.lengths[Math.floor(r / c.rows)] === 0);

interface Outs { out: Float32Array; lse: Float32Array }
interface Grads { dq: Float32Array; dx: Float32Array }

function runForward(c: Case): Outs {
  const out = guarded(c.q.length);
  const lse = guarded(c.batch * c.rows);
  const res = kernels.memoryAttentionForward({ ...opts(c), out: out.view, lse: lse.view });
  expect(res.out).toBe(out.view);
  expect(res.lse).toBe(lse.view);
  out.check(`${c.name} out`);
  lse.check(`${c.name} lse`);
  return res;
}

function runBackward(c: Case, f: Outs): Grads {
  const dq = guarded(c.q.length);
  const dx = guarded(c.x.length);
  const res = kernels.memoryAttentionBackward({ ...opts(c), out: f.out, lse: f.lse, dOut: c.dOut, dq: dq.view, dx: dx.view });
  expect(res.dq).toBe(dq.view);
  expect(res.dx).toBe(dx.view);
  dq.check(`${c.name} dq`);
  dx.check(`${c.name} dx`);
  return res;
}

function checkForward(c: Case, res: Outs, what: string): void {
  expectClose(res.out, c.fwd.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(c.fwd.out), label: `${c.name} out ${what}`, cols: c.dim });
  expectClose(res.lse, c.fwd.lse, { rtol: 1e-5, atol: 1e-5, label: `${c.name} lse ${what}` });
  emptyRows(c).forEach((empty, r) => {
    if (!empty) return;
    expect(res.lse[r], `${c.name} lse[${r}] of an empty sample`).toBe(Infinity);
    for (let d = 0; d < c.dim; d++) if (!Object.is(res.out[r * c.dim + d], 0)) expect.fail(`${c.name}: out[${r}, ${d}] of an empty sample = ${res.out[r * c.dim + d]}`);
  });
}

function checkBackward(c: Case, res: Grads): void {
  if (c.fd) {
    for (const name of ['dq', 'dx'] as const) {
      expectClose(res[name], c.fd[name], { rtol: 0, atol: 1e-4 * maxAbs(c.fd[name]), label: `${c.name} ${name} vs finite differences`, cols: c.dim });
    }
  }
  for (const [i, dir] of (c.dirs ?? []).entries()) {
    let got = 0, mag = 0;
    for (let j = 0; j < res.dq.length; j++) {
      got += res.dq[j]! * dir.vq[j]!;
      mag += Math.abs(res.dq[j]! * dir.vq[j]!);
    }
    for (let j = 0; j < res.dx.length; j++) {
      got += res.dx[j]! * dir.vx[j]!;
      mag += Math.abs(res.dx[j]! * dir.vx[j]!);
    }
    expectClose(got, dir.fd, { rtol: 0, atol: 1e-4 * mag + 1e-7, label: `${c.name} directional derivative ${i}` });
  }
  emptyRows(c).forEach((empty, r) => {
    if (!empty) return;
    for (let d = 0; d < c.dim; d++) if (res.dq[r * c.dim + d] !== 0) expect.fail(`${c.name}: dq[${r}, ${d}] of an empty sample = ${res.dq[r * c.dim + d]}`);
  });
}

// ---------------------------------------------------------------------------------------------

const CONFIGS = kernelConfigSuite(backend);

for (const cfg of CONFIGS) {
  describe(`memory attention kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('memoryAttentionForward matches the reference (guarded in-place and allocated outputs)', () => {
      for (const c of CASES) {
        const res = runForward(c);
        checkForward(c, res, 'in place');
        const fresh = kernels.memoryAttentionForward(opts(c));
        expectSameBits(fresh.out, res.out, `${c.name} out allocated vs in place`);
        expectSameBits(fresh.lse, res.lse, `${c.name} lse allocated vs in place`);
      }
    });

    it('memoryAttentionBackward matches finite differences of the reference; deterministic', () => {
      for (const c of CASES) {
        const f = runForward(c);
        const res = runBackward(c, f);
        checkBackward(c, res);
        // a second call into garbage-filled outputs gives the same bits
        const again = kernels.memoryAttentionBackward({
          ...opts(c), out: f.out, lse: f.lse, dOut: c.dOut,
          dq: new Float32Array(c.q.length).fill(123), dx: new Float32Array(c.x.length).fill(-Infinity),
        });
        expectSameBits(again.dq, res.dq, `${c.name} dq second call`);
        expectSameBits(again.dx, res.dx, `${c.name} dx second call`);
      }
    });

    it('the …Async forms give the same bits as the sync calls', async () => {
      for (const c of [CASES[1]!, CASES[2]!, CASES[3]!, CASES[6]!]) {
        const f = kernels.memoryAttentionForward(opts(c));
        const fa = await kernels.memoryAttentionForwardAsync(opts(c));
        expectSameBits(fa.out, f.out, `${c.name} async out`);
        expectSameBits(fa.lse, f.lse, `${c.name} async lse`);
        const bargs = { ...opts(c), out: f.out, lse: f.lse, dOut: c.dOut };
        const b = kernels.memoryAttentionBackward(bargs);
        const ba = await kernels.memoryAttentionBackwardAsync(bargs);
        expectSameBits(ba.dq, b.dq, `${c.name} async dq`);
        expectSameBits(ba.dx, b.dx, `${c.name} async dx`);
        // accumulate: the same bits asynchronously too
        const prior = Float32Array.from(c.x, (v) => 0.5 * v);
        const dxs = prior.slice();
        const dxa = prior.slice();
        kernels.memoryAttentionBackward({ ...bargs, dx: dxs, accumulate: true });
        await kernels.memoryAttentionBackwardAsync({ ...bargs, dx: dxa, accumulate: true });
        expectSameBits(dxa, dxs, `${c.name} async accumulate dx`);
        // the binding copies lengths: changing them while the call is in flight changes nothing
        const lengths = c.lengths.slice();
        const pending = kernels.memoryAttentionForwardAsync({ ...opts(c), lengths });
        lengths.fill(0);
        lengths[0] = c.x.length / c.dim;
        const late = await pending;
        expectSameBits(late.out, f.out, `${c.name} async out, lengths changed in flight`);
        expectSameBits(late.lse, f.lse, `${c.name} async lse, lengths changed in flight`);
      }
    });

    if (cfg.threads > 1) {
      it(`1 and ${cfg.threads} threads give identical results (forward and backward)`, () => {
        try {
          for (const c of CASES) {
            expect(backend.setNumThreads(1)).toBe(1);
            const f1 = kernels.memoryAttentionForward(opts(c));
            const b1 = kernels.memoryAttentionBackward({ ...opts(c), out: f1.out, lse: f1.lse, dOut: c.dOut });
            expect(backend.setNumThreads(cfg.threads)).toBe(cfg.threads);
            const f2 = kernels.memoryAttentionForward(opts(c));
            const b2 = kernels.memoryAttentionBackward({ ...opts(c), out: f1.out, lse: f1.lse, dOut: c.dOut });
            expectSameBits(f2.out, f1.out, `${c.name} out, ${cfg.threads} vs 1 threads`);
            expectSameBits(f2.lse, f1.lse, `${c.name} lse, ${cfg.threads} vs 1 threads`);
            expectSameBits(b2.dq, b1.dq, `${c.name} dq, ${cfg.threads} vs 1 threads`);
            expectSameBits(b2.dx, b1.dx, `${c.name} dx, ${cfg.threads} vs 1 threads`);
          }
        } finally {
          backend.setNumThreads(cfg.threads);
        }
      });
    }
  });
}

describe('memory attention kernels: defaults and non-finite inputs', () => {
  it('scale defaults to 1/√dim', () => {
    const c = CASES[2]!;
    const dflt = kernels.memoryAttentionForward(opts(c));
    const explicit = kernels.memoryAttentionForward({ ...opts(c), scale: 1 / Math.sqrt(c.dim) });
    expectSameBits(dflt.out, explicit.out, 'out');
    expectSameBits(dflt.lse, explicit.lse, 'lse');
    const other = kernels.memoryAttentionForward({ ...opts(c), scale: 1 });
    expect(maxAbs(Float32Array.from(other.out, (v, i) => v - dflt.out[i]!))).toBeGreaterThan(1e-3);
  });

  it('large scores do not overflow (max-shifted softmax), as in the reference', () => {
    const c = CASES[4]!;
    const big = { ...opts(c), scale: 60 };
    const res = kernels.memoryAttentionForward(big);
    const want = reference.memoryAttentionForward(big);
    expectClose(res.out, want.out, { rtol: 1e-4, atol: 1e-4 * maxAbs(want.out), label: 'out, scale 60' });
    expectClose(res.lse, want.lse, { rtol: 1e-5, atol: 1e-5, label: 'lse, scale 60' });
  });

  it('Infinity in a sample\'s memory gives non-finite rows for that sample only', () => {
    const c = CASES[2]!; // lengths [37, 0, 19, 1, 50]
    const x = c.x.slice();
    x[(37 + 4) * c.dim + 3] = Infinity; // sample 2, its row 4
    const res = kernels.memoryAttentionForward({ ...opts(c), x });
    const want = reference.memoryAttentionForward({ ...opts(c), x });
    for (let r = 0; r < c.batch * c.rows; r++) {
      const b = Math.floor(r / c.rows);
      const row = res.out.subarray(r * c.dim, (r + 1) * c.dim);
      const ref = want.out.subarray(r * c.dim, (r + 1) * c.dim);
      if (b === 2) {
        // the reference's row holds NaN (and ±Infinity); the kernel must not give a finite row
        expect(Array.from(ref).some((v) => !Number.isFinite(v))).toBe(true);
        expect(Array.from(row).some((v) => !Number.isFinite(v)), `row ${r} of the poisoned sample`).toBe(true);
      } else {
        expectClose(row, ref, { rtol: 1e-5, atol: 1e-5 * maxAbs(c.fwd.out), label: `row ${r}` });
      }
    }
  });
});
