// test/kernels/attention.test.ts — kernels.attentionForward / attentionBackward (and their
// …Async forms) against the float64 references in lib/reference/attention.ts, and the backward
// also against central finite differences of the reference forward (small shapes), for every
// SIMD level × {1, all} threads. Packed layout: q [Tq, ·], k, v [Tk, ·] with per-sample offsets
// cuSeqlensQ / cuSeqlensK, head h at columns h·headDim, out [Tq, H·Dh], lse [H, Tq].
//
// Shapes: seeded random, odd sizes included; head dims 1, 6, 64, 100; Lq = 1; Lq = 7 with
// Lk = 500 (the decoder's cross-attention, split over key blocks); Lq > Lk and Lq < Lk with
// causal (no offset); ragged samples with zero-length keys (rows that see nothing) and
// zero-length queries; uniform lengths (the padded layout); causal + ragged together; scales
// ≠ 1/√Dh (negative, large); wider row strides with NaN gap columns (a stray read poisons the
// result).
//
// Tolerances:
// - out: |x − r| ≤ 1e-5·|r| + 1e-5·max|out_ref| (the tensor's largest magnitude: out is a convex
//   combination of v rows, near-zero entries come from cancellation and have no relative
//   accuracy); rows that see no key: out exactly 0.
// - lse: |x − r| ≤ 1e-5·|r| + 1e-5, and +Infinity exactly where the row sees no key.
// - dq, dk, dv: |x − r| ≤ 1e-4·max|r| of the tensor (vs the reference backward and vs finite
//   differences); exactly 0 for rows that see no key and for keys no query sees.
// Outputs are guarded (NaN-prefilled, guard words checked): nothing left unwritten, nothing
// written outside. Async forms give the same bits as sync; 1 and 2 threads give the same bits.

import { beforeAll, describe, expect, it } from 'vitest';
import { backend, kernels } from '../../lib/index.js';
import { reference } from '../../lib/reference/index.js';
import { applyConfig, expectClose, expectSameBits, guarded, kernelConfigSuite, maxAbs } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

interface Case {
  name: string;
  batch: number;
  heads: number;
  headDim: number;
  cuSeqlensQ: Int32Array;
  cuSeqlensK: Int32Array;
  tq: number;
  tk: number;
  width: number;
  /** Extra floats per row of q, k, v (0: dense). */
  extra: [number, number, number];
  scale: number | undefined;
  causal: boolean;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dOut: Float32Array;
  fwd: { out: Float64Array; lse: Float64Array };
  bwd: { dq: Float64Array; dk: Float64Array; dv: Float64Array };
  fd?: { dq: Float64Array; dk: Float64Array; dv: Float64Array } | undefined;
  /** Per query row [Tq]: true when its sample has no key. */
  maskedRow: Uint8Array;
  /** Per key row [Tk]: true when no query sees it. */
  unseenKey: Uint8Array;
}

interface Spec {
  heads: number;
  headDim: number;
  /** per-sample query / key lengths */
  lq: number[];
  lk: number[];
  scale?: number;
  causal?: boolean;
  extra?: [number, number, number];
}

const FD_BUDGET = 3e6; // multiply-adds of the finite differences per case

const offsets = (lens: number[]): Int32Array => {
  const cu = new Int32Array(lens.length + 1);
  lens.forEach((l, b) => { cu[b + 1] = cu[b]! + l; });
  return cu;
};

/** Rows [T, W] → rows stride W + extra apart with NaN gap columns (and no trailing gap). */
function widen(x: Float32Array, T: number, W: number, extra: number): Float32Array {
  if (extra === 0) return x;
  const st = W + extra;
  const y = new Float32Array(T === 0 ? 0 : (T - 1) * st + W).fill(NaN);
  for (let t = 0; t < T; t++) y.set(x.subarray(t * W, t * W + W), t * st);
  return y;
}

