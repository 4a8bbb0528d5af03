// test/tensor/packedHeads.test.ts — the native kernels.unpackHeads / packHeads (still in the
// kernel API; lib/tensor and the model no longer call them — the packed layout reaches the
// kernels unchanged): bit-identical to a float64 index-mapping reference, the padding rows
// exactly 0, samples of length 0, the round trip, and clear errors.

import { describe, expect, it } from 'vitest';

import { kernels } from '../../lib/index.js';
import { expectSameBits } from '../helpers/compare.js';
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

describe('kernels.unpackHeads / packHeads (the native row gathers inside ops.packRows)', () => {
  const lengths = Int32Array.from([3, 0, 5, 1]);
  const L = 5, H = 2, dh = 3, T = 9;

  it('match the float64 index mappings at encoder-like sizes', () => {
    const rng = makeRng(3);
    const lens = Int32Array.from([375, 120, 0, 300, 375, 7]);
    const Lb = 375, Hb = 8, dhb = 64;
    const xv = rng.normalF32(lens.reduce((s, l) => s + l, 0) * Hb * dhb);
    const padded = kernels.unpackHeads({ src: xv, lengths: lens, len: Lb, heads: Hb, headDim: dhb });
    expectSameBits(padded, Float32Array.from(unpackRef(Float64Array.from(xv), lens, Lb, Hb, dhb)), 'unpackHeads');
    const gv = rng.normalF32(lens.length * Hb * Lb * dhb);
    const packed = kernels.packHeads({ src: gv, lengths: lens, len: Lb, heads: Hb, headDim: dhb });
    expectSameBits(packed, Float32Array.from(packRef(Float64Array.from(gv), lens, Lb, Hb, dhb)), 'packHeads');
  });

  it('padding rows are exactly 0 (also over garbage in the output buffer); the round trip', () => {
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
  });

  it('clear errors', () => {
    expect(() => kernels.unpackHeads({ src: new Float32Array(T * H * dh), lengths: Int32Array.from([3, 0, 5, 9]), len: L, heads: H, headDim: dh }))
      .toThrow('unpackHeads: expected lengths[3] to be an integer in [0, 5], received 9');
    expect(() => kernels.packHeads({ src: new Float32Array(7), lengths, len: L, heads: H, headDim: dh }))
      .toThrow('packHeads: expected src to be a Float32Array of length 120 (batch·heads·len·headDim), received length 7');
  });
});
