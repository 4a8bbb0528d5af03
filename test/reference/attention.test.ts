// test/reference/attention.test.ts — the float64 attention reference (lib/reference/attention.ts)
// checked on its own: the forward against a 1-head example computed by hand, the masking rules
// (padding, causal without offset, fully masked rows → out 0, lse +Infinity), and the backward
// against central finite differences of the reference forward for q, k and v — unmasked, with
// padding, causal, both, fully masked rows (zero gradients), Lq = 1, Lq ≠ Lk.
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
  batch: number;
  heads: number;
  lq: number;
  lk: number;
  headDim: number;
  scale?: number;
  causal?: boolean;
  keyLengths?: Int32Array;
}

function label(s: Shape): string {
  return `B=${s.batch} H=${s.heads} Lq=${s.lq} Lk=${s.lk} Dh=${s.headDim}` +
    `${s.scale !== undefined ? ` scale=${s.scale}` : ''}${s.causal ? ' causal' : ''}` +
    `${s.keyLengths ? ` keyLengths=[${Array.from(s.keyLengths).join(',')}]` : ''}`;
}

describe('reference.attentionForward', () => {
  it('matches a 1-head example computed by hand', () => {
    // q = [[1, 0], [0, 2]], k = [[1, 0], [0, 1], [1, 1]], v = [[1, 2], [3, 4], [5, 6]], scale = 1
    const q = [1, 0, 0, 2];
    const k = [1, 0, 0, 1, 1, 1];
    const v = [1, 2, 3, 4, 5, 6];
    const { out, lse } = reference.attentionForward({ q, k, v, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2, scale: 1 });
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
    const d = reference.attentionForward({ q, k, v, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2 });
    const a = Math.exp(Math.SQRT1_2);
    expectClose(d.lse[0]!, Math.log(2 * a + 1), { rtol: 1e-14, label: 'lse (default scale)' });
    expectClose(d.out[0]!, (a * 1 + 3 + a * 5) / (2 * a + 1), { rtol: 1e-14, label: 'out (default scale)' });

    // causal (no offset): row 0 sees key 0 only → out = v_0, lse = S_00 = 1; row 1 sees keys 0, 1
    const c = reference.attentionForward({ q, k, v, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2, scale: 1, causal: true });
    expectClose(c.out, [1, 2, (1 + e * e * 3) / (1 + e * e), (2 + e * e * 4) / (1 + e * e)], { rtol: 1e-14, label: 'out (causal)' });
    expectClose(c.lse, [1, Math.log(1 + e * e)], { rtol: 1e-14, label: 'lse (causal)' });

    // keyLengths = [1]: both rows see key 0 only
    const p = reference.attentionForward({ q, k, v, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2, scale: 1, keyLengths: Int32Array.of(1) });
    expect(Array.from(p.out)).toEqual([1, 2, 1, 2]);
    expect(Array.from(p.lse)).toEqual([1, 0]);

    // keyLengths = [0]: every row fully masked
    const m = reference.attentionForward({ q, k, v, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2, scale: 1, keyLengths: Int32Array.of(0) });
    expect(Array.from(m.out)).toEqual([0, 0, 0, 0]);
    expect(Array.from(m.lse)).toEqual([Infinity, Infinity]);
  });

  it('is invariant to a shift of all scores of a row (softmax) and large scores do not overflow', () => {
    const rng = makeRng(71);
    const s: Shape = { batch: 1, heads: 1, lq: 3, lk: 5, headDim: 4, scale: 300 };
    const q = normalF64(rng, 12);
    const k = normalF64(rng, 20);
    const v = normalF64(rng, 20);
    const { out, lse } = reference.attentionForward({ ...s, q, k, v });
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
    const base = { batch: 1, heads: 1, lq: 4, lk: 2, headDim: 3, scale: 0.7 };
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
    const base = { q, k, v: k, batch: 1, heads: 1, lq: 2, lk: 3, headDim: 2 };
    expect(() => reference.attentionForward({ ...base, lq: 3 })).toThrow(/expected q to be of length 6/);
    expect(() => reference.attentionForward({ ...base, keyLengths: Int32Array.of(4) })).toThrow(/keyLengths\[0\] to be an integer in \[0, 3\], received 4/);
    expect(() => reference.attentionForward({ ...base, keyLengths: Int32Array.of(1, 1) })).toThrow(/keyLengths to be of length 1/);
    expect(() => reference.attentionForward({ ...base, scale: NaN })).toThrow(RangeError);
    expect(() => reference.attentionBackward({ ...base, dOut: new Float64Array(3) })).toThrow(/dOut/);
  });
});