/** Finite differences of L = ⟨dOut, out⟩ one sample at a time (samples are independent; dense rows). */
function fdGrads(c: Omit<Case, 'fd' | 'name' | 'maskedRow' | 'unseenKey'>): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const W = c.width;
  const dq = new Float64Array(c.tq * W);
  const dk = new Float64Array(c.tk * W);
  const dv = new Float64Array(c.tk * W);
  for (let b = 0; b < c.batch; b++) {
    const q0 = c.cuSeqlensQ[b]!, q1 = c.cuSeqlensQ[b + 1]!, k0 = c.cuSeqlensK[b]!, k1 = c.cuSeqlensK[b + 1]!;
    const qs = Float64Array.from(c.q.subarray(q0 * W, q1 * W));
    const ks = Float64Array.from(c.k.subarray(k0 * W, k1 * W));
    const vs = Float64Array.from(c.v.subarray(k0 * W, k1 * W));
    const ds = c.dOut.subarray(q0 * W, q1 * W);
    const shape = {
      batch: 1, heads: c.heads, headDim: c.headDim, scale: c.scale, causal: c.causal,
      cuSeqlensQ: Int32Array.of(0, q1 - q0), cuSeqlensK: Int32Array.of(0, k1 - k0),
    };
    const loss = (q: Float64Array, k: Float64Array, v: Float64Array): number => dot(ds, reference.attentionForward({ ...shape, q, k, v }).out);
    dq.set(finiteDiffGrad((x) => loss(x, ks, vs), qs), q0 * W);
    dk.set(finiteDiffGrad((x) => loss(qs, x, vs), ks), k0 * W);
    dv.set(finiteDiffGrad((x) => loss(qs, ks, x), vs), k0 * W);
  }
  return { dq, dk, dv };
}

function makeCase(seed: number, s: Spec): Case {
  const rng = makeRng(seed);
  const { heads, headDim } = s;
  const batch = s.lq.length;
  const cuSeqlensQ = offsets(s.lq), cuSeqlensK = offsets(s.lk);
  const tq = cuSeqlensQ[batch]!, tk = cuSeqlensK[batch]!;
  const width = heads * headDim;
  const extra = s.extra ?? [0, 0, 0];
  const qd = rng.normalF32(tq * width);
  const kd = rng.normalF32(tk * width);
  const vd = rng.normalF32(tk * width);
  const dOut = rng.normalF32(tq * width);
  const q = widen(qd, tq, width, extra[0]), k = widen(kd, tk, width, extra[1]), v = widen(vd, tk, width, extra[2]);
  const causal = s.causal ?? false;
  const strides = { qStride: width + extra[0], kStride: width + extra[1], vStride: width + extra[2] };
  const shape = { batch, heads, headDim, cuSeqlensQ, cuSeqlensK, scale: s.scale, causal, ...strides };
  const fwd = reference.attentionForward({ ...shape, q, k, v });
  const bwd = reference.attentionBackward({ ...shape, q, k, v, dOut });
  const maskedRow = new Uint8Array(tq);
  const unseenKey = new Uint8Array(tk);
  for (let b = 0; b < batch; b++) {
    const lq = s.lq[b]!, lk = s.lk[b]!;
    if (lk === 0) maskedRow.fill(1, cuSeqlensQ[b]!, cuSeqlensQ[b + 1]!);
    const seen = lq === 0 ? 0 : causal ? Math.min(lk, lq) : lk;
    unseenKey.fill(1, cuSeqlensK[b]! + seen, cuSeqlensK[b + 1]!);
  }
  const base = { batch, heads, headDim, cuSeqlensQ, cuSeqlensK, tq, tk, width, extra, scale: s.scale, causal, q, k, v, dOut, fwd, bwd };
  // each FD evaluation costs ~2·lq·lk·W per sample, over (lq + 2·lk)·W inputs, twice
  const fdCost = s.lq.reduce((sum, lq, b) => sum + 2 * (lq + 2 * s.lk[b]!) * width * 2 * lq * s.lk[b]! * width, 0);
  const dense = extra.every((e) => e === 0);
  const name = `H=${heads} Dh=${headDim} Lq=[${s.lq.join(',')}] Lk=[${s.lk.join(',')}]${s.scale !== undefined ? ` scale=${s.scale}` : ''}` +
    `${causal ? ' causal' : ''}${dense ? '' : ` stride+[${extra.join(',')}]`}`;
  const fd = dense && fdCost <= FD_BUDGET ? fdGrads({ ...base, q: qd, k: kd, v: vd }) : undefined;
  return { ...base, name, fd, maskedRow, unseenKey };
}

