// test/kernels/attention.test.ts — kernels.attentionForward / attentionBackward (and their
// …Async forms) against the float64 references in lib/reference/attention.ts, and the backward
// also against central finite differences of the reference forward (small shapes), for every
// SIMD level × {1, all} threads.
//
// Shapes: random seeded, odd sizes included; head dims 1, 6, 64, 100; Lq = 1; Lq = 7 with
// Lk = 500 (the decoder's cross-attention, split over key blocks); Lq > Lk and Lq < Lk with
// causal (no offset); key padding with keyLengths containing 0 (fully masked rows) and lk;
// causal + padding together; scales ≠ 1/√Dh (negative, large).
//
// Tolerances:
// - out: |x − r| ≤ 1e-5·|r| + 1e-5·max|out_ref| (the tensor's largest magnitude: out is a convex
//   combination of v rows, near-zero entries come from cancellation and have no relative
//   accuracy); fully masked rows: out exactly 0.
// - lse: |x − r| ≤ 1e-5·|r| + 1e-5, and +Infinity exactly where the row is fully masked.
// - dq, dk, dv: |x − r| ≤ 1e-4·max|r| of the tensor (vs the reference backward and vs finite
//   differences); exactly 0 for fully masked query rows and for keys no query sees.
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
  lq: number;
  lk: number;
  headDim: number;
  scale: number | undefined;
  causal: boolean;
  keyLengths: Int32Array | undefined;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dOut: Float32Array;
  fwd: { out: Float64Array; lse: Float64Array };
  bwd: { dq: Float64Array; dk: Float64Array; dv: Float64Array };
  fd?: { dq: Float64Array; dk: Float64Array; dv: Float64Array } | undefined;
  /** Per query row [B·H·Lq]: true when every key is masked. */
  maskedRow: Uint8Array;
  /** Per key row [B·H·Lk]: true when no query sees it. */
  unseenKey: Uint8Array;
}

interface Spec {
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  headDim: number;
  scale?: number;
  causal?: boolean;
  keyLengths?: number[];
}

const FD_BUDGET = 3e6; // multiply-adds of the finite differences per case

/** Finite differences of L = ⟨dOut, out⟩ one (batch, head) slice at a time (slices are independent). */
function fdGrads(c: Omit<Case, 'fd' | 'name' | 'maskedRow' | 'unseenKey'>): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const { batch, heads, lq, lk, headDim: dh } = c;
  const dq = new Float64Array(c.q.length);
  const dk = new Float64Array(c.k.length);
  const dv = new Float64Array(c.v.length);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const bh = b * heads + h;
      const qs = Float64Array.from(c.q.subarray(bh * lq * dh, (bh + 1) * lq * dh));
      const ks = Float64Array.from(c.k.subarray(bh * lk * dh, (bh + 1) * lk * dh));
      const vs = Float64Array.from(c.v.subarray(bh * lk * dh, (bh + 1) * lk * dh));
      const ds = c.dOut.subarray(bh * lq * dh, (bh + 1) * lq * dh);
      const shape = {
        batch: 1, heads: 1, lq, lk, headDim: dh, scale: c.scale, causal: c.causal,
        keyLengths: c.keyLengths ? Int32Array.of(c.keyLengths[b]!) : undefined,
      };
      const loss = (q: Float64Array, k: Float64Array, v: Float64Array): number => dot(ds, reference.attentionForward({ ...shape, q, k, v }).out);
      dq.set(finiteDiffGrad((x) => loss(x, ks, vs), qs), bh * lq * dh);
      dk.set(finiteDiffGrad((x) => loss(qs, x, vs), ks), bh * lk * dh);
      dv.set(finiteDiffGrad((x) => loss(qs, ks, x), vs), bh * lk * dh);
    }
  }
  return { dq, dk, dv };
}