// ---------------------------------------------------------------------------------------------

function fdCase(seed: number, s: Shape): void {
  const rng = makeRng(seed);
  const nq = s.batch * s.heads * s.lq * s.headDim;
  const nk = s.batch * s.heads * s.lk * s.headDim;
  const q = normalF64(rng, nq);
  const k = normalF64(rng, nk);
  const v = normalF64(rng, nk);
  const dOut = normalF64(rng, nq);
  const shape = { batch: s.batch, heads: s.heads, lq: s.lq, lk: s.lk, headDim: s.headDim, scale: s.scale, causal: s.causal, keyLengths: s.keyLengths };
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

  // fully masked rows: out 0, lse +Infinity, dq 0 exactly; keys no query sees: dk = dv = 0 exactly
  for (let b = 0; b < s.batch; b++) {
    const kl = s.keyLengths ? s.keyLengths[b]! : s.lk;
    for (let h = 0; h < s.heads; h++) {
      const bh = b * s.heads + h;
      for (let i = 0; i < s.lq; i++) {
        const n = s.causal ? Math.min(kl, i + 1) : kl;
        if (n > 0) continue;
        expect(fwd.lse[bh * s.lq + i], `lse of masked row b=${b} h=${h} i=${i}`).toBe(Infinity);
        for (let d = 0; d < s.headDim; d++) {
          expect(fwd.out[(bh * s.lq + i) * s.headDim + d]).toBe(0);
          expect(got.dq[(bh * s.lq + i) * s.headDim + d]).toBe(0);
        }
      }
      const seen = s.causal ? Math.min(kl, s.lq) : kl;
      for (let j = seen; j < s.lk; j++) {
        for (let d = 0; d < s.headDim; d++) {
          expect(got.dk[(bh * s.lk + j) * s.headDim + d], `dk of unseen key b=${b} h=${h} j=${j}`).toBe(0);
          expect(got.dv[(bh * s.lk + j) * s.headDim + d], `dv of unseen key b=${b} h=${h} j=${j}`).toBe(0);
        }
      }
    }
  }
}

describe('reference.attentionBackward vs central finite differences of the reference forward', () => {
  const CASES: Array<[number, Shape]> = [
    [100, { batch: 1, heads: 1, lq: 1, lk: 1, headDim: 1 }],
    [101, { batch: 2, heads: 2, lq: 3, lk: 4, headDim: 3 }],
    [102, { batch: 2, heads: 2, lq: 4, lk: 4, headDim: 3, scale: 0.9, causal: true }],
    [103, { batch: 3, heads: 1, lq: 3, lk: 5, headDim: 2, keyLengths: Int32Array.of(5, 2, 1) }],
    [104, { batch: 3, heads: 2, lq: 5, lk: 5, headDim: 3, causal: true, keyLengths: Int32Array.of(3, 5, 1) }],
    // fully masked rows: keyLengths 0 (whole batch), and causal + padding never masks a row…
    [105, { batch: 3, heads: 2, lq: 3, lk: 4, headDim: 2, keyLengths: Int32Array.of(0, 4, 2) }],
    [106, { batch: 2, heads: 1, lq: 4, lk: 4, headDim: 3, causal: true, keyLengths: Int32Array.of(0, 2) }],
    // Lq = 1 (decoder step), with padding
    [107, { batch: 2, heads: 3, lq: 1, lk: 6, headDim: 4, keyLengths: Int32Array.of(6, 3) }],
    [108, { batch: 1, heads: 2, lq: 1, lk: 5, headDim: 3, causal: true }],
    // Lq ≠ Lk both ways, causal (no offset)
    [109, { batch: 2, heads: 1, lq: 6, lk: 3, headDim: 2, causal: true, keyLengths: Int32Array.of(3, 2) }],
    [110, { batch: 1, heads: 2, lq: 2, lk: 7, headDim: 5, causal: true }],
    [111, { batch: 2, heads: 2, lq: 3, lk: 9, headDim: 6, scale: -0.4, keyLengths: Int32Array.of(9, 0) }],
  ];
  for (const [seed, s] of CASES) {
    it(label(s), () => fdCase(seed, s));
  }
});
