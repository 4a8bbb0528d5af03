// test/reference/attention.test.ts — the float64 attention reference (lib/reference/attention.ts)
// checked on its own, in the packed layout (q [Tq, ·], k, v [Tk, ·], per-sample offsets): the
// forward against a 1-head example computed by hand, the masking rules (samples never see each
// other's keys, causal without offset, a sample without keys → out 0, lse +Infinity), row strides
// and head columns, and the backward against central finite differences of the reference
// forward for q, k and v — uniform lengths, ragged, causal, both, samples without keys (zero
// gradients) or without queries, Lq = 1, Lq ≠ Lk.
//
// The finite differences take the scalar loss L = ⟨dOut, out(q, k, v)⟩ (h = 1e-6, float64 inputs
// of size O(1)): their error is ~1e-9 absolute, so the backward must agree to 1e-6 relative to
// the largest gradient magnitude.

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose, maxAbs } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

interface Shape {
  heads: number;
  headDim: number;
  /** per-sample query and key lengths */
  lq: number[];
  lk: number[];
  scale?: number;
  causal?: boolean;
}

const offsets = (lens: number[]): Int32Array => {
  const cu = new Int32Array(lens.length + 1);
  lens.forEach((l, b) => { cu[b + 1] = cu[b]! + l; });
  return cu;
};

function label(s: Shape): string {
  return `H=${s.heads} Dh=${s.headDim} Lq=[${s.lq.join(',')}] Lk=[${s.lk.join(',')}]` +
    `${s.scale !== undefined ? ` scale=${s.scale}` : ''}${s.causal ? ' causal' : ''}`;
}

const one = { batch: 1, heads: 1, headDim: 2, cuSeqlensQ: Int32Array.of(0, 2), cuSeqlensK: Int32Array.of(0, 3) };