function makeCase(seed: number, s: Spec): Case {
  const rng = makeRng(seed);
  const { batch, heads, lq, lk, headDim } = s;
  const nq = batch * heads * lq * headDim;
  const nk = batch * heads * lk * headDim;
  const q = rng.normalF32(nq);
  const k = rng.normalF32(nk);
  const v = rng.normalF32(nk);
  const dOut = rng.normalF32(nq);
  const keyLengths = s.keyLengths ? Int32Array.from(s.keyLengths) : undefined;
  const causal = s.causal ?? false;
  const shape = { batch, heads, lq, lk, headDim, scale: s.scale, causal, keyLengths };
  const fwd = reference.attentionForward({ ...shape, q, k, v });
  const bwd = reference.attentionBackward({ ...shape, q, k, v, dOut });
  const maskedRow = new Uint8Array(batch * heads * lq);
  const unseenKey = new Uint8Array(batch * heads * lk);
  for (let b = 0; b < batch; b++) {
    const kl = keyLengths ? keyLengths[b]! : lk;
    const seen = causal ? Math.min(kl, lq) : kl;
    for (let h = 0; h < heads; h++) {
      const bh = b * heads + h;
      for (let i = 0; i < lq; i++) maskedRow[bh * lq + i] = (causal ? Math.min(kl, i + 1) : kl) === 0 ? 1 : 0;
      for (let j = seen; j < lk; j++) unseenKey[bh * lk + j] = 1;
    }
  }
  const base = { batch, heads, lq, lk, headDim, scale: s.scale, causal, keyLengths, q, k, v, dOut, fwd, bwd };
  // each FD evaluation costs ~2·lq·lk·dh per slice, over (lq + 2·lk)·dh inputs, twice
  const fdCost = batch * heads * 2 * (lq + 2 * lk) * headDim * 2 * lq * lk * headDim;
  const name = `B=${batch} H=${heads} Lq=${lq} Lk=${lk} Dh=${headDim}${s.scale !== undefined ? ` scale=${s.scale}` : ''}` +
    `${causal ? ' causal' : ''}${keyLengths ? ` keyLengths=[${s.keyLengths!.join(',')}]` : ''}`;
  return { ...base, name, fd: fdCost <= FD_BUDGET ? fdGrads(base) : undefined, maskedRow, unseenKey };
}

/** Random seeded spec: odd sizes, padding with zeros and full lengths, causal or not. */
function randomSpec(seed: number, headDim: number): Spec {
  const rng = makeRng(seed);
  const batch = rng.int(1, 4);
  const heads = rng.int(1, 3);
  const lq = rng.pick([1, 2, 7, 13, 33]);
  const lk = rng.pick([lq, 1, 5, 17, 40]);
  const causal = rng.next() < 0.5;
  const keyLengths = rng.next() < 0.7 ? Array.from({ length: batch }, (_, b) => (b === 0 ? 0 : rng.int(0, lk))) : undefined;
  return { batch, heads, lq, lk, headDim, causal, ...(keyLengths ? { keyLengths } : {}) };
}

