// test/tensor/packedHeads.test.ts — ops.splitHeadsPacked / ops.mergeHeadsPacked (the native
// kernels.unpackHeads / packHeads inside): bit-identical to the two-step compositions they
// replace (splitHeads ∘ unpackRows, packRows ∘ mergeHeads), gradients against finite differences
// of a float64 index-mapping reference (test/helpers/gradCheck.ts), the padding rows exactly 0,
// samples of length 0 (and all of them), the raw kernels' round trip, and clear errors.

import { describe, expect, it } from 'vitest';

import { kernels } from '../../lib/index.js';
import { fromArray, ops, tidy } from '../../lib/tensor/index.js';
import { expectSameBits } from '../helpers/compare.js';
import { checkOp } from '../helpers/gradCheck.js';
import { makeRng } from '../helpers/seed.js';

/** float64 packed [T, H·Dh] → padded [B, H, L, Dh] (zeros past each length). */
function unpackRef(x: Float64Array, lengths: Int32Array, L: number, H: number, dh: number): Float64Array {
  const B = lengths.length;
  const y = new Float64Array(B * H * L * dh);
  let off = 0;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < lengths[b]!; j++) {
      for (let h = 0; h < H; h++) {
        for (let e = 0; e < dh; e++) y[((b * H + h) * L + j) * dh + e] = x[(off + j) * H * dh + h * dh + e]!;
      }
    }
    off += lengths[b]!;
  }
  return y;
}

/** float64 padded [B, H, L, Dh] → packed [T, H·Dh]. */
function packRef(x: Float64Array, lengths: Int32Array, L: number, H: number, dh: number): Float64Array {
  const T = lengths.reduce((s, l) => s + l, 0);
  const y = new Float64Array(T * H * dh);
  let off = 0;
  for (let b = 0; b < lengths.length; b++) {
    for (let j = 0; j < lengths[b]!; j++) {
      for (let h = 0; h < H; h++) {
        for (let e = 0; e < dh; e++) y[(off + j) * H * dh + h * dh + e] = x[((b * H + h) * L + j) * dh + e]!;
      }
    }
    off += lengths[b]!;
  }
  return y;
}

