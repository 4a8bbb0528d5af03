// test/clip/image.test.ts — CLIP image preprocessing: PIL-style bicubic resampling (hand-computed
// kernel values), shortest-edge resize, center crop offsets, rescale + normalisation, CHW layout,
// and the errors for bad inputs.
import { describe, expect, it } from 'vitest';

import {
  bicubicKernel,
  centerCropOffsets,
  CLIP_IMAGE_MEAN,
  CLIP_IMAGE_STD,
  ImagePreprocessError,
  preprocessImages,
  preprocessImagesData,
  resampleCoefficients,
  resizeBicubic,
  shortestEdgeSize,
  type RgbFrame,
} from '../../lib/clip/image.js';
import { tidy } from '../../lib/tensor/index.js';
import { makeRng } from '../helpers/seed.js';

const ID = { mean: [0, 0, 0], std: [1, 1, 1] };

function frame(width: number, height: number, fill: (x: number, y: number, c: number) => number, float = false): RgbFrame {
  const data = float ? new Float32Array(width * height * 3) : new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = fill(x, y, c);
  return { data, width, height, channels: 3 };
}

/** value at (c, y, x) of image n in a [N, 3, S, S] array */
const at = (d: Float32Array, S: number, n: number, c: number, y: number, x: number): number => d[((n * 3 + c) * S + y) * S + x]!;

describe('bicubic kernel and coefficients (PIL, a = −0.5)', () => {
  it('kernel values by hand', () => {
    // |x| < 1: 1.5|x|³ − 2.5|x|² + 1;  1 ≤ |x| < 2: −0.5|x|³ + 2.5|x|² − 4|x| + 2
    expect(bicubicKernel(0)).toBe(1);
    expect(bicubicKernel(0.25)).toBe(0.8671875);
    expect(bicubicKernel(-0.75)).toBe(0.2265625);
    expect(bicubicKernel(1) + 0).toBe(0); // −0 from the outer branch
    expect(bicubicKernel(1.25)).toBe(-0.0703125);
    expect(bicubicKernel(-1.75)).toBe(-0.0234375);
    expect(bicubicKernel(2) + 0).toBe(0);
    expect(bicubicKernel(3)).toBe(0);
  });

  it('2 → 4 (upscale): taps and normalised weights by hand', () => {
    const co = resampleCoefficients(2, 4);
    expect(co.ksize).toBe(5); // ⌈2⌉·2 + 1
    expect(Array.from(co.start)).toEqual([0, 0, 0, 0]);
    expect(Array.from(co.count)).toEqual([2, 2, 2, 2]);
    // centres 0.25, 0.75, 1.25, 1.75 (pixel centres at i + 0.5):
    // out 0: k(0.25), k(1.25) = 0.8671875, −0.0703125 → /0.796875 = 37/34, −3/34
    // out 1: k(0.25), k(0.75) = 0.8671875, 0.2265625 → /1.09375 = 111/140, 29/140
    const w = (i: number, x: number): number => co.weights[i * co.ksize + x]!;
    expect(w(0, 0)).toBeCloseTo(37 / 34, 14);
    expect(w(0, 1)).toBeCloseTo(-3 / 34, 14);
    expect(w(1, 0)).toBeCloseTo(111 / 140, 14);
    expect(w(1, 1)).toBeCloseTo(29 / 140, 14);
    expect(w(2, 0)).toBeCloseTo(29 / 140, 14);
    expect(w(3, 1)).toBeCloseTo(37 / 34, 14);
  });

  it('8 → 4 (downscale) widens the support by the scale factor (antialiasing)', () => {
    const co = resampleCoefficients(8, 4);
    expect(co.ksize).toBe(2 * 4 + 1); // support 2·2
    // out 0: centre 1, taps i = 0…4 at (i + 0.5 − 1)/2 = −0.25, 0.25, 0.75, 1.25, 1.75
    expect(co.start[0]).toBe(0);
    expect(co.count[0]).toBe(5);
    const raw = [0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375];
    const sum = raw.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 5; i++) expect(co.weights[i]).toBeCloseTo(raw[i]! / sum, 14);
    // every output's weights sum to 1
    for (const [a, b] of [[8, 4], [640, 224], [7, 3], [3, 7], [224, 224]] as const) {
      const c = resampleCoefficients(a, b);
      for (let o = 0; o < b; o++) {
        let s = 0;
        for (let x = 0; x < c.count[o]!; x++) s += c.weights[o * c.ksize + x]!;
        expect(s).toBeCloseTo(1, 12);
        expect(c.start[o]! + c.count[o]!).toBeLessThanOrEqual(a);
      }
    }
    // same size: the identity
    const id = resampleCoefficients(5, 5);
    for (let o = 0; o < 5; o++) for (let x = 0; x < id.count[o]!; x++) expect(id.weights[o * id.ksize + x]! + 0).toBe(id.start[o]! + x === o ? 1 : 0);
  });

  it('a downscaled impulse reaches an output 2.5 source pixels away (which plain bicubic would not)', () => {
    const img = new Float32Array(8 * 1 * 3);
    img[3 * 3] = 1; // pixel x = 3, channel 0
    const out = resizeBicubic(img, 8, 1, 4, 1);
    const raw = [0.8671875, 0.8671875, 0.2265625, -0.0703125, -0.0234375];
    expect(out[0]).toBeCloseTo(-0.0703125 / raw.reduce((a, b) => a + b, 0), 12);
  });
});