const CASES: Case[] = [
  makeCase(6000, { batch: 1, heads: 1, lq: 1, lk: 1, headDim: 1 }),
  makeCase(6010, { batch: 2, heads: 3, lq: 5, lk: 9, headDim: 6, keyLengths: [9, 0] }),
  makeCase(6020, { batch: 3, heads: 2, lq: 33, lk: 33, headDim: 64, causal: true, keyLengths: [33, 5, 0] }),
  makeCase(6030, { batch: 2, heads: 2, lq: 1, lk: 100, headDim: 100, keyLengths: [100, 37] }),
  makeCase(6040, { batch: 2, heads: 2, lq: 7, lk: 500, headDim: 64, keyLengths: [500, 375] }), // decoder
  makeCase(6050, { batch: 1, heads: 3, lq: 7, lk: 500, headDim: 6, keyLengths: [0] }), // decoder, fully masked
  makeCase(6060, { batch: 2, heads: 1, lq: 70, lk: 7, headDim: 100, causal: true }), // Lq > Lk
  makeCase(6070, { batch: 1, heads: 2, lq: 13, lk: 77, headDim: 64, causal: true, keyLengths: [50], scale: 0.3 }), // Lq < Lk
  makeCase(6080, { batch: 3, heads: 5, lq: 13, lk: 17, headDim: 1, scale: -0.5, keyLengths: [17, 0, 1] }),
  makeCase(6090, { batch: 2, heads: 2, lq: 65, lk: 129, headDim: 6, scale: 4 }), // peaky softmax
  makeCase(6100, { batch: 1, heads: 1, lq: 3, lk: 4, headDim: 6, causal: true, keyLengths: [2] }),
  makeCase(6110, { batch: 2, heads: 2, lq: 4, lk: 6, headDim: 1, causal: true, keyLengths: [0, 6] }),
  ...[1, 6, 64, 100].map((dh, t) => makeCase(6200 + 10 * t, randomSpec(6201 + 10 * t, dh))),
  makeCase(6300, randomSpec(6301, 6)),
  makeCase(6310, randomSpec(6311, 1)),
];

function fwdOpts(c: Case) {
  return {
    q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, lq: c.lq, lk: c.lk, headDim: c.headDim, causal: c.causal,
    ...(c.scale !== undefined ? { scale: c.scale } : {}),
    ...(c.keyLengths ? { keyLengths: c.keyLengths } : {}),
  };
}

function checkForward(c: Case, res: { out: Float32Array; lse: Float32Array }, what: string): void {
  expectClose(res.out, c.fwd.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(c.fwd.out), label: `attentionForward ${c.name} out ${what}`, cols: c.headDim });
  expectClose(res.lse, c.fwd.lse, { rtol: 1e-5, atol: 1e-5, label: `attentionForward ${c.name} lse ${what}`, cols: c.lq });
  for (let r = 0; r < c.maskedRow.length; r++) {
    const masked = c.maskedRow[r] === 1;
    if (masked !== (res.lse[r] === Infinity)) {
      expect.fail(`attentionForward ${c.name} ${what}: lse[${r}] = ${res.lse[r]}, row ${masked ? 'is' : 'is not'} fully masked`);
    }
    if (masked) {
      for (let d = 0; d < c.headDim; d++) {
        if (!Object.is(res.out[r * c.headDim + d], 0)) expect.fail(`attentionForward ${c.name} ${what}: out of fully masked row ${r} = ${res.out[r * c.headDim + d]} at d=${d}, expected 0`);
      }
    }
  }
}

function checkBackward(c: Case, res: { dq: Float32Array; dk: Float32Array; dv: Float32Array }, want: { dq: Float64Array; dk: Float64Array; dv: Float64Array }, what: string): void {
  for (const name of ['dq', 'dk', 'dv'] as const) {
    const scale = maxAbs(c.bwd[name]);
    expectClose(res[name], want[name], { rtol: 0, atol: 1e-4 * scale, label: `attentionBackward ${c.name} ${name} vs ${what}`, cols: c.headDim });
  }
  const dh = c.headDim;
  const zeroRows = (arr: Float32Array, mask: Uint8Array, name: string, why: string): void => {
    for (let r = 0; r < mask.length; r++) {
      if (mask[r] !== 1) continue;
      for (let d = 0; d < dh; d++) {
        // -0 is fine here: only the value 0 is part of the contract
        if (arr[r * dh + d] !== 0) expect.fail(`attentionBackward ${c.name}: ${name} of ${why} ${r} = ${arr[r * dh + d]} at d=${d}, expected 0`);
      }
    }
  };
  zeroRows(res.dq, c.maskedRow, 'dq', 'fully masked query row');
  zeroRows(res.dk, c.unseenKey, 'dk', 'key no query sees,');
  zeroRows(res.dv, c.unseenKey, 'dv', 'key no query sees,');
}