/** Random seeded spec: odd sizes, ragged lengths with zeros, causal or not, sometimes strided. */
function randomSpec(seed: number, headDim: number): Spec {
  const rng = makeRng(seed);
  const batch = rng.int(1, 4);
  const heads = rng.int(1, 3);
  const lq = rng.pick([1, 2, 7, 13, 33]);
  const lk = rng.pick([lq, 1, 5, 17, 40]);
  const causal = rng.next() < 0.5;
  const ragged = rng.next() < 0.7;
  const lqs = Array.from({ length: batch }, (_, b) => (ragged && b === batch - 1 && batch > 1 ? rng.int(0, lq) : lq));
  const lks = Array.from({ length: batch }, (_, b) => (ragged ? (b === 0 && batch > 1 ? 0 : rng.int(1, lk)) : lk));
  const extra: [number, number, number] = rng.next() < 0.4 ? [1, 2 * heads * headDim, 3] : [0, 0, 0];
  return { heads, headDim, lq: lqs, lk: lks, causal, extra };
}

const CASES: Case[] = [
  makeCase(6000, { heads: 1, headDim: 1, lq: [1], lk: [1] }),
  makeCase(6010, { heads: 3, headDim: 6, lq: [5, 5], lk: [9, 0] }),
  makeCase(6020, { heads: 2, headDim: 64, lq: [33, 33, 33], lk: [33, 5, 0], causal: true }),
  makeCase(6030, { heads: 2, headDim: 100, lq: [1, 1], lk: [100, 37] }),
  makeCase(6040, { heads: 2, headDim: 64, lq: [7, 7], lk: [500, 375] }), // decoder
  makeCase(6050, { heads: 3, headDim: 6, lq: [7, 7], lk: [0, 500] }), // decoder, a sample without keys
  makeCase(6060, { heads: 1, headDim: 100, lq: [70, 70], lk: [7, 7], causal: true }), // Lq > Lk
  makeCase(6070, { heads: 2, headDim: 64, lq: [13], lk: [50], causal: true, scale: 0.3 }), // Lq < Lk
  makeCase(6080, { heads: 5, headDim: 1, lq: [13, 13, 13], lk: [17, 0, 1], scale: -0.5 }),
  makeCase(6090, { heads: 2, headDim: 6, lq: [65, 65], lk: [129, 129], scale: 4 }), // peaky softmax
  makeCase(6100, { heads: 1, headDim: 6, lq: [3], lk: [2], causal: true }),
  makeCase(6110, { heads: 2, headDim: 1, lq: [4, 4], lk: [0, 6], causal: true }),
  makeCase(6120, { heads: 2, headDim: 16, lq: [70, 0, 33, 5], lk: [70, 12, 33, 0], causal: true }), // a sample without queries
  makeCase(6130, { heads: 2, headDim: 64, lq: [40, 9], lk: [40, 70], extra: [0, 128, 256] }), // a fused [T, 3d] projection's k, v
  makeCase(6140, { heads: 3, headDim: 6, lq: [7, 7], lk: [130, 3], extra: [5, 1, 2] }),
  ...[1, 6, 64, 100].map((dh, t) => makeCase(6200 + 10 * t, randomSpec(6201 + 10 * t, dh))),
  makeCase(6300, randomSpec(6301, 6)),
  makeCase(6310, randomSpec(6311, 1)),
];

function fwdOpts(c: Case) {
  return {
    q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, headDim: c.headDim, cuSeqlensQ: c.cuSeqlensQ, cuSeqlensK: c.cuSeqlensK,
    causal: c.causal,
    ...(c.scale !== undefined ? { scale: c.scale } : {}),
    ...(c.extra.some((e) => e > 0) ? { qStride: c.width + c.extra[0], kStride: c.width + c.extra[1], vStride: c.width + c.extra[2] } : {}),
  };
}

function checkForward(c: Case, res: { out: Float32Array; lse: Float32Array }, what: string): void {
  expectClose(res.out, c.fwd.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(c.fwd.out), label: `attentionForward ${c.name} out ${what}`, cols: c.headDim });
  expectClose(res.lse, c.fwd.lse, { rtol: 1e-5, atol: 1e-5, label: `attentionForward ${c.name} lse ${what}`, cols: Math.max(1, c.tq) });
  for (let h = 0; h < c.heads; h++) {
    for (let t = 0; t < c.tq; t++) {
      const masked = c.maskedRow[t] === 1;
      const l = res.lse[h * c.tq + t]!;
      if (masked !== (l === Infinity)) expect.fail(`attentionForward ${c.name} ${what}: lse[h=${h}, t=${t}] = ${l}, the row ${masked ? 'sees' : 'does not see'} no key`);
      if (masked) {
        for (let d = 0; d < c.headDim; d++) {
          const x = res.out[t * c.width + h * c.headDim + d];
          if (!Object.is(x, 0)) expect.fail(`attentionForward ${c.name} ${what}: out of keyless row ${t} head ${h} = ${x} at d=${d}, expected 0`);
        }
      }
    }
  }
}