describe('resizeBicubic', () => {
  it('2×2 → 4×4 (float): separable, hand-computed weights', () => {
    const v = [[0.1, 0.9], [0.4, 0.2]]; // v[y][x]
    const f = frame(2, 2, (x, y, c) => v[y]![x]! + c, true);
    const out = resizeBicubic(f.data, 2, 2, 4, 4) as Float64Array;
    const W = [[37 / 34, -3 / 34], [111 / 140, 29 / 140], [29 / 140, 111 / 140], [-3 / 34, 37 / 34]];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) {
      let e = 0;
      for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) e += W[y]![j]! * W[x]![i]! * (v[j]![i]! + c);
      expect(out[(y * 4 + x) * 3 + c]).toBeCloseTo(e, 6);
    }
    // e.g. the corner overshoots as cubic convolution does
    expect(out[0]).toBeCloseTo((37 / 34) * ((37 / 34) * 0.1 - (3 / 34) * 0.9) - (3 / 34) * ((37 / 34) * 0.4 - (3 / 34) * 0.2), 6);
  });

  it('2×2 → 4×4 (uint8): PIL rounds and clamps each pass to 0…255', () => {
    // rows [0, 255]: 255·(−3/34) = −22.5 → 0, 255·29/140 = 52.8 → 53, 255·111/140 = 202.2 → 202, 255·37/34 = 277.5 → 255
    const f = frame(2, 2, (x) => (x === 0 ? 0 : 255));
    const out = resizeBicubic(f.data, 2, 2, 4, 4);
    expect(out).toBeInstanceOf(Uint8Array);
    for (let y = 0; y < 4; y++) expect([0, 1, 2, 3].map((x) => out[(y * 4 + x) * 3 + 1])).toEqual([0, 53, 202, 255]);
    // columns: the vertical pass works on the (rounded) horizontal result
    const g = frame(2, 2, (_x, y) => (y === 0 ? 100 : 200));
    const o2 = resizeBicubic(g.data, 2, 2, 2, 4); // width unchanged: only the vertical pass
    // 100·37/34 − 200·3/34 = 91.18 → 91; (111·100 + 29·200)/140 = 120.71 → 121; 179.29 → 179; 208.8 → 209
    expect([0, 1, 2, 3].map((y) => o2[(y * 2) * 3])).toEqual([91, 121, 179, 209]);
  });

  it('a constant image stays constant (uint8 exactly, float to rounding), up and down', () => {
    for (const [w, h, ow, oh] of [[7, 5, 3, 2], [3, 4, 11, 13], [640, 480, 298, 224]] as const) {
      const u = resizeBicubic(frame(w, h, () => 200).data, w, h, ow, oh);
      expect(u.length).toBe(ow * oh * 3);
      expect(u.every((v) => v === 200)).toBe(true);
      const fl = resizeBicubic(frame(w, h, () => 0.3, true).data, w, h, ow, oh);
      expect(fl.every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
    }
  });
});