interface Outs { out: Float32Array; lse: Float32Array }
type Grads = { dq: Float32Array; dk: Float32Array; dv: Float32Array };

function runForward(c: Case): Outs {
  const out = guarded(c.q.length);
  const lse = guarded(c.batch * c.heads * c.lq);
  const res = kernels.attentionForward({ ...fwdOpts(c), out: out.view, lse: lse.view });
  expect(res.out).toBe(out.view);
  expect(res.lse).toBe(lse.view);
  out.check(`${c.name} out`);
  lse.check(`${c.name} lse`);
  return res;
}

function runBackward(c: Case, f: Outs): Grads {
  const dq = guarded(c.q.length);
  const dk = guarded(c.k.length);
  const dv = guarded(c.v.length);
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
        const dq = new Float32Array(c.q.length).fill(123);
        const dk = new Float32Array(c.k.length).fill(-7);
        const dv = new Float32Array(c.v.length).fill(Infinity);
        const again = kernels.attentionBackward({ ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut, dq, dk, dv });
        for (const name of ['dq', 'dk', 'dv'] as const) expectSameBits(again[name], first[name], `${c.name} ${name} second call`);
      }
    });

    it('the …Async forms give the same bits as the sync calls', async () => {
      for (const c of [CASES[1]!, CASES[2]!, CASES[4]!, CASES[5]!]) {
        const f = kernels.attentionForward(fwdOpts(c));
        const fa = await kernels.attentionForwardAsync(fwdOpts(c));
        expectSameBits(fa.out, f.out, `attentionForwardAsync ${c.name} out`);
        expectSameBits(fa.lse, f.lse, `attentionForwardAsync ${c.name} lse`);
        const bargs = { ...fwdOpts(c), out: f.out, lse: f.lse, dOut: c.dOut };
        const b = kernels.attentionBackward(bargs);
        const dq = new Float32Array(c.q.length).fill(NaN);
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
        const picks = [CASES[2]!, CASES[3]!, CASES[4]!, CASES[5]!, CASES[9]!, CASES[7]!];
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
  it('scale = 1/√headDim, causal = false, no padding by default', () => {
    const c = CASES[1]!;
    const dflt = kernels.attentionForward({ q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, lq: c.lq, lk: c.lk, headDim: c.headDim });
    const explicit = kernels.attentionForward({
      q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, lq: c.lq, lk: c.lk, headDim: c.headDim,
      scale: 1 / Math.sqrt(c.headDim), causal: false, keyLengths: Int32Array.of(c.lk, c.lk),
    });
    expectSameBits(dflt.out, explicit.out, 'out: defaults vs explicit');
    expectSameBits(dflt.lse, explicit.lse, 'lse: defaults vs explicit');
    const want = reference.attentionForward({ q: c.q, k: c.k, v: c.v, batch: c.batch, heads: c.heads, lq: c.lq, lk: c.lk, headDim: c.headDim });
    expectClose(dflt.out, want.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(want.out), label: 'out (defaults)' });
    expectClose(dflt.lse, want.lse, { rtol: 1e-5, atol: 1e-5, label: 'lse (defaults)' });
  });

  it('keyLengths: null means no padding', () => {
    const c = CASES[0]!;
    const a = kernels.attentionForward({ q: c.q, k: c.k, v: c.v, batch: 1, heads: 1, lq: 1, lk: 1, headDim: 1, keyLengths: null });
    // one key: P = 1, out = v, lse = scale·q·k
    expect(a.out[0]).toBe(c.v[0]);
    expectClose(a.lse[0]!, c.q[0]! * c.k[0]!, { rtol: 1e-6, label: 'lse' });
  });
});

