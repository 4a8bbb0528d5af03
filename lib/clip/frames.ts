// lib/clip/frames.ts — video frames as the vision tower takes them: an RgbFrame (interleaved RGB
// bytes + width/height), an image file path, or encoded image bytes (JPEG / PNG / WebP, anything
// libvips reads). Files and bytes are decoded with sharp (`removeAlpha().raw()`, 8-bit sRGB), the
// way CONVENTIONS names it; sharp is imported lazily, on the first encoded frame, so
// `import 'merclip'` does not load libvips. The rest (resize, crop, normalise) is merclip's own,
// PIL-exact preprocessing (image.ts).
//
// Errors (FrameDecodeError, a RangeError) name the frame (`where`) and, for a file, its path:
// missing, a directory, unreadable, not an image / an unsupported format.

import { readFile, stat } from 'node:fs/promises';

import type { RgbFrame } from './image.js';

/** One video frame: RGB pixels, an image file's path, or an encoded image's bytes. */
export type FrameInput = RgbFrame | string | Uint8Array;

export class FrameDecodeError extends RangeError {
  override readonly name = 'FrameDecodeError';
}

type SharpFn = (input: Buffer, opts?: { failOn?: string; limitInputPixels?: number }) => {
  rotate(): ReturnType<SharpFn>;
  removeAlpha(): ReturnType<SharpFn>;
  toColourspace(c: string): ReturnType<SharpFn>;
  raw(): ReturnType<SharpFn>;
  toBuffer(opts: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
};

let sharpLoad: Promise<SharpFn> | null = null;

/** sharp, imported on first use (a clear error when the optional native part is missing). */
function loadSharp(): Promise<SharpFn> {
  sharpLoad ??= import('sharp').then(
    (m) => ((m as { default?: unknown }).default ?? m) as SharpFn,
    (err: unknown) => {
      sharpLoad = null;
      throw new Error(`decoding image frames needs the "sharp" package, which failed to load (${(err as Error).message}); ` +
        'reinstall it (npm install sharp) or give frames as { data, width, height, channels: 3 }', { cause: err });
    },
  );
  return sharpLoad;
}

/** True when `x` looks like an RgbFrame (checked in full by preprocessing). */
export function isRgbFrame(x: unknown): x is RgbFrame {
  return typeof x === 'object' && x !== null && !(x instanceof Uint8Array) && 'data' in x && 'width' in x && 'height' in x;
}

/**
 * Decodes an image file or encoded bytes into an RgbFrame (8-bit RGB, alpha dropped, EXIF
 * orientation applied as image viewers do); an RgbFrame is returned as it is.
 */
export async function decodeFrame(input: FrameInput, where = 'frame'): Promise<RgbFrame> {
  if (isRgbFrame(input)) return input;
  let bytes: Buffer;
  let what: string;
  if (typeof input === 'string') {
    what = `${where} (${input})`;
    let isFile = false;
    try {
      isFile = (await stat(input)).isFile();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new FrameDecodeError(code === 'ENOENT' ? `${what}: no such file` : `${what}: cannot read it (${(err as Error).message})`);
    }
    if (!isFile) throw new FrameDecodeError(`${what}: not a file`);
    try {
      bytes = await readFile(input);
    } catch (err) {
      throw new FrameDecodeError(`${what}: cannot read it (${(err as Error).message})`);
    }
  } else if (input instanceof Uint8Array) {
    what = `${where} (${input.length} encoded bytes)`;
    bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  } else {
    throw new TypeError(`${where}: expected an RgbFrame { data, width, height, channels: 3 }, an image file path or encoded image bytes (Uint8Array)`);
  }
  if (bytes.length === 0) throw new FrameDecodeError(`${what}: empty, not an image`);
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' }).rotate().toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    const msg = (err as Error).message;
    const kind = /unsupported image format|not a known file format|Input buffer contains unsupported/i.test(msg) ? 'not an image, or an unsupported format' : 'cannot be decoded';
    throw new FrameDecodeError(`${what}: ${kind} (sharp: ${msg})`);
  }
}
