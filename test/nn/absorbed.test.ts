// test/nn/absorbed.test.ts — cross-attention with the key/value projections absorbed
// (MultiHeadAttention.forwardAbsorbed, ops.memoryAttention inside) computes the same function as
// the standard path: (a) against `forward(query, denseSource, { keyLengths })` — output, the
// query and source gradients and every parameter gradient, with kvDim ≠ dim, a sample of
// length 0 and garbage in the source's padding; the key bias gets a gradient of exactly 0 (it
// cancels in the softmax) — and when `forward` picks the absorbed path; (b) the cross-modal
// decoder layer with packed memories (which takes the absorbed path) against the float64 layer
// of test/helpers/layersRef.ts, every gradient against finite differences of that layer.

import { afterEach, describe, expect, it, vi } from 'vitest';

import { kernels } from '../../lib/index.js';
import { CrossModalDecoderLayer, MultiHeadAttention } from '../../lib/nn/index.js';
import { fromArray, Rng, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose, expectSameBits, maxAbs } from '../helpers/compare.js';
import { checkLayer } from '../helpers/layerCheck.js';
import { decoderRef } from '../helpers/layersRef.js';
import { layoutOf } from '../../lib/tensor/packed.js';
import { packDense } from '../helpers/packed.js';
import { makeRng } from '../helpers/seed.js';

afterEach(() => {
  vi.restoreAllMocks();
});

type Mode = 'standard' | 'absorbed' | 'auto';

interface Result {
  y: Float32Array;
  dQuery: Float32Array;
  dSource: Float32Array;
  grads: Map<string, Float32Array>;
  /** Calls of the memory-attention kernel (forward) during the run. */
  memoryCalls: number;
}

interface Setup {
  mha: MultiHeadAttention;
  B: number;
  Lq: number;
  L: number;
  kv: number;
  lengths: Int32Array;
  query: Float32Array;
  source: Float32Array;
  w: Float32Array;
}

function setup(seed: number, dim: number, heads: number, kv: number, Lq: number, lengths: number[], opts: { bias?: boolean } = {}): Setup {
  const rng = makeRng(seed);
  const mha = new MultiHeadAttention(dim, heads, new Rng(seed + 1), { kvDim: kv, ...opts });
  const B = lengths.length, L = Math.max(...lengths);
  // the padding rows of the dense source hold garbage: neither path may read them
  const source = rng.normalF32(B * L * kv, 0, 1);
  return { mha, B, Lq, L, kv, lengths: Int32Array.from(lengths), query: rng.normalF32(B * Lq * dim), source, w: rng.normalF32(B * Lq * dim) };
}

function run(s: Setup, mode: Mode): Result {
  const spy = vi.spyOn(kernels, 'memoryAttentionForward');
  const { mha, B, Lq, L, kv, lengths } = s;
  let res: Result | undefined;
  try {
    tidy(() => {
      const query = fromArray(s.query, [B, Lq, mha.dim], { requiresGrad: true });
      const source = fromArray(s.source, [B, L, kv], { requiresGrad: true });
      let y: Tensor;
      if (mode === 'standard') y = mha.forward(query, source, { keyLengths: lengths });
      else if (mode === 'absorbed') y = mha.forwardAbsorbed(query, packDense(source, lengths).rows, layoutOf(lengths, L));
      else {
        const p = packDense(source, lengths);
        y = mha.forward(query, p.rows, { sourceLayout: p.layout });
      }
      expect(y.shape).toEqual([B, Lq, mha.dim]);
      const out = y.data.slice();
      y.backward(s.w);
      const grads = new Map([...mha.namedParameters()].map(([n, t]) => {
        expect(t.grad, `${mode}: ${n} has a gradient`).not.toBeNull();
        return [n, t.grad!.data.slice()] as [string, Float32Array];
      }));
      res = { y: out, dQuery: query.grad!.data.slice(), dSource: source.grad!.data.slice(), grads, memoryCalls: spy.mock.calls.length };
      mha.zeroGrad();
    });
  } finally {
    spy.mockRestore();
  }
  return res!;
}

function expectSameFunction(a: Result, b: Result, what: string): void {
  const tol = (ref: Float32Array): { rtol: number; atol: number } => ({ rtol: 1e-4, atol: 1e-5 * Math.max(maxAbs(ref), 1e-6) });
  expectClose(b.y, a.y, { ...tol(a.y), label: `${what}: output` });
  expectClose(b.dQuery, a.dQuery, { ...tol(a.dQuery), label: `${what}: d query` });
  expectClose(b.dSource, a.dSource, { ...tol(a.dSource), label: `${what}: d source` });
  for (const [name, g] of a.grads) {
    if (name.endsWith('k_proj.bias')) continue; // 0 in exact arithmetic: checked separately
    expectClose(b.grads.get(name)!, g, { ...tol(g), label: `${what}: d ${name}` });
  }
}

