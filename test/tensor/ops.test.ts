// test/tensor/ops.test.ts — every differentiable op: fp32 forward through the tape vs a float64
// reference, gradients vs central finite differences of that reference (test/helpers/gradCheck).
import { describe, expect, it } from 'vitest';

import { reference } from '../../lib/reference/index.js';
import { Rng, ops, fromArray, tidy, noGrad, type Tensor } from '../../lib/tensor/index.js';
import { layoutOf, packSequences, validatePacked } from '../../lib/tensor/packed.js';
import { checkOp } from '../helpers/gradCheck.js';

const R = reference;

/** float64 x[..., in] · Wᵀ + b */
function linearRef(x: Float64Array, w: Float64Array, b: Float64Array | null, nIn: number, nOut: number): Float64Array {
  const rows = x.length / nIn;
  return R.gemm({ a: x, b: w, bias: b ?? undefined, m: rows, n: nOut, k: nIn, transB: true });
}

function permute0213(src: ArrayLike<number>, A: number, B: number, C: number, D: number): Float64Array {
  const out = new Float64Array(A * B * C * D);
  for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let d = 0; d < D; d++) {
    out[((a * C + c) * B + b) * D + d] = src[((a * B + b) * C + c) * D + d]!;
  }
  return out;
}

describe('linear algebra', () => {
  it('linear with bias, 3-D input', () => {
    checkOp('linear', [{ shape: [2, 3, 5] }, { shape: [4, 5] }, { shape: [4] }],
      ([x, w, b]) => ops.linear(x!, w!, b!),
      ([x, w, b]) => linearRef(x!, w!, b!, 5, 4));
  });
  it('linear without bias, input without grad', () => {
    checkOp('linear', [{ shape: [7, 3], grad: false }, { shape: [2, 3] }],
      ([x, w]) => ops.linear(x!, w!),
      ([x, w]) => linearRef(x!, w!, null, 3, 2));
  });
  it('a weight and an input used twice accumulate (GEMM beta = 1 path)', () => {
    checkOp('linear shared', [{ shape: [3, 4] }, { shape: [4, 4] }, { shape: [4] }],
      ([x, w, b]) => ops.linear(ops.linear(x!, w!, b!), w!, b!),
      ([x, w, b]) => linearRef(linearRef(x!, w!, b!, 4, 4), w!, b!, 4, 4));
    checkOp('matmul shared', [{ shape: [3, 3] }],
      ([a]) => ops.matmul(ops.matmul(a!, a!), a!),
      ([a]) => R.gemm({ a: R.gemm({ a: a!, b: a!, m: 3, n: 3, k: 3 }), b: a!, m: 3, n: 3, k: 3 }));
  });
  it('matmul', () => {
    checkOp('matmul', [{ shape: [3, 4] }, { shape: [4, 5] }],
      ([a, b]) => ops.matmul(a!, b!),
      ([a, b]) => R.gemm({ a: a!, b: b!, m: 3, n: 5, k: 4 }));
  });
  it('rejects mismatched shapes with a message naming both', () => {
    tidy(() => {
      const x = fromArray(new Float32Array(6), [2, 3]);
      const w = fromArray(new Float32Array(8), [2, 4]);
      expect(() => ops.linear(x, w)).toThrow(/linear: x \[2, 3\] does not match weight \[2, 4\]/);
    });
  });
});