function checkBackward(c: Case, res: { dq: Float32Array; dk: Float32Array; dv: Float32Array }, want: { dq: Float64Array; dk: Float64Array; dv: Float64Array }, what: string): void {
  for (const name of ['dq', 'dk', 'dv'] as const) {
    const scale = maxAbs(c.bwd[name]);
    expectClose(res[name], want[name], { rtol: 0, atol: 1e-4 * scale, label: `attentionBackward ${c.name} ${name} vs ${what}`, cols: c.headDim });
  }
  const W = c.width;
  const zeroRows = (arr: Float32Array, mask: Uint8Array, name: string, why: string): void => {
    for (let r = 0; r < mask.length; r++) {
      if (mask[r] !== 1) continue;
      for (let d = 0; d < W; d++) {
        // -0 is fine here: only the value 0 is part of the contract
        if (arr[r * W + d] !== 0) expect.fail(`attentionBackward ${c.name}: ${name} of ${why} ${r} = ${arr[r * W + d]} at column ${d}, expected 0`);
      }
    }
  };
  zeroRows(res.dq, c.maskedRow, 'dq', 'keyless query row');
  zeroRows(res.dk, c.unseenKey, 'dk', 'key no query sees,');
  zeroRows(res.dv, c.unseenKey, 'dv', 'key no query sees,');
}

interface Outs { out: Float32Array; lse: Float32Array }
type Grads = { dq: Float32Array; dk: Float32Array; dv: Float32Array };

function runForward(c: Case): Outs {
  const out = guarded(c.tq * c.width);
  const lse = guarded(c.heads * c.tq);
  const res = kernels.attentionForward({ ...fwdOpts(c), out: out.view, lse: lse.view });
  expect(res.out).toBe(out.view);
  expect(res.lse).toBe(lse.view);
  out.check(`${c.name} out`);
  lse.check(`${c.name} lse`);
  return res;
}

function runBackward(c: Case, f: Outs): Grads {
  const dq = guarded(c.tq * c.width);
  const dk = guarded(c.tk * c.width);
  const dv = guarded(c.tk * c.width);
  const res = kernels.attentionBackward({ ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut, dq: dq.view, dk: dk.view, dv: dv.view });
  expect(res.dq).toBe(dq.view);
  expect(res.dk).toBe(dk.view);
  expect(res.dv).toBe(dv.view);
  dq.check(`${c.name} dq`);
  dk.check(`${c.name} dk`);
  dv.check(`${c.name} dv`);
  return res;
}

// ---------------------------------------------------------------------------------------------

const CONFIGS = kernelConfigSuite(backend);