// ---------------------------------------------------------------------------------------------

describe('MultiHeadAttention.forwardAbsorbed equals the standard cross-attention', () => {
  const cases = [
    { name: 'dim 16, 2 heads, kvDim 12, Lq 3, a sample of length 0', seed: 100, dim: 16, heads: 2, kv: 12, Lq: 3, lengths: [5, 0, 2, 7] },
    { name: 'dim 32, 4 heads, kvDim 40, Lq 2, one memory row', seed: 200, dim: 32, heads: 4, kv: 40, Lq: 2, lengths: [1, 6, 0] },
    { name: 'dim 12, 3 heads, kvDim 5, Lq 1, single sample', seed: 300, dim: 12, heads: 3, kv: 5, Lq: 1, lengths: [9] },
  ];
  for (const c of cases) {
    it(`outputs and every gradient (${c.name})`, () => {
      const s = setup(c.seed, c.dim, c.heads, c.kv, c.Lq, c.lengths);
      expect(s.mha.absorbs(c.Lq)).toBe(true);
      const standard = run(s, 'standard');
      const absorbed = run(s, 'absorbed');
      const auto = run(s, 'auto');
      expect(standard.memoryCalls).toBe(0);
      expect(absorbed.memoryCalls).toBe(1);
      expect(auto.memoryCalls, 'forward() with a packed source takes the absorbed path').toBe(1);
      expectSameFunction(standard, absorbed, 'absorbed vs standard');
      // forward() on the packed source is forwardAbsorbed, bit for bit
      expectSameBits(auto.y, absorbed.y, 'auto vs absorbed output');
      for (const [name, g] of absorbed.grads) expectSameBits(auto.grads.get(name)!, g, `auto vs absorbed d ${name}`);

      // none of the compared gradients is trivially zero
      for (const [name, g] of standard.grads) if (!name.endsWith('k_proj.bias')) expect(maxAbs(g), `d ${name}`).toBeGreaterThan(1e-4);
      expect(maxAbs(standard.dQuery)).toBeGreaterThan(1e-4);
      expect(maxAbs(standard.dSource)).toBeGreaterThan(1e-4);

      // the key bias cancels in the softmax: exactly 0 absorbed, ≈ 0 (fp32 rounding) standard
      expect(Array.from(absorbed.grads.get('k_proj.bias')!).every((v) => v === 0), 'absorbed d k_proj.bias exactly 0').toBe(true);
      expect(maxAbs(standard.grads.get('k_proj.bias')!)).toBeLessThan(1e-5 * maxAbs(standard.grads.get('q_proj.weight')!) + 1e-7);

      // padding rows of the dense source get no gradient on either path
      const { B, L, kv, lengths } = s;
      for (const r of [standard, absorbed]) {
        for (let b = 0; b < B; b++) for (let t = lengths[b]!; t < L; t++) {
          expect(Array.from(r.dSource.subarray((b * L + t) * kv, (b * L + t + 1) * kv)).every((v) => v === 0)).toBe(true);
        }
      }
      // a sample of length 0 gives out_proj.bias (0 before out_proj) and no query gradient
      const bias = Array.from(s.mha.out_proj.bias!.data);
      lengths.forEach((l, b) => {
        if (l !== 0) return;
        for (let i = 0; i < c.Lq; i++) {
          const row = (b * c.Lq + i) * c.dim;
          expectClose(absorbed.y.subarray(row, row + c.dim), bias, { rtol: 1e-7, label: `absorbed output of empty sample ${b}` });
          expectClose(standard.y.subarray(row, row + c.dim), bias, { rtol: 1e-7, label: `standard output of empty sample ${b}` });
          expect(Array.from(absorbed.dQuery.subarray(row, row + c.dim)).every((v) => v === 0)).toBe(true);
        }
      });
    });
  }

  it('without biases (bias: false)', () => {
    const s = setup(400, 32, 4, 24, 2, [3, 0, 8], { bias: false });
    expect(s.mha.k_proj.bias).toBeNull();
    const standard = run(s, 'standard');
    const absorbed = run(s, 'absorbed');
    expect(absorbed.memoryCalls).toBe(1);
    expect([...absorbed.grads.keys()]).toEqual([...standard.grads.keys()]);
    expectSameFunction(standard, absorbed, 'absorbed vs standard, no bias');
  });
});