describe('elementwise', () => {
  it('add with trailing broadcast and alpha', () => {
    checkOp('add', [{ shape: [3, 2, 4] }, { shape: [2, 4] }],
      ([a, b]) => ops.add(a!, b!, 0.5),
      ([a, b]) => a!.map((v, i) => v + 0.5 * b![i % 8]!));
  });
  it('sub, same shape', () => {
    checkOp('sub', [{ shape: [5] }, { shape: [5] }], ([a, b]) => ops.sub(a!, b!), ([a, b]) => a!.map((v, i) => v - b![i]!));
  });
  it('mul with a scalar tensor', () => {
    checkOp('mul', [{ shape: [2, 3] }, { shape: [] }], ([a, b]) => ops.mul(a!, b!), ([a, b]) => a!.map((v) => v * b![0]!));
  });
  it('mul with a broadcast row', () => {
    checkOp('mul', [{ shape: [4, 3] }, { shape: [3] }], ([a, b]) => ops.mul(a!, b!), ([a, b]) => a!.map((v, i) => v * b![i % 3]!));
  });
  it('the same tensor used twice accumulates both paths', () => {
    checkOp('x*x+x', [{ shape: [6] }], ([x]) => ops.add(ops.mul(x!, x!), x!), ([x]) => x!.map((v) => v * v + v));
  });
  it('scale, exp', () => {
    checkOp('scale', [{ shape: [4] }], ([x]) => ops.scale(x!, -2.5), ([x]) => x!.map((v) => -2.5 * v));
    checkOp('exp', [{ shape: [4] }], ([x]) => ops.exp(x!), ([x]) => x!.map(Math.exp));
  });
  it('scaleRows gates whole samples', () => {
    checkOp('scaleRows', [{ shape: [3, 2, 2] }], ([x]) => ops.scaleRows(x!, [1, 0, 0.5]),
      ([x]) => x!.map((v, i) => v * [1, 0, 0.5][Math.floor(i / 4)]!));
  });
});

describe('layout', () => {
  it('splitHeads / mergeHeads', () => {
    checkOp('splitHeads', [{ shape: [2, 3, 6] }], ([x]) => ops.splitHeads(x!, 2), ([x]) => permute0213(x!, 2, 3, 2, 3));
    checkOp('mergeHeads', [{ shape: [2, 2, 3, 3] }], ([x]) => ops.mergeHeads(x!), ([x]) => permute0213(x!, 2, 2, 3, 3));
  });
  it('reshape is a view whose gradient flows', () => {
    checkOp('reshape', [{ shape: [2, 6] }], ([x]) => ops.mul(x!.reshape([3, -1]), fromArray([1, 2, 3, 4], [4])),
      ([x]) => x!.map((v, i) => v * (1 + (i % 4))));
  });
  it('slice and concat along the sequence axis', () => {
    checkOp('slice', [{ shape: [2, 5, 3] }], ([x]) => ops.slice(x!, 1, 1, 4), ([x]) => {
      const out: number[] = [];
      for (let b = 0; b < 2; b++) for (let l = 1; l < 4; l++) for (let d = 0; d < 3; d++) out.push(x![(b * 5 + l) * 3 + d]!);
      return out;
    });
    checkOp('concat', [{ shape: [2, 1, 3] }, { shape: [2, 4, 3] }], ([a, b]) => ops.concat([a!, b!], 1), ([a, b]) => {
      const out: number[] = [];
      for (let bi = 0; bi < 2; bi++) {
        for (let d = 0; d < 3; d++) out.push(a![bi * 3 + d]!);
        for (let l = 0; l < 4; l++) for (let d = 0; d < 3; d++) out.push(b![(bi * 4 + l) * 3 + d]!);
      }
      return out;
    });
  });
  it('gatherSeq and embedding (repeated ids accumulate)', () => {
    checkOp('gatherSeq', [{ shape: [2, 4, 3] }], ([x]) => ops.gatherSeq(x!, [3, 1]), ([x]) => [...x!.slice(9, 12), ...x!.slice(12 + 3, 12 + 6)]);
    const ids = Int32Array.from([2, 0, 2, 4]);
    checkOp('embedding', [{ shape: [5, 3] }], ([w]) => ops.embedding(w!, ids, [2, 2]), ([w]) => Array.from(ids).flatMap((id) => Array.from(w!.slice(id * 3, id * 3 + 3))));
  });
  it('gatherRows (repeated rows accumulate)', () => {
    const idx = Int32Array.from([3, 0, 3, 1]);
    checkOp('gatherRows', [{ shape: [4, 3] }], ([x]) => ops.gatherRows(x!, idx), ([x]) => Array.from(idx).flatMap((r) => Array.from(x!.slice(r * 3, r * 3 + 3))));
  });
  it('embedding rejects an id out of range', () => {
    tidy(() => {
      const w = fromArray(new Float32Array(6), [3, 2]);
      expect(() => ops.embedding(w, Int32Array.from([0, 3]))).toThrow(/ids\[1\] = 3 is outside \[0, 3\)/);
    });
  });
});

