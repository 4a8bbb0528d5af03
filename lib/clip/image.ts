// lib/clip/image.ts — CLIP image preprocessing for frames given as RGB arrays (Hugging Face
// CLIPImageProcessor semantics):
//
//   1. resize so the SHORTEST side equals `size` (the other side int(size · long / short), as
//      HF's get_resize_output_image_size truncates), bicubic resampling as PIL's
//      Image.resize(BICUBIC): separable (horizontal pass, then vertical), cubic convolution
//      kernel with a = −0.5, support 2 — scaled by the downscale factor when shrinking
//      (antialiasing), weights normalised to sum 1 per output pixel, source pixel centres at
//      i + 0.5. A dimension whose size does not change is not resampled.
//   2. center crop to crop × crop: top = ⌊(h − crop) / 2⌋, left = ⌊(w − crop) / 2⌋ (HF's
//      center_crop). A crop larger than the resized image is an error (HF would zero-pad).
//   3. rescale (uint8 input: × 1/255), normalise per channel ((v − mean) / std), HWC → CHW.
//
// Input frames are interleaved RGB (HWC), row-major, `channels` must be 3.
// - Uint8Array / Uint8ClampedArray: values 0…255. Resampling follows PIL's 8-bit path exactly:
//   coefficients in fixed point (22 fractional bits, rounded half away from zero), each pass
//   rounded and clamped to 0…255 (so the intermediate after the horizontal pass is uint8, as in
//   PIL), which is what HF feeds its model.
// - Float32Array: values already on the 0…1 scale (NOT rescaled by 1/255), resampled in
//   float64 without rounding or clamping (PIL mode "F" semantics).
//
// Output: `preprocessImages` → Tensor [N, 3, crop, crop]; `preprocessImagesData` → the same
// as { data: Float32Array, shape } without creating a Tensor.

import { type Tensor, wrap } from '../tensor/index.js';

export interface RgbFrame {
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  width: number;
  height: number;
  channels: 3;
}

export interface PreprocessOptions {
  /** Shortest side after resizing (default 224). */
  size?: number;
  /** Side of the square center crop (default 224). */
  crop?: number;
  /** Per-channel mean (default CLIP's). */
  mean?: readonly number[];
  /** Per-channel std (default CLIP's). */
  std?: readonly number[];
}

export const CLIP_IMAGE_MEAN: readonly number[] = Object.freeze([0.48145466, 0.4578275, 0.40821073]);
export const CLIP_IMAGE_STD: readonly number[] = Object.freeze([0.26862954, 0.26130258, 0.27577711]);

export class ImagePreprocessError extends RangeError {
  override readonly name = 'ImagePreprocessError';
}

// ---------------------------------------------------------------------------------------------
// PIL's resampling (libImaging/Resample.c)

/** PIL's bicubic kernel, a = −0.5 (support 2). */
export function bicubicKernel(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

export interface ResampleCoefficients {
  /** Taps per output pixel (the stride of `weights`). */
  ksize: number;
  /** [outSize]: first source index. */
  start: Int32Array;
  /** [outSize]: number of source pixels used. */
  count: Int32Array;
  /** [outSize · ksize]: normalised weights (sum 1 per output pixel). */
  weights: Float64Array;
}

/** PIL's precompute_coeffs for the bicubic filter over the full source range [0, inSize). */
export function resampleCoefficients(inSize: number, outSize: number): ResampleCoefficients {
  const support0 = 2;
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = support0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let ww = 0;
    const o = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicKernel((x + xmin - center + 0.5) * ss);
      weights[o + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[o + x]! /= ww;
    start[xx] = xmin;
    count[xx] = xmax;
  }
  return { ksize, start, count, weights };
}

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

/** PIL's normalize_coeffs_8bpc: weights in fixed point, rounded half away from zero. */
function fixedPoint(w: Float64Array): Float64Array {
  return w.map((v) => (v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE)));
}

/** PIL's clip8: fixed-point sum (with the ½ rounding offset already added) → 0…255. */
function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/**
 * One separable pass along an axis of an interleaved image. `lines` lines, each of `inLen`
 * pixels (source stride `inStride` pixels between neighbours along the axis, `inLine` between
 * lines), 3 channels per pixel; likewise for the output.
 */
