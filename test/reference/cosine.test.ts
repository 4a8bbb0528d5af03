// test/reference/cosine.test.ts — the cosine references (lib/reference/cosine.ts): forwards by
// their definition on hand examples, every backward against central finite differences of its
// forward in float64 — including a vector whose norm is below eps (clamped: the finite
// differences of the clamped forward must equal the formula without the projection term) and an
// exactly zero vector — and top-k against a brute-force sort, with hand-checked ties.

import { describe, expect, it } from 'vitest';
import { reference } from '../../lib/reference/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng, normalF64 } from '../helpers/seed.js';

const TOL = { rtol: 1e-6, atol: 1e-8 };

/** Sets row `row` of a [rows, dim] array to `values` (scaled copies, zeros, …). */
function setRow(a: Float64Array, row: number, dim: number, values: ArrayLike<number>): void {
  for (let k = 0; k < dim; k++) a[row * dim + k] = values[k]!;
}

function norm(a: ArrayLike<number>, off: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[off + k]! ** 2;
  return Math.sqrt(s);
}

describe('reference.cosineForward', () => {
  it('computes scale · cos on a hand example', () => {
    // x0 = [3, 4] (norm 5), x1 = [1, 0]; e0 = [1, 0], e1 = [0, 2], e2 = [-1, -1]
    const out = reference.cosineForward({ x: [3, 4, 1, 0], e: [1, 0, 0, 2, -1, -1], n: 2, c: 3, dim: 2, scale: 2 });
    const s2 = Math.SQRT1_2;
    expectClose(out, [2 * 0.6, 2 * 0.8, 2 * (-7 / 5) * s2, 2, 0, -2 * s2], { rtol: 1e-15, atol: 1e-15, label: 'out' });
  });

  it('divides by eps for vectors shorter than eps (zero vectors give 0, never NaN)', () => {
    // x0 = 0, x1 = [0.03, 0.04] (norm 0.05 < eps = 0.1): x1/eps = [0.3, 0.4]
    const out = reference.cosineForward({ x: [0, 0, 0.03, 0.04], e: [1, 0, 0, 1], n: 2, c: 2, dim: 2, eps: 0.1 });
    expect(Array.from(out)).toEqual([0, 0, expect.closeTo(0.3, 15), expect.closeTo(0.4, 15)]);
    const zeros = reference.cosineForward({ x: [0, 0], e: [0, 0], n: 1, c: 1, dim: 2 });
    expect(zeros[0]).toBe(0);
  });
});

interface SimCase {
  name: string;
  n: number;
  c: number;
  dim: number;
  scale: number;
  eps: number | undefined;
  /** FD step; must stay below eps where a vector sits at (or inside) the clamp. */
  h: number;
  /** Rows of x / e replaced: [row, 'zero' | norm to rescale to]. */
  xRows?: Array<[number, 'zero' | number]>;
  eRows?: Array<[number, 'zero' | number]>;
}

function makeInputs(seed: number, rows: number, dim: number, patches: Array<[number, 'zero' | number]> = []): Float64Array {
  const rng = makeRng(seed);
  const a = normalF64(rng, rows * dim, 0.2, 1);
  for (const [row, what] of patches) {
    const nr = norm(a, row * dim, dim);
    const values = Array.from({ length: dim }, (_, k) => (what === 'zero' ? 0 : (a[row * dim + k]! / nr) * what));
    setRow(a, row, dim, values);
  }
  return a;
}

const SIM_CASES: SimCase[] = [
  { name: 'n=3 c=4 dim=5', n: 3, c: 4, dim: 5, scale: 1, eps: undefined, h: 1e-6 },
  { name: 'n=1 c=1 dim=1', n: 1, c: 1, dim: 1, scale: 1, eps: undefined, h: 1e-6 },
  { name: 'n=4 c=2 dim=7, scale −3.5', n: 4, c: 2, dim: 7, scale: -3.5, eps: undefined, h: 1e-6 },
  {
    // rows of norm 0.1 < eps = 0.5 in both x and e (clamped), others of norm ≈ √dim ≫ eps
    name: 'n=3 c=3 dim=4, eps 0.5, a clamped row in x and in e', n: 3, c: 3, dim: 4, scale: 2, eps: 0.5, h: 1e-6,
    xRows: [[1, 0.1]], eRows: [[2, 0.1]],
  },
  {
    // exact zero rows at the default eps: the FD step (2e-9) stays inside the clamp
    name: 'n=3 c=3 dim=4, default eps, a zero row in x and in e', n: 3, c: 3, dim: 4, scale: 1, eps: undefined, h: 2e-9,
    xRows: [[0, 'zero']], eRows: [[1, 'zero']],
  },
];