describe('packed sequences', () => {
  const lengths = Int32Array.from([2, 0, 3]);
  const packRef = (x: Float64Array, L: number, D: number): number[] => {
    const out: number[] = [];
    lengths.forEach((l, b) => { for (let i = 0; i < l * D; i++) out.push(x[b * L * D + i]!); });
    return out;
  };
  it('packSequences / layoutOf / validatePacked: the valid rows in order, offsets, the longest length', () => {
    const x = Float64Array.from({ length: 3 * 4 * 2 }, (_, i) => i * 0.5 - 3);
    const parts = Array.from(lengths, (l, b) => (l ? Float32Array.from(x.subarray(b * 8, b * 8 + l * 2)) : null));
    const seq = packSequences(2, parts);
    expect(Array.from(seq.rows)).toEqual(packRef(x, 4, 2));
    expect(Array.from(seq.lengths)).toEqual([2, 0, 3]);
    expect(Array.from(seq.offsets)).toEqual([0, 2, 2, 5]);
    expect(seq.maxLength).toBe(3);
    expect(() => validatePacked(seq, 3, 'seq')).not.toThrow();
    expect(() => validatePacked({ ...seq, offsets: Int32Array.of(0, 2, 3, 5) }, 3, 'seq')).toThrow(/^seq: offsets\[2\] − offsets\[1\] = 1, but lengths\[1\] = 0$/);
    expect(() => validatePacked({ ...seq, rows: seq.rows.subarray(2) }, 3, 'seq')).toThrow(/^seq: rows has 8 values, expected 5×2$/);
    expect(() => validatePacked(seq, 2, 'seq')).toThrow(/lengths has 3 entries, expected 2/);
    expect(layoutOf([4, 1], 6).maxLength).toBe(6);
    expect(() => packSequences(2, [new Float32Array(3)])).toThrow(/sample 0 has 3 values, not a whole number of rows of 2/);
  });
  it('addPackedPositions adds position j to each sample\'s j-th token', () => {
    checkOp('addPackedPositions', [{ shape: [5, 3] }, { shape: [4, 3] }], ([x, pos]) => ops.addPackedPositions(x!, pos!, lengths), ([x, pos]) => {
      const out: number[] = [];
      let t = 0;
      lengths.forEach((l) => { for (let j = 0; j < l; j++, t++) for (let d = 0; d < 3; d++) out.push(x![t * 3 + d]! + pos![j * 3 + d]!); });
      return out;
    });
  });
  it('rejects lengths that do not fit', () => {
    tidy(() => {
      expect(() => layoutOf(Int32Array.from([1, 4]), 3)).toThrow(/lengths\[1\] = 4 is outside \[0, 3\]/);
      expect(() => ops.offsetsOf('test', Int32Array.from([1, -1]))).toThrow(/expected lengths\[1\] to be a non-negative integer, received -1/);
      expect(Array.from(ops.offsetsOf('test', Int32Array.from([2, 0, 3]), 3))).toEqual([0, 2, 2, 5]);
    });
  });
});

describe('normalisation, activations, softmax', () => {
  it('layerNorm', () => {
    checkOp('layerNorm', [{ shape: [3, 8] }, { shape: [8] }, { shape: [8] }], ([x, w, b]) => ops.layerNorm(x!, w!, b!),
      ([x, w, b]) => R.layerNormForward({ x: x!, weight: w!, bias: b!, rows: 3, dim: 8, eps: 1e-5 }).out, { gradRtol: 2e-3 });
  });
  for (const approximate of ['none', 'tanh', 'quick'] as const) {
    it(`gelu ${approximate}`, () => {
      checkOp(`gelu ${approximate}`, [{ shape: [10] }], ([x]) => ops.gelu(x!, approximate), ([x]) => R.geluForward({ x: x!, approximate }));
    });
  }
  it('softmax over the last axis', () => {
    checkOp('softmax', [{ shape: [3, 5] }], ([x]) => ops.softmax(x!), ([x]) => R.softmax({ x: x!, rows: 3, cols: 5 }));
  });
  it('dropout: seeded, scaled, identity when not training', () => {
    const run = (seed: number): number[] => tidy(() => ops.dropout(fromArray(new Float32Array(64).fill(1), [64]), 0.25, new Rng(seed)).toArray());
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8)).not.toEqual(a);
    expect(new Set(a)).toEqual(new Set([0, 1 / 0.75].map(Math.fround)));
    tidy(() => {
      const x = fromArray([1, 2, 3], [3]);
      expect(ops.dropout(x, 0.5, new Rng(1), false)).toBe(x);
    });
    // gradient: the same mask scales the incoming gradient
    const gen = new Rng(3);
    const probe = new Rng(3);
    const mask = Array.from({ length: 12 }, () => (probe.next() < 0.3 ? 0 : 1 / 0.7));
    checkOp('dropout', [{ shape: [12] }], ([x]) => ops.dropout(x!, 0.3, gen), ([x]) => x!.map((v, i) => v * mask[i]!));
  });
});