for (const cfg of CONFIGS) {
  describe(`attention kernels (${cfg.label})`, () => {
    beforeAll(() => applyConfig(backend, cfg));

    it('attentionForward matches the reference (guarded in-place and allocated outputs)', () => {
      for (const c of CASES) {
        const res = runForward(c);
        checkForward(c, res, 'in place');
        const fresh = kernels.attentionForward(fwdOpts(c));
        expect(fresh.out).toBeInstanceOf(Float32Array);
        expect(fresh.lse).toBeInstanceOf(Float32Array);
        expectSameBits(fresh.out, res.out, `${c.name} out allocated vs in place`);
        expectSameBits(fresh.lse, res.lse, `${c.name} lse allocated vs in place`);
      }
    });

    it('attentionBackward matches the reference backward and finite differences', () => {
      for (const c of CASES) {
        const f = runForward(c);
        const res = runBackward(c, f);
        checkBackward(c, res, c.bwd, 'reference');
        if (c.fd) checkBackward(c, res, c.fd, 'finite differences');
        const fresh = kernels.attentionBackward({ ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut });
        for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(fresh[name], res[name], `${c.name} ${name} allocated vs in place`);
      }
    });

    it('the backward is deterministic (same bits on a second call, outputs pre-filled with garbage)', () => {
      for (const c of [CASES[2]!, CASES[4]!, CASES[9]!]) {
        const f = runForward(c);
        const first = runBackward(c, f);
        const dq = new Float32Array(c.tq * c.width).fill(123);
        const dk = new Float32Array(c.tk * c.width).fill(-7);
        const dv = new Float32Array(c.tk * c.width).fill(Infinity);
        const again = kernels.attentionBackward({ ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut, dq, dk, dv });
        for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(again[name], first[name], `${c.name} ${name} second call`);
      }
    });

    it('the …Async forms give the same bits as the sync calls', async () => {
      for (const c of [CASES[1]!, CASES[2]!, CASES[4]!, CASES[5]!, CASES[13]!]) {
        const f = kernels.attentionForward(fwdOpts(c));
        const fa = await kernels.attentionForwardAsync(fwdOpts(c));
        expectSameBits(fa.out, f.out, `attentionForwardAsync ${c.name} out`);
        expectSameBits(fa.lse, f.lse, `attentionForwardAsync ${c.name} lse`);
        const bargs = { ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut };
        const b = kernels.attentionBackward(bargs);
        const dq = new Float32Array(c.tq * c.width).fill(NaN);
        const ba = await kernels.attentionBackwardAsync({ ...bargs, dq });
        expect(ba.dq).toBe(dq);
        for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(ba[name], b[name], `attentionBackwardAsync ${c.name} ${name}`);
      }
      // concurrent calls agree with the sequential ones
      const picks = [CASES[2]!, CASES[4]!, CASES[6]!];
      const concurrent = await Promise.all(picks.map((c) => kernels.attentionForwardAsync(fwdOpts(c))));
      concurrent.forEach((r, t) => {
        const s = kernels.attentionForward(fwdOpts(picks[t]!));
        expectSameBits(r.out, s.out, `concurrent attentionForwardAsync #${t} out`);
        expectSameBits(r.lse, s.lse, `concurrent attentionForwardAsync #${t} lse`);
      });
    });

    if (cfg.threads > 1) {
      it('1 and 2 threads give identical results (forward and backward)', () => {
        const picks = [CASES[2]!, CASES[3]!, CASES[4]!, CASES[5]!, CASES[9]!, CASES[7]!, CASES[12]!, CASES[14]!];
        try {
          for (const c of picks) {
            expect(backend.setNumThreads(1)).toBe(1);
            const f1 = kernels.attentionForward(fwdOpts(c));
            const b1 = kernels.attentionBackward({ ...fwdOpts(c), out: f1.out, lse: f1.lse, dOut: c.dOut });
            expect(backend.setNumThreads(2)).toBe(2);
            const f2 = kernels.attentionForward(fwdOpts(c));
            const b2 = kernels.attentionBackward({ ...fwdOpts(c), out: f1.out, lse: f1.lse, dOut: c.dOut });
            expectSameBits(f2.out, f1.out, `${c.name} out, 2 vs 1 threads`);
            expectSameBits(f2.lse, f1.lse, `${c.name} lse, 2 vs 1 threads`);
            for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(b2[name], b1[name], `${c.name} ${name}, 2 vs 1 threads`);
          }
        } finally {
          backend.setNumThreads(cfg.threads);
        }
      });
    }
  });
}