function resamplePass(
  src: ArrayLike<number>, dst: Float64Array | Uint8Array, coeffs: ResampleCoefficients, eightBit: boolean,
  lines: number, inLine: number, inStride: number, outLine: number, outStride: number, outLen: number,
): void {
  const { ksize, start, count } = coeffs;
  const weights = eightBit ? fixedPoint(coeffs.weights) : coeffs.weights;
  const init = eightBit ? ONE / 2 : 0;
  // Each output value sums its taps in the same order whichever loop runs (identical results).
  // Horizontal pass (taps neighbours in memory): line by line. Vertical pass (the lines, i.e.
  // columns, are the neighbours): one output row at a time, walking across it as PIL does,
  // instead of down each column (a cache miss per tap).
  const rowsOuter = inStride <= inLine;
  const outer = rowsOuter ? lines : outLen, inner = rowsOuter ? outLen : lines;
  for (let i = 0; i < outer; i++) {
    for (let j = 0; j < inner; j++) {
      const l = rowsOuter ? i : j, xx = rowsOuter ? j : i;
      const o = xx * ksize, n = count[xx]!;
      const s0 = l * inLine + start[xx]! * inStride, d0 = l * outLine + xx * outStride;
      let a0 = init, a1 = init, a2 = init;
      for (let x = 0, s = s0; x < n; x++, s += inStride) {
        const w = weights[o + x]!;
        a0 += src[s]! * w;
        a1 += src[s + 1]! * w;
        a2 += src[s + 2]! * w;
      }
      if (eightBit) {
        dst[d0] = clip8(a0);
        dst[d0 + 1] = clip8(a1);
        dst[d0 + 2] = clip8(a2);
      } else {
        dst[d0] = a0;
        dst[d0 + 1] = a1;
        dst[d0 + 2] = a2;
      }
    }
  }
}

/**
 * Resizes an interleaved RGB image to outW × outH as PIL's Image.resize(…, BICUBIC) does
 * (horizontal pass first, then vertical; an unchanged dimension is skipped). Uint8 input gives
 * a Uint8Array (PIL's 8-bit fixed-point arithmetic), float input a Float64Array.
 */
export function resizeBicubic(
  data: Uint8Array | Uint8ClampedArray | Float32Array | Float64Array, width: number, height: number, outW: number, outH: number,
): Uint8Array | Float64Array {
  const eightBit = data instanceof Uint8Array || data instanceof Uint8ClampedArray;
  const alloc = (n: number): Uint8Array | Float64Array => (eightBit ? new Uint8Array(n) : new Float64Array(n));
  let cur: ArrayLike<number> = data;
  let w = width;
  if (outW !== width) {
    const next = alloc(outW * height * 3);
    resamplePass(cur, next, resampleCoefficients(width, outW), eightBit, height, width * 3, 3, outW * 3, 3, outW);
    cur = next;
    w = outW;
  }
  if (outH !== height) {
    const next = alloc(w * outH * 3);
    // lines are columns: neighbour stride one row (w·3), line stride one pixel (3)
    resamplePass(cur, next, resampleCoefficients(height, outH), eightBit, w, 3, w * 3, 3, w * 3, outH);
    cur = next;
  }
  if (cur === data) return eightBit ? Uint8Array.from(data) : Float64Array.from(data);
  return cur as Uint8Array | Float64Array;
}

/** HF's get_resize_output_image_size(shortest_edge = size, default_to_square = False). */
export function shortestEdgeSize(width: number, height: number, size: number): { width: number; height: number } {
  const short = Math.min(width, height), long = Math.max(width, height);
  const newLong = Math.trunc((size * long) / short);
  return width <= height ? { width: size, height: newLong } : { width: newLong, height: size };
}

/** HF's center_crop offsets: ⌊(h − crop) / 2⌋, ⌊(w − crop) / 2⌋. */
export function centerCropOffsets(width: number, height: number, crop: number): { top: number; left: number } {
  return { top: Math.floor((height - crop) / 2), left: Math.floor((width - crop) / 2) };
}

// ---------------------------------------------------------------------------------------------
// the pipeline