describe('attention and similarity', () => {
  // packed rows [T, H·Dh] with per-sample offsets (lib/kernels/attention.ts)
  const H = 2, Dh = 4, W = H * Dh;
  const cu = (lens: number[]): Int32Array => Int32Array.from([0, ...lens.map((_, i) => lens.slice(0, i + 1).reduce((x, y) => x + y, 0))]);
  const attnRef = (q: Float64Array, k: Float64Array, v: Float64Array, cuQ: Int32Array, cuK: Int32Array, causal: boolean): Float64Array =>
    R.attentionForward({ q, k, v, batch: cuQ.length - 1, heads: H, headDim: Dh, cuSeqlensQ: cuQ, cuSeqlensK: cuK, causal }).out;
  it('attention over packed samples of different lengths (one without keys)', () => {
    const cuQ = cu([3, 2]), cuK = cu([5, 0]);
    checkOp('attention', [{ shape: [5, W] }, { shape: [5, W] }, { shape: [5, W] }],
      ([q, k, v]) => ops.attention(q!, k!, v!, { heads: H, cuSeqlensQ: cuQ, cuSeqlensK: cuK }),
      ([q, k, v]) => attnRef(q!, k!, v!, cuQ, cuK, false));
  });
  it('attention, causal, uniform offsets (the padded layout), q without grad', () => {
    const c = ops.uniformOffsets(2, 5);
    expect(Array.from(c)).toEqual([0, 5, 10]);
    checkOp('attention causal', [{ shape: [10, W], grad: false }, { shape: [10, W] }, { shape: [10, W] }],
      ([q, k, v]) => ops.attention(q!, k!, v!, { heads: H, cuSeqlensQ: c, cuSeqlensK: c, causal: true }),
      ([q, k, v]) => attnRef(q!, k!, v!, c, c, true));
  });
  it('attention with one tensor as q, k and v (self-attention of raw inputs), a zero-length sample', () => {
    const c = cu([2, 0, 4]);
    checkOp('attention shared', [{ shape: [6, W] }],
      ([x]) => ops.attention(x!, x!, x!, { heads: H, cuSeqlensQ: c, cuSeqlensK: c, causal: true }),
      ([x]) => attnRef(x!, x!.slice(), x!.slice(), c, c, true));
  });
  it('attention with no keys at all gives zeros and zero gradients; bad offsets are refused', () => {
    tidy(() => {
      const q = fromArray(new Float32Array(3 * W).fill(1), [3, W], { requiresGrad: true });
      const k = fromArray(new Float32Array(0), [0, W], { requiresGrad: true });
      const y = ops.attention(q, k, k, { heads: H, cuSeqlensQ: cu([3]), cuSeqlensK: cu([0]) });
      expect(Array.from(y.data)).toEqual(new Array(3 * W).fill(0));
      ops.sum(y).backward();
      expect(Array.from(q.grad!.data)).toEqual(new Array(3 * W).fill(0));
      expect(() => ops.attention(q, q, q, { heads: H, cuSeqlensQ: cu([2]), cuSeqlensK: cu([3]) })).toThrow(/offsets end at 2 \/ 3, q \/ k have 3 \/ 3 rows/);
      expect(() => ops.attention(q, q, q, { heads: 3, cuSeqlensQ: cu([3]), cuSeqlensK: cu([3]) })).toThrow(/heads = 3 to divide the width 8/);
      expect(() => ops.attention(q, q, q, { heads: H, cuSeqlensQ: Int32Array.of(0, 2, 3), cuSeqlensK: cu([3]) })).toThrow(/same length/);
      expect(() => ops.attention(q, q, q, { heads: H, cuSeqlensQ: Int32Array.of(0, 4, 3), cuSeqlensK: Int32Array.of(0, 1, 3) })).toThrow(/cuSeqlensQ\[2\] to be an integer in \[4, /);
    });
  });
  it('cosineSimilarity and cosinePaired with a scale', () => {
    checkOp('cosineSimilarity', [{ shape: [4, 6] }, { shape: [3, 6] }], ([x, e]) => ops.cosineSimilarity(x!, e!, 2.5),
      ([x, e]) => R.cosineSimilarity({ x: x!, e: e!, n: 4, c: 3, dim: 6, scale: 2.5 }));
    checkOp('cosinePaired', [{ shape: [2, 3, 6] }, { shape: [3, 6] }], ([h, e]) => ops.cosinePaired(h!, e!, 1.5),
      ([h, e]) => R.cosinePaired({ h: h!, e: e!, batch: 2, c: 3, dim: 6, scale: 1.5 }));
  });
});

describe('reductions and losses', () => {
  it('sum and mean, all and last axis', () => {
    checkOp('sum', [{ shape: [3, 4] }], ([x]) => ops.sum(x!), ([x]) => [x!.reduce((s, v) => s + v, 0)]);
    checkOp('sum -1', [{ shape: [3, 4] }], ([x]) => ops.sum(x!, -1), ([x]) => [0, 1, 2].map((r) => x!.slice(r * 4, r * 4 + 4).reduce((s, v) => s + v, 0)));
    checkOp('mean', [{ shape: [3, 4] }], ([x]) => ops.mean(x!), ([x]) => [x!.reduce((s, v) => s + v, 0) / 12]);
    checkOp('mean -1', [{ shape: [2, 5] }], ([x]) => ops.mean(x!, -1), ([x]) => [0, 1].map((r) => x!.slice(r * 5, r * 5 + 5).reduce((s, v) => s + v, 0) / 5));
  });
  it('crossEntropy', () => {
    const targets = Int32Array.from([2, 0, 4]);
    checkOp('crossEntropy', [{ shape: [3, 5] }], ([x]) => ops.crossEntropy(x!, targets),
      ([x]) => [R.softmaxCrossEntropyForward({ logits: x!, targets, rows: 3, cols: 5 }).loss]);
  });
  it('l1Loss and mseLoss', () => {
    const target = Float32Array.from([0.5, -1, 2, 0]);
    // values away from the kink of |·| so finite differences are valid
    checkOp('l1Loss', [{ shape: [4], values: [1.5, -2, 2.25, -0.75] }], ([x]) => ops.l1Loss(x!, target),
      ([x]) => [x!.reduce((s, v, i) => s + Math.abs(v - target[i]!), 0) / 4]);
    checkOp('mseLoss', [{ shape: [4] }], ([x]) => ops.mseLoss(x!, target),
      ([x]) => [x!.reduce((s, v, i) => s + (v - target[i]!) ** 2, 0) / 4]);
  });
});

describe('through the whole tape', () => {
  it('a small attention block with padding, cosine head and MER-style loss', () => {
    // x [B, L, d] → q/k/v projections → heads → attention(keyLengths) → merge → out proj →
    // layerNorm → cosinePaired against label embeddings → exp(s)·cos → softmax → expected value
    const Bn = 2, L = 4, d = 4, heads = 2, C = 3;
    const keyLengths = Int32Array.from([4, 2]);
    const values = Float32Array.from([-1, 0, 1]);
    const y = Float32Array.from([0.3, -0.8]);
    const targets = Int32Array.from([2, 0]);
    checkOp('tape', [
      { shape: [Bn, L, d] }, { shape: [d, d] }, { shape: [d, d] }, { shape: [d, d] }, { shape: [d, d] }, { shape: [C, d] }, { shape: [], values: [0.5] },
    ], ([x, wq, wk, wv, wo, e, s]) => {
      // queries: every row (uniform offsets); keys / values: the valid rows only
      const q = ops.linear(x!, wq!).reshape([Bn * L, d]);
      const valid = Int32Array.of(0, 1, 2, 3, L, L + 1); // the keyLengths [4, 2] valid rows of [B·L]
      const k = ops.gatherRows(ops.linear(x!, wk!).reshape([Bn * L, d]), valid);
      const v = ops.gatherRows(ops.linear(x!, wv!).reshape([Bn * L, d]), valid);
      const cuK = ops.offsetsOf('test', keyLengths, L);
      const a = ops.attention(q, k, v, { heads, cuSeqlensQ: ops.uniformOffsets(Bn, L), cuSeqlensK: cuK }).reshape([Bn, L, d]);
      const h = ops.linear(ops.slice(a, 1, 0, C), wo!);                       // [B, C, d]
      const logits = ops.mul(ops.cosinePaired(h, e!), ops.exp(s!));            // [B, C]
      const p = ops.softmax(logits);
      const score = ops.sum(ops.mul(p, fromArray(values, [C])), -1);          // [B]
      return ops.add(ops.l1Loss(score, y), ops.scale(ops.crossEntropy(logits, targets), 0.5));
    }, ([x, wq, wk, wv, wo, e, s]) => {
      const rows = Bn * L;
      const proj = (w: Float64Array): Float64Array => linearRef(x!, w, null, d, d);
      const valid = (t: Float64Array): Float64Array => Float64Array.from([...t.subarray(0, 4 * d), ...t.subarray(L * d, (L + 2) * d)]);
      const merged = R.attentionForward({
        q: proj(wq!), k: valid(proj(wk!)), v: valid(proj(wv!)), batch: Bn, heads, headDim: d / heads,
        cuSeqlensQ: Int32Array.of(0, L, 2 * L), cuSeqlensK: Int32Array.of(0, 4, 6),
      }).out;
      const first = new Float64Array(Bn * C * d);
      for (let b = 0; b < Bn; b++) first.set(merged.subarray(b * L * d, b * L * d + C * d), b * C * d);
      const h = linearRef(first, wo!, null, d, d);
      const cos = R.cosinePaired({ h, e: e!, batch: Bn, c: C, dim: d, scale: Math.exp(s![0]!) });
      const p = R.softmax({ x: cos, rows: Bn, cols: C });
      let l1 = 0;
      for (let b = 0; b < Bn; b++) {
        let sc = 0;
        for (let c = 0; c < C; c++) sc += p[b * C + c]! * values[c]!;
        l1 += Math.abs(sc - y[b]!);
      }
      void rows;
      return [l1 / Bn + 0.5 * R.softmaxCrossEntropyForward({ logits: cos, targets, rows: Bn, cols: C }).loss];
    }, { gradRtol: 3e-3, gradAtol: 2e-3 });
  });
});

describe('tape mechanics', () => {
  it('noGrad records nothing; backward needs a scalar; grads accumulate across calls', () => {
    tidy(() => {
      const x = fromArray([1, 2, 3], [3], { requiresGrad: true });
      const y = noGrad(() => ops.scale(x, 2));
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      expect(() => ops.scale(x, 2).backward()).toThrow(/non-scalar/);
      ops.sum(ops.scale(x, 2)).backward();
      ops.sum(ops.scale(x, 3)).backward();
      expect(x.grad!.toArray()).toEqual([5, 5, 5]);
    });
  });
  it('tidy disposes intermediates but keeps results and kept tensors', () => {
    let inner: Tensor | undefined;
    const kept = tidy(() => {
      const a = fromArray([1, 2], [2]);
      inner = ops.scale(a, 2);
      return ops.scale(inner, 2);
    });
    expect(inner!.disposed).toBe(true);
    expect(() => inner!.data).toThrow(/disposed/);
    expect(kept.toArray()).toEqual([4, 8]);
    kept.dispose();
  });
  it('a deep chain backpropagates without overflowing the stack', () => {
    tidy(() => {
      const x = fromArray([1], [1], { requiresGrad: true });
      let y: Tensor = x;
      for (let i = 0; i < 20000; i++) y = ops.scale(y, 1);
      ops.sum(y).backward();
      expect(x.grad!.toArray()).toEqual([1]);
    });
  });
});