describe('reference.attentionForward', () => {
  it('matches a 1-head example computed by hand', () => {
    // q = [[1, 0], [0, 2]], k = [[1, 0], [0, 1], [1, 1]], v = [[1, 2], [3, 4], [5, 6]], scale = 1
    const q = [1, 0, 0, 2];
    const k = [1, 0, 0, 1, 1, 1];
    const v = [1, 2, 3, 4, 5, 6];
    const { out, lse } = reference.attentionForward({ ...one, q, k, v, scale: 1 });
    // row 0: S = [1, 0, 1];  row 1: S = [0, 2, 2]
    const e = Math.E;
    const z0 = 2 * e + 1;
    const z1 = 1 + 2 * e * e;
    const want = [
      (e * 1 + 1 * 3 + e * 5) / z0, (e * 2 + 1 * 4 + e * 6) / z0,
      (1 * 1 + e * e * 3 + e * e * 5) / z1, (1 * 2 + e * e * 4 + e * e * 6) / z1,
    ];
    expectClose(out, want, { rtol: 1e-14, label: 'out' });
    expectClose(lse, [Math.log(z0), Math.log(z1)], { rtol: 1e-14, label: 'lse' });

    // default scale 1/√2
    const d = reference.attentionForward({ ...one, q, k, v });
    const a = Math.exp(Math.SQRT1_2);
    expectClose(d.lse[0]!, Math.log(2 * a + 1), { rtol: 1e-14, label: 'lse (default scale)' });
    expectClose(d.out[0]!, (a * 1 + 3 + a * 5) / (2 * a + 1), { rtol: 1e-14, label: 'out (default scale)' });

    // causal (no offset): row 0 sees key 0 only → out = v_0, lse = S_00 = 1; row 1 sees keys 0, 1
    const c = reference.attentionForward({ ...one, q, k, v, scale: 1, causal: true });
    expectClose(c.out, [1, 2, (1 + e * e * 3) / (1 + e * e), (2 + e * e * 4) / (1 + e * e)], { rtol: 1e-14, label: 'out (causal)' });
    expectClose(c.lse, [1, Math.log(1 + e * e)], { rtol: 1e-14, label: 'lse (causal)' });

    // two samples: rows [q0] with keys [k0], rows [q1] with keys [k1, k2] — never the other's
    const two = reference.attentionForward({ q, k, v, batch: 2, heads: 1, headDim: 2, scale: 1, cuSeqlensQ: Int32Array.of(0, 1, 2), cuSeqlensK: Int32Array.of(0, 1, 3) });
    expectClose(two.out, [1, 2, (3 + 5) / 2, (4 + 6) / 2], { rtol: 1e-14, label: 'out (two samples)' });
    expectClose(two.lse, [1, 2 + Math.log(2)], { rtol: 1e-14, label: 'lse (two samples)' });

    // a sample without keys: its rows are 0, lse +Infinity
    const m = reference.attentionForward({ q, k, v, batch: 2, heads: 1, headDim: 2, scale: 1, cuSeqlensQ: Int32Array.of(0, 1, 2), cuSeqlensK: Int32Array.of(0, 0, 3) });
    expect(Array.from(m.out.subarray(0, 2))).toEqual([0, 0]);
    expect(m.lse[0]).toBe(Infinity);
    expect(Number.isFinite(m.lse[1]!)).toBe(true);
  });

  it('reads head h from columns h·Dh of rows qStride / kStride / vStride apart; lse is [H, Tq]', () => {
    const rng = makeRng(70);
    const H = 2, dh = 3, W = H * dh, T = 4;
    const dense = { q: normalF64(rng, T * W), k: normalF64(rng, T * W), v: normalF64(rng, T * W) };
    const cu = Int32Array.of(0, 1, 4);
    const base = { batch: 2, heads: H, headDim: dh, cuSeqlensQ: cu, cuSeqlensK: cu };
    const want = reference.attentionForward({ ...base, ...dense });
    // the same values, rows widened with NaN gap columns (never read)
    const widen = (x: Float64Array, st: number): Float64Array => {
      const y = new Float64Array((T - 1) * st + W).fill(NaN);
      for (let t = 0; t < T; t++) y.set(x.subarray(t * W, t * W + W), t * st);
      return y;
    };
    const got = reference.attentionForward({ ...base, q: widen(dense.q, 7), k: widen(dense.k, 9), v: widen(dense.v, 3 * W), qStride: 7, kStride: 9, vStride: 3 * W });
    expect(Array.from(got.out)).toEqual(Array.from(want.out));
    expect(Array.from(got.lse)).toEqual(Array.from(want.lse));
    // head 1 alone equals a one-head call on its columns
    const col = (x: Float64Array, h: number): Float64Array => Float64Array.from({ length: T * dh }, (_, i) => x[Math.floor(i / dh) * W + h * dh + (i % dh)]!);
    const h1 = reference.attentionForward({ ...base, heads: 1, q: col(dense.q, 1), k: col(dense.k, 1), v: col(dense.v, 1), scale: 1 / Math.sqrt(dh) });
    expectClose(col(want.out, 1), h1.out, { rtol: 1e-15, label: 'head 1 out' });
    expectClose(want.lse.subarray(T), h1.lse, { rtol: 1e-15, label: 'head 1 lse' });
  });

  it('is invariant to a shift of all scores of a row (softmax) and large scores do not overflow', () => {
    const rng = makeRng(71);
    const q = normalF64(rng, 12);
    const k = normalF64(rng, 20);
    const v = normalF64(rng, 20);
    const { out, lse } = reference.attentionForward({ q, k, v, batch: 1, heads: 1, headDim: 4, scale: 300, cuSeqlensQ: Int32Array.of(0, 3), cuSeqlensK: Int32Array.of(0, 5) });
    for (const x of out) expect(Number.isFinite(x)).toBe(true);
    for (const x of lse) expect(Number.isFinite(x)).toBe(true);
    // out rows are convex combinations of v rows
    for (let d = 0; d < 4; d++) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let j = 0; j < 5; j++) {
        lo = Math.min(lo, v[j * 4 + d]!);
        hi = Math.max(hi, v[j * 4 + d]!);
      }
      for (let i = 0; i < 3; i++) {
        expect(out[i * 4 + d]!).toBeGreaterThanOrEqual(lo - 1e-12);
        expect(out[i * 4 + d]!).toBeLessThanOrEqual(hi + 1e-12);
      }
    }
  });

  it('Lq ≠ Lk with causal: query i sees keys 0 … i (no offset), rows past Lk see every key', () => {
    const rng = makeRng(72);
    const base = { batch: 1, heads: 1, headDim: 3, scale: 0.7, cuSeqlensQ: Int32Array.of(0, 4), cuSeqlensK: Int32Array.of(0, 2) };
    const q = normalF64(rng, 12);
    const k = normalF64(rng, 6);
    const v = normalF64(rng, 6);
    const causal = reference.attentionForward({ ...base, q, k, v, causal: true });
    const full = reference.attentionForward({ ...base, q, k, v });
    // rows 1 … 3 see keys 0, 1 = all of them
    expect(Array.from(causal.out.subarray(3))).toEqual(Array.from(full.out.subarray(3)));
    // row 0 sees key 0 only
    expect(Array.from(causal.out.subarray(0, 3))).toEqual(Array.from(v.subarray(0, 3)));
    expect(causal.lse[0]).toBeCloseTo(0.7 * (q[0]! * k[0]! + q[1]! * k[1]! + q[2]! * k[2]!), 14);
  });

  it('rejects inconsistent arguments', () => {
    const q = new Float64Array(4);
    const k = new Float64Array(6);
    const base = { ...one, q, k, v: k };
    expect(() => reference.attentionForward({ ...base, cuSeqlensQ: Int32Array.of(0, 3) })).toThrow(/expected q to be of length at least 6/);
    expect(() => reference.attentionForward({ ...base, cuSeqlensK: Int32Array.of(0, 4, 3) })).toThrow(/cuSeqlensK to be of length 2/);
    expect(() => reference.attentionForward({ ...base, batch: 2, cuSeqlensK: Int32Array.of(0, 4, 3), cuSeqlensQ: Int32Array.of(0, 1, 2) })).toThrow(/cuSeqlensK\[2\] to be an integer ≥ 4, received 3/);
    expect(() => reference.attentionForward({ ...base, cuSeqlensQ: Int32Array.of(1, 2) })).toThrow(/cuSeqlensQ\[0\] to be an integer ≥ 0 \(0\), received 1/);
    expect(() => reference.attentionForward({ ...base, qStride: 1 })).toThrow(/qStride to be an integer ≥ 2/);
    expect(() => reference.attentionForward({ ...base, scale: NaN })).toThrow(RangeError);
    expect(() => reference.attentionBackward({ ...base, dOut: new Float64Array(3) })).toThrow(/dOut/);
  });
});