describe('splitHeadsPacked / mergeHeadsPacked', () => {
  const lengths = Int32Array.from([3, 0, 5, 1]);
  const L = 5, H = 2, dh = 3, T = 9;

  it('gradients against finite differences of the float64 index mapping', () => {
    checkOp('splitHeadsPacked', [{ shape: [T, H * dh] }], ([x]) => ops.splitHeadsPacked(x!, H, lengths, L),
      ([x]) => unpackRef(x!, lengths, L, H, dh));
    checkOp('mergeHeadsPacked', [{ shape: [4, H, L, dh] }], ([x]) => ops.mergeHeadsPacked(x!, lengths),
      ([x]) => packRef(x!, lengths, L, H, dh));
  });

  it('bit-identical to the two-step compositions, forward and backward, at encoder-like sizes', () => {
    const rng = makeRng(3);
    const lens = Int32Array.from([375, 120, 0, 300, 375, 7]);
    const Lb = 375, Hb = 8, dhb = 64, Tb = lens.reduce((s, l) => s + l, 0);
    const xv = rng.normalF32(Tb * Hb * dhb);
    const gv = rng.normalF32(lens.length * Hb * Lb * dhb);
    const run = (fused: boolean): { y: Float32Array; dx: Float32Array } => {
      let out = { y: new Float32Array(0), dx: new Float32Array(0) };
      tidy(() => {
        const x = fromArray(xv, [Tb, Hb * dhb], { requiresGrad: true });
        const y = fused ? ops.splitHeadsPacked(x, Hb, lens, Lb) : ops.splitHeads(ops.unpackRows(x, lens, Lb), Hb);
        y.backward(gv);
        out = { y: y.data.slice(), dx: x.grad!.data.slice() };
      });
      return out;
    };
    const a = run(true), b = run(false);
    expectSameBits(a.y, b.y, 'split forward');
    expectSameBits(a.dx, b.dx, 'split backward');
    const mrun = (fused: boolean): { y: Float32Array; dx: Float32Array } => {
      let out = { y: new Float32Array(0), dx: new Float32Array(0) };
      tidy(() => {
        const x = fromArray(gv, [lens.length, Hb, Lb, dhb], { requiresGrad: true });
        const y = fused ? ops.mergeHeadsPacked(x, lens) : ops.packRows(ops.mergeHeads(x), lens);
        y.backward(xv);
        out = { y: y.data.slice(), dx: x.grad!.data.slice() };
      });
      return out;
    };
    const c = mrun(true), d = mrun(false);
    expectSameBits(c.y, d.y, 'merge forward');
    expectSameBits(c.dx, d.dx, 'merge backward');
  });

  it('padding rows are exactly 0 (also over garbage in the output buffer), and all-zero lengths work', () => {
    const rng = makeRng(4);
    const x = rng.normalF32(T * H * dh);
    const dst = new Float32Array(4 * H * L * dh).fill(Number.NaN);
    kernels.unpackHeads({ src: x, dst, lengths, len: L, heads: H, headDim: dh });
    for (let b = 0; b < 4; b++) {
      for (let h = 0; h < H; h++) {
        for (let j = lengths[b]!; j < L; j++) {
          for (let e = 0; e < dh; e++) expect(dst[((b * H + h) * L + j) * dh + e]).toBe(0);
        }
      }
    }
    const back = kernels.packHeads({ src: dst, lengths, len: L, heads: H, headDim: dh });
    expectSameBits(back, x, 'round trip');
    tidy(() => {
      const none = Int32Array.from([0, 0]);
      const e = fromArray(new Float32Array(0), [0, H * dh], { requiresGrad: true });
      const y = ops.splitHeadsPacked(e, H, none, 3);
      expect(Array.from(y.data)).toEqual(new Array(2 * H * 3 * dh).fill(0));
      const p = fromArray(rng.normalF32(2 * H * 3 * dh), [2, H, 3, dh], { requiresGrad: true });
      const m = ops.mergeHeadsPacked(p, none);
      expect(m.shape).toEqual([0, H * dh]);
      m.backward(new Float32Array(0));
      expect(Array.from(p.grad!.data)).toEqual(new Array(p.size).fill(0));
    });
  });

  it('clear errors', () => {
    tidy(() => {
      const x = fromArray(new Float32Array(T * H * dh), [T, H * dh]);
      expect(() => ops.splitHeadsPacked(x, 4, lengths, L)).toThrow(/splitHeadsPacked: expected x \[T, heads·headDim\] with heads = 4/);
      expect(() => ops.splitHeadsPacked(x, H, Int32Array.from([3, 0, 5, 2]), L)).toThrow(/x has 9 rows, the lengths add up to 10/);
      expect(() => ops.splitHeadsPacked(x, H, Int32Array.from([3, 0, 6, 0]), L)).toThrow(/lengths\[2\] = 6 is outside \[0, 5\]/);
      const p = fromArray(new Float32Array(4 * H * L * dh), [4, H, L, dh]);
      expect(() => ops.mergeHeadsPacked(p, Int32Array.from([1, 1]))).toThrow(/mergeHeadsPacked: expected x \[B, H, L, Dh\] with 2 lengths/);
    });
    expect(() => kernels.unpackHeads({ src: new Float32Array(T * H * dh), lengths: Int32Array.from([3, 0, 5, 9]), len: L, heads: H, headDim: dh }))
      .toThrow('unpackHeads: expected lengths[3] to be an integer in [0, 5], received 9');
    expect(() => kernels.packHeads({ src: new Float32Array(7), lengths, len: L, heads: H, headDim: dh }))
      .toThrow('packHeads: expected src to be a Float32Array of length 120 (batch·heads·len·headDim), received length 7');
  });
});