describe('resizeBicubic against a direct two-pass resample', () => {
  /** PIL's 8-bit separable resample written plainly: per output pixel, horizontal then vertical, fixed point. */
  function direct(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
    const ONE = 2 ** 22;
    const fixed = (c: ReturnType<typeof resampleCoefficients>) => Array.from(c.weights, (v) => (v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE)));
    const clip8 = (v: number): number => (v >= ONE * 256 ? 255 : v <= 0 ? 0 : Math.floor(v / ONE));
    const cx = resampleCoefficients(w, ow), fx = fixed(cx);
    const mid = new Uint8Array(ow * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 3; c++) {
      let acc = ONE / 2;
      for (let k = 0; k < cx.count[x]!; k++) acc += src[(y * w + cx.start[x]! + k) * 3 + c]! * fx[x * cx.ksize + k]!;
      mid[(y * ow + x) * 3 + c] = clip8(acc);
    }
    const cy = resampleCoefficients(h, oh), fy = fixed(cy);
    const out = new Uint8Array(ow * oh * 3);
    for (let x = 0; x < ow; x++) for (let y = 0; y < oh; y++) for (let c = 0; c < 3; c++) { // down each column
      let acc = ONE / 2;
      for (let k = 0; k < cy.count[y]!; k++) acc += mid[((cy.start[y]! + k) * ow + x) * 3 + c]! * fy[y * cy.ksize + k]!;
      out[(y * ow + x) * 3 + c] = clip8(acc);
    }
    return out;
  }

  it('gives the same bytes for random images, up and down in each direction', () => {
    const rng = makeRng(21);
    for (const [w, h, ow, oh] of [[37, 23, 19, 41], [50, 30, 24, 60], [64, 48, 31, 23]] as const) {
      const img = Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255));
      expect(resizeBicubic(img, w, h, ow, oh)).toEqual(direct(img, w, h, ow, oh));
    }
  });
});

describe('sizes and crop offsets', () => {
  it('shortest edge → size, the other side truncated as HF does', () => {
    expect(shortestEdgeSize(640, 480, 224)).toEqual({ width: 298, height: 224 }); // 298.67 → 298
    expect(shortestEdgeSize(480, 640, 224)).toEqual({ width: 224, height: 298 });
    expect(shortestEdgeSize(300, 300, 224)).toEqual({ width: 224, height: 224 });
    expect(shortestEdgeSize(100, 50, 224)).toEqual({ width: 448, height: 224 });
  });
  it('center crop offsets floor (h − crop)/2 and (w − crop)/2', () => {
    expect(centerCropOffsets(298, 224, 224)).toEqual({ top: 0, left: 37 });
    expect(centerCropOffsets(7, 4, 4)).toEqual({ top: 0, left: 1 }); // odd difference: 3/2 → 1
    expect(centerCropOffsets(5, 8, 2)).toEqual({ top: 3, left: 1 });
  });
});