// ---------------------------------------------------------------------------------------------

function fdCase(seed: number, s: Shape): void {
  const rng = makeRng(seed);
  const W = s.heads * s.headDim;
  const cuSeqlensQ = offsets(s.lq), cuSeqlensK = offsets(s.lk);
  const tq = cuSeqlensQ[s.lq.length]!, tk = cuSeqlensK[s.lk.length]!;
  const q = normalF64(rng, tq * W);
  const k = normalF64(rng, tk * W);
  const v = normalF64(rng, tk * W);
  const dOut = normalF64(rng, tq * W);
  const shape = { batch: s.lq.length, heads: s.heads, headDim: s.headDim, cuSeqlensQ, cuSeqlensK, scale: s.scale, causal: s.causal };
  const fwd = reference.attentionForward({ ...shape, q, k, v });
  const got = reference.attentionBackward({ ...shape, q, k, v, dOut, out: fwd.out, lse: fwd.lse });
  const loss = (qq: Float64Array, kk: Float64Array, vv: Float64Array): number =>
    dot(dOut, reference.attentionForward({ ...shape, q: qq, k: kk, v: vv }).out);
  const want = {
    dq: finiteDiffGrad((x) => loss(x, k, v), q),
    dk: finiteDiffGrad((x) => loss(q, x, v), k),
    dv: finiteDiffGrad((x) => loss(q, k, x), v),
  };
  for (const name of ['dq', 'dk', 'dv'] as const) {
    const atol = 1e-6 * Math.max(1e-3, maxAbs(want[name]));
    expectClose(got[name], want[name], { rtol: 1e-6, atol, label: `${label(s)} ${name} vs finite differences`, cols: s.headDim });
  }

  // rows that see no key: out 0, lse +Infinity, dq 0 exactly; keys no query sees: dk = dv = 0
  for (let b = 0; b < s.lq.length; b++) {
    const kl = s.lk[b]!, q0 = cuSeqlensQ[b]!, k0 = cuSeqlensK[b]!;
    for (let h = 0; h < s.heads; h++) {
      for (let i = 0; i < s.lq[b]!; i++) {
        if (kl > 0) continue;
        expect(fwd.lse[h * tq + q0 + i], `lse of a keyless row b=${b} h=${h} i=${i}`).toBe(Infinity);
        for (let d = 0; d < s.headDim; d++) {
          expect(fwd.out[(q0 + i) * W + h * s.headDim + d]).toBe(0);
          expect(got.dq[(q0 + i) * W + h * s.headDim + d]).toBe(0);
        }
      }
      const seen = s.causal ? Math.min(kl, s.lq[b]!) : s.lq[b]! > 0 ? kl : 0;
      for (let j = seen; j < kl; j++) {
        for (let d = 0; d < s.headDim; d++) {
          expect(got.dk[(k0 + j) * W + h * s.headDim + d], `dk of unseen key b=${b} h=${h} j=${j}`).toBe(0);
          expect(got.dv[(k0 + j) * W + h * s.headDim + d], `dv of unseen key b=${b} h=${h} j=${j}`).toBe(0);
        }
      }
    }
  }
}