describe('MultiHeadAttention.forward: when the absorbed path is taken', () => {
  it('absorbs(lq) is 2·lq·heads <= dim', () => {
    const m = new MultiHeadAttention(16, 2, new Rng(1));
    expect([1, 2, 3, 4, 5].map((lq) => m.absorbs(lq))).toEqual([true, true, true, true, false]);
    const m4 = new MultiHeadAttention(16, 4, new Rng(1));
    expect([1, 2, 3].map((lq) => m4.absorbs(lq))).toEqual([true, true, false]);
  });

  it('not for too many queries, causal, or a packed query (results still agree); keyLengths with a packed source is an error', () => {
    const lengths = Int32Array.of(4, 0, 2);
    const B = 3, L = 4, dim = 16, kv = 16;
    const mha = new MultiHeadAttention(dim, 2, new Rng(9));
    const rng = makeRng(10);
    const sv = rng.normalF32(B * L * kv);
    const call = (Lq: number, f: (q: Tensor, packed: Tensor, dense: Tensor) => Tensor): { y: Float32Array; calls: number } => {
      const spy = vi.spyOn(kernels, 'memoryAttentionForward');
      let y = new Float32Array(0);
      try {
        tidy(() => {
          const q = fromArray(makeRng(Lq).normalF32(B * Lq * dim), [B, Lq, dim]);
          const dense = fromArray(sv, [B, L, kv]);
          y = f(q, packDense(dense, lengths).rows, dense).data.slice();
        });
        return { y, calls: spy.mock.calls.length };
      } finally {
        spy.mockRestore();
      }
    };
    const sp = layoutOf(lengths, L);
    // Lq = 5 > dim / (2·heads): the standard path, the same result as the dense call
    const five = call(5, (q, packed) => mha.forward(q, packed, { sourceLayout: sp }));
    expect(five.calls).toBe(0);
    const fiveDense = call(5, (q, _p, dense) => mha.forward(q, dense, { keyLengths: lengths }));
    expectSameBits(five.y, fiveDense.y, 'Lq 5: packed vs dense source');
    // Lq = 4: absorbed
    expect(call(4, (q, packed) => mha.forward(q, packed, { sourceLayout: sp })).calls).toBe(1);
    // keyLengths belong to a dense source: with a packed one (its layout is its keys) an error
    expect(() => call(4, (q, packed) => mha.forward(q, packed, { keyLengths: Int32Array.of(3, 0, 2), sourceLayout: sp })))
      .toThrow(/^MultiHeadAttention: keyLengths is for a dense source/);
    // causal: standard
    expect(call(4, (q, packed) => mha.forward(q, packed, { sourceLayout: sp, causal: true })).calls).toBe(0);
    // a packed query: standard
    const ql = Int32Array.of(2, 2, 2);
    expect(call(2, (q, packed) => mha.forward(packDense(q, ql).rows, packed, { sourceLayout: sp, queryLayout: layoutOf(ql) })).calls).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('CrossModalDecoderLayer with packed memories (absorbed cross-attention)', () => {
  it('matches the float64 layer: output and every parameter and input gradient', () => {
    const B = 3, C = 3, d = 16, H = 2, hidden = 24, Ls = [4, 6];
    const layer = new CrossModalDecoderLayer(d, H, 2, new Rng(17), { ffnDim: hidden });
    expect(layer.cross_attn.at(0).absorbs(C)).toBe(true);
    expect(layer.cross_attn.at(1).absorbs(C)).toBe(true);
    const lens = [Int32Array.from([4, 2, 1]), Int32Array.from([6, 0, 3])]; // sample 1 lacks modality 1
    const spy = vi.spyOn(kernels, 'memoryAttentionForward');
    checkLayer(layer, [{ shape: [B, C, d] }, { shape: [B, Ls[0]!, d] }, { shape: [B, Ls[1]!, d] }],
      ([q, m0, m1]) => {
        const y = layer.forward(q!, [m0!, m1!].map((m, i) => packDense(m, lens[i]!)));
        // both cross-attentions took the absorbed path
        expect(spy.mock.calls.length).toBe(2);
        return y;
      },
      ([q, m0, m1], p) => decoderRef(q!, [m0!, m1!], lens, p, B, C, Ls, d, H, hidden), 37);
    spy.mockRestore();
  });
  it('a modality every sample lacks (all lengths 0, no memory rows) is the same as no modality', () => {
    const B = 2, C = 3, d = 16, H = 2;
    const layer = new CrossModalDecoderLayer(d, H, 2, new Rng(19), { ffnDim: 24 });
    const rng = makeRng(41);
    const qv = rng.normalF32(B * C * d), mv = rng.normalF32(B * 4 * d);
    const lens = Int32Array.of(3, 4), none = Int32Array.of(0, 0);
    const run = (empty: boolean): Float32Array => {
      let y = new Float32Array(0);
      tidy(() => {
        const q = fromArray(qv, [B, C, d]);
        const m0 = packDense(fromArray(mv, [B, 4, d]), lens);
        const m1 = empty ? { rows: fromArray(new Float32Array(0), [0, d]), layout: layoutOf(none, 4) } : null;
        y = layer.forward(q, [m0, m1]).data.slice();
      });
      return y;
    };
    expectSameBits(run(true), run(false));
  });
});