describe('reference.cosineBackward', () => {
  for (const [s, cs] of SIM_CASES.entries()) {
    it(`matches finite differences of the forward (${cs.name})`, () => {
      const { n, c, dim, scale, eps, h } = cs;
      const x = makeInputs(500 + 10 * s, n, dim, cs.xRows);
      const e = makeInputs(501 + 10 * s, c, dim, cs.eRows);
      const dOut = normalF64(makeRng(502 + 10 * s), n * c);
      const out = reference.cosineForward({ x, e, n, c, dim, scale, eps });
      const { dx, de } = reference.cosineBackward({ dOut, out, x, e, n, c, dim, scale, eps });
      const loss = (xx: Float64Array, ee: Float64Array): number =>
        dot(dOut, reference.cosineForward({ x: xx, e: ee, n, c, dim, scale, eps }));
      // h = 2e-9: rounding error ≈ 1e-16·|loss| / h ≈ 1e-7 absolute → looser atol
      const tol = h < 1e-6 ? { rtol: 1e-6, atol: 1e-6 } : TOL;
      expectClose(dx, finiteDiffGrad((v) => loss(v, e), x, h), { ...tol, label: 'dx', cols: dim });
      expectClose(de, finiteDiffGrad((v) => loss(x, v), e, h), { ...tol, label: 'de', cols: dim });
      expect(dx.every(Number.isFinite) && de.every(Number.isFinite)).toBe(true);
    });
  }

  it('clamped and zero rows get the gradient without the projection term', () => {
    // The clamped row x_1 (norm 0.1 < eps = 0.5): dx_1 = (scale/eps) · Σ_j dout_1j · re_j · e_j,
    // a zero row at the default eps likewise with 1/eps = 1e8.
    for (const [eps, x1] of [[0.5, [0.06, 0.08]], [1e-8, [0, 0]]] as const) {
      const n = 2, c = 2, dim = 2, scale = 1.5;
      const x = [1, 2, ...x1];
      const e = [3, -1, 0.5, 2];
      const dOut = [0.3, -0.7, 1.1, 0.4];
      const out = reference.cosineForward({ x, e, n, c, dim, scale, eps });
      const { dx } = reference.cosineBackward({ dOut, out, x, e, n, c, dim, scale, eps });
      const re = [1 / Math.hypot(3, -1), 1 / Math.hypot(0.5, 2)];
      const want = [0, 1].map((k) => (scale / eps) * (dOut[2]! * re[0]! * e[k]! + dOut[3]! * re[1]! * e[2 + k]!));
      expectClose(dx.subarray(2, 4), want, { rtol: 1e-14, label: `dx_1 (eps ${eps})` });
      // and x_0 (norm ≫ eps) keeps its projection: dx_0 ⟂ x_0
      expect(Math.abs(dx[0]! * x[0]! + dx[1]! * x[1]!)).toBeLessThan(1e-14);
    }
  });
});

describe('reference.cosinePairedBackward', () => {
  const PAIRED_CASES: Array<{ name: string; batch: number; c: number; dim: number; scale: number; eps: number | undefined; h: number; hRows?: Array<[number, 'zero' | number]>; eRows?: Array<[number, 'zero' | number]> }> = [
    { name: 'batch=3 c=4 dim=5', batch: 3, c: 4, dim: 5, scale: 1, eps: undefined, h: 1e-6 },
    { name: 'batch=1 c=1 dim=1', batch: 1, c: 1, dim: 1, scale: -2, eps: undefined, h: 1e-6 },
    {
      name: 'batch=2 c=3 dim=4, eps 0.5, clamped rows in h and e', batch: 2, c: 3, dim: 4, scale: 3, eps: 0.5, h: 1e-6,
      hRows: [[1, 0.1], [4, 0.2]], eRows: [[0, 0.1]],
    },
    {
      name: 'batch=2 c=3 dim=4, default eps, zero rows in h and e', batch: 2, c: 3, dim: 4, scale: 1, eps: undefined, h: 2e-9,
      hRows: [[2, 'zero']], eRows: [[1, 'zero']],
    },
  ];
  for (const [s, cs] of PAIRED_CASES.entries()) {
    it(`matches finite differences of the forward (${cs.name})`, () => {
      const { batch, c, dim, scale, eps, h: step } = cs;
      const h = makeInputs(600 + 10 * s, batch * c, dim, cs.hRows);
      const e = makeInputs(601 + 10 * s, c, dim, cs.eRows);
      const dOut = normalF64(makeRng(602 + 10 * s), batch * c);
      const out = reference.cosinePairedForward({ h, e, batch, c, dim, scale, eps });
      // the forward by its definition, through the batched reference
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < c; j++) {
          const one = reference.cosineForward({
            x: h.subarray((b * c + j) * dim, (b * c + j + 1) * dim), e: e.subarray(j * dim, (j + 1) * dim),
            n: 1, c: 1, dim, scale, eps,
          });
          expect(out[b * c + j]).toBeCloseTo(one[0]!, 14);
        }
      }
      const grads = reference.cosinePairedBackward({ dOut, out, h, e, batch, c, dim, scale, eps });
      const loss = (hh: Float64Array, ee: Float64Array): number =>
        dot(dOut, reference.cosinePairedForward({ h: hh, e: ee, batch, c, dim, scale, eps }));
      const tol = step < 1e-6 ? { rtol: 1e-6, atol: 1e-6 } : TOL;
      expectClose(grads.dh, finiteDiffGrad((v) => loss(v, e), h, step), { ...tol, label: 'dh', cols: dim });
      expectClose(grads.de, finiteDiffGrad((v) => loss(h, v), e, step), { ...tol, label: 'de', cols: dim });
    });
  }
});