/** Checks one frame (shape, type, length, finite values); errors name it (`where`). */
export function checkFrame(f: RgbFrame, i: number, where = `preprocessImages: frame ${i}`): void {
  if (typeof f !== 'object' || f === null) throw new ImagePreprocessError(`${where}: expected { data, width, height, channels }, received ${String(f)}`);
  const { width, height, channels, data } = f;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new ImagePreprocessError(`${where}: expected positive integer width and height, received ${width}×${height}`);
  }
  if (channels !== 3) throw new ImagePreprocessError(`${where}: expected 3 channels (interleaved RGB), received ${String(channels)}`);
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Float32Array)) {
    throw new ImagePreprocessError(`${where}: expected data as a Uint8Array, Uint8ClampedArray or Float32Array`);
  }
  if (data.length !== width * height * 3) {
    throw new ImagePreprocessError(`${where}: data has ${data.length} values, a ${width}×${height} RGB image needs ${width * height * 3}`);
  }
  if (data instanceof Float32Array) {
    for (let k = 0; k < data.length; k++) {
      if (!Number.isFinite(data[k]!)) throw new ImagePreprocessError(`${where}: value ${data[k]} at index ${k} is not finite`);
    }
  }
}

function checkOptions(opts: PreprocessOptions): { size: number; crop: number; mean: readonly number[]; std: readonly number[] } {
  const size = opts.size ?? 224, crop = opts.crop ?? 224;
  const mean = opts.mean ?? CLIP_IMAGE_MEAN, std = opts.std ?? CLIP_IMAGE_STD;
  for (const [k, v] of [['size', size], ['crop', crop]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ImagePreprocessError(`preprocessImages: expected ${k} to be a positive integer, received ${v}`);
  }
  if (mean.length !== 3 || !mean.every(Number.isFinite)) throw new ImagePreprocessError(`preprocessImages: expected mean to be 3 finite numbers, received [${mean.join(', ')}]`);
  if (std.length !== 3 || !std.every((s) => Number.isFinite(s) && s > 0)) {
    throw new ImagePreprocessError(`preprocessImages: expected std to be 3 positive numbers, received [${std.join(', ')}]`);
  }
  return { size, crop, mean, std };
}

/** The pipeline without a Tensor: data [N, 3, crop, crop] (row-major) and its shape. */
export function preprocessImagesData(frames: readonly RgbFrame[], opts: PreprocessOptions = {}): { data: Float32Array; shape: [number, number, number, number] } {
  if (!Array.isArray(frames)) throw new ImagePreprocessError('preprocessImages: expected an array of frames');
  const { size, crop, mean, std } = checkOptions(opts);
  frames.forEach((f, i) => checkFrame(f, i));
  const N = frames.length;
  const plane = crop * crop;
  const out = new Float32Array(N * 3 * plane);
  frames.forEach((f, i) => {
    const { width: rw, height: rh } = shortestEdgeSize(f.width, f.height, size);
    if (rw < crop || rh < crop) {
      throw new ImagePreprocessError(`preprocessImages: frame ${i}: resized to ${rw}×${rh}, smaller than the ${crop}×${crop} crop`);
    }
    const eightBit = !(f.data instanceof Float32Array);
    const img = resizeBicubic(f.data, f.width, f.height, rw, rh);
    const { top, left } = centerCropOffsets(rw, rh, crop);
    const rescale = eightBit ? 1 / 255 : 1;
    for (let c = 0; c < 3; c++) {
      const m = mean[c]!, s = std[c]!;
      const o = (i * 3 + c) * plane;
      for (let y = 0; y < crop; y++) {
        const row = ((top + y) * rw + left) * 3 + c;
        for (let x = 0; x < crop; x++) out[o + y * crop + x] = (img[row + x * 3]! * rescale - m) / s;
      }
    }
  });
  return { data: out, shape: [N, 3, crop, crop] };
}

/**
 * CLIPImageProcessor for RGB frames → pixel values Tensor [N, 3, crop, crop] (no grad), ready
 * for ClipVisionTransformer.forward (with crop = the config's image_size).
 */
export function preprocessImages(frames: readonly RgbFrame[], opts: PreprocessOptions = {}): Tensor {
  const { data, shape } = preprocessImagesData(frames, opts);
  return wrap(data, shape);
}