describe('reference.attentionBackward vs central finite differences of the reference forward', () => {
  const CASES: Array<[number, Shape]> = [
    [100, { heads: 1, headDim: 1, lq: [1], lk: [1] }],
    [101, { heads: 2, headDim: 3, lq: [3, 3], lk: [4, 4] }],
    [102, { heads: 2, headDim: 3, lq: [4, 4], lk: [4, 4], scale: 0.9, causal: true }],
    [103, { heads: 1, headDim: 2, lq: [3, 3, 3], lk: [5, 2, 1] }],
    [104, { heads: 2, headDim: 3, lq: [5, 2, 5], lk: [3, 5, 1], causal: true }],
    // a sample without keys, a sample without queries
    [105, { heads: 2, headDim: 2, lq: [3, 3, 3], lk: [0, 4, 2] }],
    [106, { heads: 1, headDim: 3, lq: [4, 0, 2], lk: [0, 3, 2], causal: true }],
    // Lq = 1 (decoder step)
    [107, { heads: 3, headDim: 4, lq: [1, 1], lk: [6, 3] }],
    [108, { heads: 2, headDim: 3, lq: [1], lk: [5], causal: true }],
    // Lq ≠ Lk both ways, causal (no offset)
    [109, { heads: 1, headDim: 2, lq: [6, 6], lk: [3, 2], causal: true }],
    [110, { heads: 2, headDim: 5, lq: [2], lk: [7], causal: true }],
    [111, { heads: 2, headDim: 6, lq: [3, 3], lk: [9, 0], scale: -0.4 }],
  ];
  for (const [seed, s] of CASES) {
    it(label(s), () => fdCase(seed, s));
  }
});