describe('reference.cosineTopk', () => {
  /** Brute force: every (score, index) pair, sorted by score desc then index asc. */
  function bruteForce(scores: Float64Array, n: number, c: number, k: number): { indices: number[]; scores: number[] } {
    const indices: number[] = [];
    const top: number[] = [];
    for (let i = 0; i < n; i++) {
      const pairs = Array.from({ length: c }, (_, j) => [scores[i * c + j]!, j] as const);
      pairs.sort((p, q) => (p[0] !== q[0] ? (p[0] > q[0] ? -1 : 1) : p[1] - q[1]));
      for (let r = 0; r < k; r++) {
        top.push(pairs[r]![0]);
        indices.push(pairs[r]![1]);
      }
    }
    return { indices, scores: top };
  }

  it('breaks ties by the lower index (hand-checked)', () => {
    // e rows: 0 = [1,0], 1 = [0,1], 2 = [2,0] (same direction as 0), 3 = [-1,0], 4 = [0,4] (as 1);
    // powers of two, so the tied scores are bit-equal in float64
    // x0 = [1,1]: cos 1/√2 for rows 0,1,2,4 (a four-way tie), −1/√2 for row 3
    // x1 = [1,0]: cos 1 for rows 0 and 2, 0 for rows 1 and 4, −1 for row 3
    const e = [1, 0, 0, 1, 2, 0, -1, 0, 0, 4];
    const x = [1, 1, 1, 0];
    const res = reference.cosineTopk({ x, e, n: 2, c: 5, dim: 2, k: 3 });
    expect(Array.from(res.indices)).toEqual([0, 1, 2, 0, 2, 1]);
    expectClose(res.scores, [Math.SQRT1_2, Math.SQRT1_2, Math.SQRT1_2, 1, 1, 0], { rtol: 1e-15, label: 'scores' });
    // k = c: the whole order, the tied zeros (1, 4) ascending, then −1
    const all = reference.cosineTopk({ x, e, n: 2, c: 5, dim: 2, k: 5 });
    expect(Array.from(all.indices)).toEqual([0, 1, 2, 4, 3, 0, 2, 1, 4, 3]);
    // a negative scale reverses the order (ties still by the lower index)
    const neg = reference.cosineTopk({ x, e, n: 2, c: 5, dim: 2, k: 2, scale: -1 });
    expect(Array.from(neg.indices)).toEqual([3, 0, 3, 1]);
    // scale = 0: every score ties → the first k indices
    const flat = reference.cosineTopk({ x, e, n: 2, c: 5, dim: 2, k: 3, scale: 0 });
    expect(Array.from(flat.indices)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('matches a brute-force sort of the full similarity matrix', () => {
    const rng = makeRng(700);
    const n = 6, c = 40, dim = 3, k = 7;
    // few distinct directions so that ties occur: e rows repeat (scaled) 8 base vectors
    const base = normalF64(rng, 8 * dim);
    const e = new Float64Array(c * dim);
    for (let j = 0; j < c; j++) {
      const b = rng.int(0, 7);
      const s = rng.pick([0.5, 1, 2]);
      for (let d = 0; d < dim; d++) e[j * dim + d] = s * base[b * dim + d]!;
    }
    const x = normalF64(rng, n * dim);
    for (const scale of [1, -2]) {
      const res = reference.cosineTopk({ x, e, n, c, dim, k, scale });
      const all = reference.cosineForward({ x, e, n, c, dim, scale });
      // brute force on scores rounded to 12 digits, so that equal directions tie exactly
      const rounded = all.map((v) => Number(v.toPrecision(12)));
      const want = bruteForce(rounded, n, c, k);
      expect(Array.from(res.indices)).toEqual(want.indices);
      expectClose(res.scores, want.scores, { rtol: 1e-11, label: `scores (scale ${scale})` });
      // every row is sorted, and indices are distinct
      for (let i = 0; i < n; i++) {
        const row = Array.from(res.indices.subarray(i * k, (i + 1) * k));
        expect(new Set(row).size).toBe(k);
      }
    }
  });

  it('rejects k outside [1, c]', () => {
    expect(() => reference.cosineTopk({ x: [1], e: [1, 2], n: 1, c: 2, dim: 1, k: 3 })).toThrow(RangeError);
    expect(() => reference.cosineTopk({ x: [1], e: [1, 2], n: 1, c: 2, dim: 1, k: 0 })).toThrow(RangeError);
  });
});
