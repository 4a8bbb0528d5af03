// test/clip/frames.test.ts — decodeFrame: image files and encoded bytes (PNG, JPEG, WebP) decoded
// by sharp into 8-bit RGB frames — lossless formats pixel-exact, alpha dropped, grey expanded,
// EXIF orientation applied, JPEG close to its source — and errors naming the file.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';

import { decodeFrame, FrameDecodeError } from '../../lib/clip/frames.js';
import { Rng } from '../../lib/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-frames-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rng = new Rng(7);
const W = 13, H = 9;
const rgb = Uint8Array.from({ length: W * H * 3 }, () => rng.int(0, 255));
const raw = (data: Uint8Array, channels: 1 | 3 | 4, w = W, h = H) => sharp(Buffer.from(data), { raw: { width: w, height: h, channels } });

describe('decodeFrame', () => {
  it('decodes PNG (file and bytes) and lossless WebP pixel-exactly', async () => {
    const png = await raw(rgb, 3).png().toBuffer();
    const file = join(dir, 'a.png');
    writeFileSync(file, png);
    for (const input of [file, new Uint8Array(png)]) {
      const f = await decodeFrame(input);
      expect([f.width, f.height, f.channels]).toEqual([W, H, 3]);
      expect(f.data).toEqual(rgb);
    }
    const webp = await raw(rgb, 3).webp({ lossless: true }).toBuffer();
    expect((await decodeFrame(new Uint8Array(webp))).data).toEqual(rgb);
  });

  it('drops alpha, expands grey to RGB, applies the EXIF orientation', async () => {
    const rgba = new Uint8Array(W * H * 4);
    for (let i = 0; i < W * H; i++) rgba.set([rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, rng.int(0, 255)], 4 * i);
    expect((await decodeFrame(new Uint8Array(await raw(rgba, 4).png().toBuffer()))).data).toEqual(rgb);
    const grey = Uint8Array.from({ length: W * H }, () => rng.int(0, 255));
    const g = await decodeFrame(new Uint8Array(await raw(grey, 1).png().toBuffer()));
    expect(g.data).toEqual(Uint8Array.from({ length: W * H * 3 }, (_, i) => grey[Math.floor(i / 3)]!));
    // orientation 6 (rotate 90° clockwise to view): a W×H JPEG is shown H×W
    const rotated = await decodeFrame(new Uint8Array(await raw(rgb, 3).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer()));
    expect([rotated.width, rotated.height]).toEqual([H, W]);
  });

  it('decodes JPEG to the pixels a plain sharp decode gives (the orientation / colour-space / alpha steps change nothing)', async () => {
    const jpg = await raw(rgb, 3).jpeg({ quality: 95 }).toBuffer();
    const f = await decodeFrame(new Uint8Array(jpg));
    const ref = await sharp(jpg).raw().toBuffer();
    expect(f.data).toEqual(new Uint8Array(ref));
  });

  it('returns an RgbFrame as it is', async () => {
    const frame = { data: rgb, width: W, height: H, channels: 3 as const };
    expect(await decodeFrame(frame)).toBe(frame);
  });

  it('names the file (or the bytes) in every error', async () => {
    const text = join(dir, 'readme.jpg');
    writeFileSync(text, 'not an image at all');
    const empty = join(dir, 'empty.png');
    writeFileSync(empty, '');
    const png = await raw(rgb, 3).png().toBuffer();
    const cut = join(dir, 'cut.png');
    writeFileSync(cut, png.subarray(0, png.length >> 1));
    const cases: Array<[string | Uint8Array, RegExp]> = [
      [join(dir, 'nope.png'), /^clip 3 \(.*nope\.png\): no such file$/],
      [dir, /^clip 3 \(.*\): not a file$/],
      [text, /^clip 3 \(.*readme\.jpg\): not an image, or an unsupported format \(sharp: /],
      [empty, /^clip 3 \(.*empty\.png\): empty, not an image$/],
      [cut, /^clip 3 \(.*cut\.png\): cannot be decoded \(sharp: /],
      [new Uint8Array([0x89, 0x50, 0x4e]), /^clip 3 \(3 encoded bytes\): not an image/],
    ];
    for (const [input, re] of cases) {
      const err = await decodeFrame(input, 'clip 3').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FrameDecodeError);
      expect(err).toBeInstanceOf(RangeError);
      expect((err as Error).message).toMatch(re);
    }
    await expect(decodeFrame(42 as never, 'clip 3')).rejects.toThrow(TypeError);
  });
});