describe('non-finite inputs', () => {
  // A NaN reaching a row's visible scores makes that row NaN (out and lse), as in the float64
  // reference — never a silent 0 (max comparisons drop NaN, so the kernel looks for it). A NaN
  // in a masked (padding) key changes nothing.
  const B = 2, H = 1, lq = 3, lk = 70, dh = 16; // lk > 64: more than one key tile
  const rng = makeRng(77);
  const base = { batch: B, heads: H, lq, lk, headDim: dh, keyLengths: Int32Array.of(40, 70) };
  for (const [what, patch] of [
    ['a NaN in a visible key', (k: Float32Array, _q: Float32Array): void => { k[5 * dh] = NaN; }],
    ['a NaN in the second key tile', (k: Float32Array, _q: Float32Array): void => { k[(lk + 66) * dh + 3] = NaN; }],
    ['a NaN query', (_k: Float32Array, q: Float32Array): void => { q[dh + 2] = NaN; }],
    ['a NaN in a padding key', (k: Float32Array, _q: Float32Array): void => { k[50 * dh] = NaN; }],
  ] as const) {
    it(`${what}: the same NaN rows as the reference`, () => {
      const q = rng.normalF32(B * H * lq * dh), k = rng.normalF32(B * H * lk * dh), v = rng.normalF32(B * H * lk * dh);
      patch(k, q);
      const got = kernels.attentionForward({ ...base, q, k, v });
      const want = reference.attentionForward({ ...base, q, k, v });
      expect(Array.from(got.lse, Number.isNaN)).toEqual(Array.from(want.lse, Number.isNaN));
      expect(Array.from(got.out, Number.isNaN)).toEqual(Array.from(want.out, Number.isNaN));
      expect(Array.from(got.lse, Number.isNaN).some(Boolean)).toBe(what !== 'a NaN in a padding key');
      expectClose(got.out, want.out, { rtol: 1e-5, atol: 1e-5 });
    });
  }
});

describe('query lengths (padding query rows)', () => {
  // rows past queryLengths[b] are not computed: out 0, lse +inf, no gradient — the reference's
  // fully masked rows; the real rows are unchanged.
  for (const causal of [false, true]) {
    it(`forward and backward equal the reference${causal ? ' (causal)' : ''}`, () => {
      const rng = makeRng(causal ? 91 : 90);
      const B = 3, H = 2, lq = 70, lk = 70, dh = 16;
      const base = { batch: B, heads: H, lq, lk, headDim: dh, causal, keyLengths: Int32Array.of(70, 33, 5), queryLengths: Int32Array.of(70, 33, 0) };
      const q = rng.normalF32(B * H * lq * dh), k = rng.normalF32(B * H * lk * dh), v = rng.normalF32(B * H * lk * dh), dOut = rng.normalF32(B * H * lq * dh);
      const f = kernels.attentionForward({ ...base, q, k, v });
      const rf = reference.attentionForward({ ...base, q, k, v });
      expectClose(f.out, rf.out, { rtol: 1e-5, atol: 1e-5 * maxAbs(rf.out), label: 'out' });
      expectClose(f.lse, rf.lse, { rtol: 1e-5, atol: 1e-5, label: 'lse' });
      // batch 1's rows 33+ and all of batch 2 are padding rows: zeros and +inf
      expect(f.out.subarray((1 * H * lq + 40) * dh, (1 * H * lq + 41) * dh).every((x) => x === 0)).toBe(true);
      expect(f.lse[2 * H * lq]).toBe(Infinity);
      const g = kernels.attentionBackward({ ...base, q, k, v, out: f.out, lse: f.lse, dOut });
      const rg = reference.attentionBackward({ ...base, q, k, v, dOut });
      expectClose(g.dq, rg.dq, { rtol: 1e-4, atol: 1e-4 * maxAbs(rg.dq), label: 'dq' });
      expectClose(g.dk, rg.dk, { rtol: 1e-4, atol: 1e-4 * maxAbs(rg.dk), label: 'dk' });
      expectClose(g.dv, rg.dv, { rtol: 1e-4, atol: 1e-4 * maxAbs(rg.dv), label: 'dv' });
    });
  }
});