describe('attention kernels: defaults', () => {
  it('scale = 1/√headDim, causal = false, strides heads·headDim, max lengths the longest sample by default', () => {
    const c = CASES[1]!;
    const base = { q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, headDim: c.headDim, cuSeqlensQ: c.cuSeqlensQ, cuSeqlensK: c.cuSeqlensK };
    const dflt = kernels.attentionForward(base);
    const explicit = kernels.attentionForward({
      ...base, scale: 1 / Math.sqrt(c.headDim), causal: false, qStride: c.width, kStride: c.width, vStride: c.width, maxSeqlenQ: 5, maxSeqlenK: 9,
    });
    expectSameBits(dflt.out, explicit.out, 'out: defaults vs explicit');
    expectSameBits(dflt.lse, explicit.lse, 'lse: defaults vs explicit');
    // a larger max length (an upper bound, as in flash-attention) changes nothing
    const loose = kernels.attentionForward({ ...base, maxSeqlenQ: 10, maxSeqlenK: 9 });
    expectSameBits(loose.out, dflt.out, 'out: loose maxSeqlenQ');
    const want = reference.attentionForward(base);
    expectClose(dflt.out, want.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(want.out), label: 'out (defaults)' });
    expectClose(dflt.lse, want.lse, { rtol: 1e-5, atol: 1e-5, label: 'lse (defaults)' });
  });

  it('one key: P = 1, out = v, lse = scale·q·k', () => {
    const c = CASES[0]!;
    const a = kernels.attentionForward({ q: c.q, k: c.k, v: c.v, batch: 1, heads: 1, headDim: 1, cuSeqlensQ: Int32Array.of(0, 1), cuSeqlensK: Int32Array.of(0, 1) });
    expect(a.out[0]).toBe(c.v[0]);
    expectClose(a.lse[0]!, c.q[0]! * c.k[0]!, { rtol: 1e-6, label: 'lse' });
  });

  it('the padded [B, L] batch is the uniform-offset case: each sample equals its own one-sample call', () => {
    const rng = makeRng(95);
    const B = 3, L = 37, H = 2, dh = 16, W = H * dh;
    const q = rng.normalF32(B * L * W), k = rng.normalF32(B * L * W), v = rng.normalF32(B * L * W);
    const cu = Int32Array.from({ length: B + 1 }, (_, b) => b * L);
    const all = kernels.attentionForward({ q, k, v, batch: B, heads: H, headDim: dh, cuSeqlensQ: cu, cuSeqlensK: cu, causal: true });
    for (let b = 0; b < B; b++) {
      const rows = (x: Float32Array): Float32Array => x.slice(b * L * W, (b + 1) * L * W);
      const one = kernels.attentionForward({ q: rows(q), k: rows(k), v: rows(v), batch: 1, heads: H, headDim: dh, cuSeqlensQ: Int32Array.of(0, L), cuSeqlensK: Int32Array.of(0, L), causal: true });
      expectSameBits(one.out, all.out.subarray(b * L * W, (b + 1) * L * W), `sample ${b} out`);
      for (let h = 0; h < H; h++) expectSameBits(one.lse.subarray(h * L, (h + 1) * L), all.lse.subarray(h * B * L + b * L, h * B * L + (b + 1) * L), `sample ${b} head ${h} lse`);
    }
  });
});

describe('non-finite inputs', () => {
  // A NaN reaching a row's visible scores makes that row NaN (out and lse), as in the float64
  // reference — never a silent 0 (max comparisons drop NaN, so the kernel looks for it). A NaN
  // in another sample's key, or in a gap column of a strided row, changes nothing.
  const H = 1, dh = 16, lq = 3; // 70 keys in sample 1: more than one key tile
  const cuQ = Int32Array.of(0, lq, 2 * lq), cuK = Int32Array.of(0, 40, 110);
  const stride = dh + 4;
  const rng = makeRng(77);
  const base = { batch: 2, heads: H, headDim: dh, cuSeqlensQ: cuQ, cuSeqlensK: cuK, kStride: stride };
  for (const [what, patch] of [
    ['a NaN in a visible key', (k: Float32Array, _q: Float32Array): void => { k[5 * stride] = NaN; }],
    ['a NaN in the second key tile', (k: Float32Array, _q: Float32Array): void => { k[(40 + 66) * stride + 3] = NaN; }],
    ['a NaN query', (_k: Float32Array, q: Float32Array): void => { q[dh + 2] = NaN; }],
    ['only NaN gap columns', (): void => {}],
  ] as const) {
    it(`${what}: the same NaN rows as the reference`, () => {
      const q = rng.normalF32(2 * lq * dh), v = rng.normalF32(110 * dh);
      const k = rng.normalF32(109 * stride + dh);
      for (let t = 0; t < 110; t++) for (let c = dh; c < stride && t * stride + c < k.length; c++) k[t * stride + c] = NaN;
      patch(k, q);
      const got = kernels.attentionForward({ ...base, q, k, v });
      const want = reference.attentionForward({ ...base, q, k, v });
      expect(Array.from(got.lse, Number.isNaN)).toEqual(Array.from(want.lse, Number.isNaN));
      expect(Array.from(got.out, Number.isNaN)).toEqual(Array.from(want.out, Number.isNaN));
      expect(Array.from(got.lse, Number.isNaN).some(Boolean)).toBe(what !== 'only NaN gap columns');
      // sample 0's keys never reach sample 1's rows and the other way round
      if (what === 'a NaN in a visible key') expect(Array.from(got.lse.subarray(lq), Number.isNaN).some(Boolean)).toBe(false);
      if (what === 'a NaN in the second key tile') expect(Array.from(got.lse.subarray(0, lq), Number.isNaN).some(Boolean)).toBe(false);
      expectClose(got.out, want.out, { rtol: 1e-5, atol: 1e-5 });
    });
  }
});