describe('preprocessImages', () => {
  it('crops at the offsets and lays the result out as CHW (no resampling when the size already fits)', () => {
    // 5×4 with size 4: shortest side already 4 → no resize; crop 3: top 0, left 1
    const f = frame(5, 4, (x, y, c) => 100 * c + 10 * y + x, true);
    const { data, shape } = preprocessImagesData([f], { size: 4, crop: 3, ...ID });
    expect(shape).toEqual([1, 3, 3, 3]);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 3; y++) for (let x = 0; x < 3; x++) expect(at(data, 3, 0, c, y, x)).toBe(100 * c + 10 * y + x + 1);
    // odd differences: 7×6 with size 6, crop 4 → left ⌊3/2⌋ = 1, top ⌊2/2⌋ = 1
    const g = frame(7, 6, (x, y) => 10 * y + x, true);
    const r = preprocessImagesData([g], { size: 6, crop: 4, ...ID });
    expect(at(r.data, 4, 0, 0, 0, 0)).toBe(11);
    expect(at(r.data, 4, 0, 2, 3, 3)).toBe(44);
  });

  it('rescales uint8 by 1/255 and normalises with CLIP mean/std per channel', () => {
    const vals = [0, 128, 255];
    const f = frame(224, 224, (_x, _y, c) => vals[c]!);
    const t = preprocessImages([f, frame(224, 224, () => 51, false)]);
    tidy(() => {
      expect(t.shape).toEqual([2, 3, 224, 224]);
      for (let c = 0; c < 3; c++) {
        const e = (vals[c]! / 255 - CLIP_IMAGE_MEAN[c]!) / CLIP_IMAGE_STD[c]!;
        expect(at(t.data, 224, 0, c, 0, 0)).toBeCloseTo(e, 5);
        expect(at(t.data, 224, 0, c, 223, 117)).toBeCloseTo(e, 5);
        expect(at(t.data, 224, 1, c, 100, 100)).toBeCloseTo((0.2 - CLIP_IMAGE_MEAN[c]!) / CLIP_IMAGE_STD[c]!, 5);
      }
      // float input (0…1) is not rescaled
      const fl = preprocessImagesData([frame(8, 8, () => 0.5, true)], { size: 4, crop: 4, mean: [0.5, 0.25, 0], std: [1, 0.5, 2] });
      expect(at(fl.data, 4, 0, 0, 1, 1)).toBeCloseTo(0, 6);
      expect(at(fl.data, 4, 0, 1, 2, 3)).toBeCloseTo(0.5, 6);
      expect(at(fl.data, 4, 0, 2, 3, 0)).toBeCloseTo(0.25, 6);
    });
  });

  it('a constant frame of any size gives a constant crop; a 640×480 frame gives [1, 3, 224, 224]', () => {
    const { data, shape } = preprocessImagesData([frame(640, 480, () => 77)]);
    expect(shape).toEqual([1, 3, 224, 224]);
    for (let c = 0; c < 3; c++) {
      const e = (77 / 255 - CLIP_IMAGE_MEAN[c]!) / CLIP_IMAGE_STD[c]!;
      const plane = data.subarray(c * 224 * 224, (c + 1) * 224 * 224);
      expect(plane.every((v) => Math.abs(v - e) < 1e-5)).toBe(true);
    }
  });

  it('uint8 and float inputs of the same picture agree to uint8 rounding', () => {
    const rng = makeRng(5);
    const u = frame(37, 29, () => rng.int(0, 255));
    const fl: RgbFrame = { ...u, data: Float32Array.from(u.data, (v) => v / 255) };
    const a = preprocessImagesData([u], { size: 16, crop: 16 }).data;
    const b = preprocessImagesData([fl], { size: 16, crop: 16 }).data;
    // per pass ≤ ½ unit of rounding; clamping only removes overshoot outside 0…255
    const tol = (1.01 / 255) / Math.min(...CLIP_IMAGE_STD);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) {
      // compare only where the float result stays inside 0…1 (elsewhere uint8 clamps)
      const c = Math.floor(i / 256) % 3;
      const fv = b[i]! * CLIP_IMAGE_STD[c]! + CLIP_IMAGE_MEAN[c]!;
      if (fv > 0.01 && fv < 0.99) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    expect(maxDiff).toBeLessThan(tol * 2);
  });

  it('an empty list gives [0, 3, crop, crop]', () => {
    expect(preprocessImagesData([], { crop: 8, size: 8 }).shape).toEqual([0, 3, 8, 8]);
  });

  it('rejects bad frames and options with clear errors', () => {
    const ok = frame(4, 4, () => 1);
    const cases: Array<[() => unknown, RegExp]> = [
      [() => preprocessImagesData([ok, { ...ok, data: new Uint8Array(47) }], { size: 4, crop: 4 }), /frame 1: data has 47 values, a 4×4 RGB image needs 48/],
      [() => preprocessImagesData([{ ...ok, channels: 4 as 3 }], { size: 4, crop: 4 }), /frame 0: expected 3 channels/],
      [() => preprocessImagesData([{ ...ok, width: 0 }], { size: 4, crop: 4 }), /positive integer width and height, received 0×4/],
      [() => preprocessImagesData([{ ...ok, height: 2.5 }], { size: 4, crop: 4 }), /positive integer width and height/],
      [() => preprocessImagesData([{ ...ok, data: new Int16Array(48) as unknown as Uint8Array }], { size: 4, crop: 4 }), /Uint8Array, Uint8ClampedArray or Float32Array/],
      [() => preprocessImagesData([{ ...ok, data: new Float32Array(48).fill(Number.NaN) }], { size: 4, crop: 4 }), /value NaN at index 0 is not finite/],
      [() => preprocessImagesData([ok], { size: 0, crop: 4 }), /size to be a positive integer, received 0/],
      [() => preprocessImagesData([ok], { size: 4, crop: 1.5 }), /crop to be a positive integer/],
      [() => preprocessImagesData([ok], { size: 4, crop: 5 }), /resized to 4×4, smaller than the 5×5 crop/],
      [() => preprocessImagesData([ok], { size: 4, crop: 4, mean: [0, 0] }), /mean to be 3 finite numbers/],
      [() => preprocessImagesData([ok], { size: 4, crop: 4, std: [1, 0, 1] }), /std to be 3 positive numbers/],
      [() => preprocessImagesData('frames' as unknown as RgbFrame[]), /expected an array of frames/],
      [() => preprocessImagesData([null as unknown as RgbFrame]), /frame 0: expected \{ data, width, height, channels \}/],
    ];
    for (const [fn, re] of cases) {
      expect(fn).toThrow(ImagePreprocessError);
      expect(fn).toThrow(re);
    }
  });
});
