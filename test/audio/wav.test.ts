// test/audio/wav.test.ts — readWav / parseWav against WAV bytes laid out by hand here (not by
// writeWav): every supported format (PCM u8/16/24/32, float 32/64, WAVE_FORMAT_EXTENSIBLE PCM and
// float, a 24-bit sample in a 32-bit container), channel counts 1/2/3, several rates, skipped
// chunks with odd sizes and pad bytes, the streaming data sizes 0 and 0xFFFFFFFF; every error
// case with its code and a message naming the file; writeWav's bytes against the hand layout;
// toMono; and a seeded byte-flipping loop (parses or throws WavError, nothing else).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseWav, readWav, readWavAsync, toMono, WavError, writeWav, type WavErrorCode } from '../../lib/audio/wav.js';
import { makeRng } from '../helpers/seed.js';

// ---- a byte builder, independent of lib/audio/wav.ts ------------------------------------------
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const u16 = (v: number): number[] => [v & 255, (v >>> 8) & 255];
const u32 = (v: number): number[] => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
const i24 = (v: number): number[] => [v & 255, (v >> 8) & 255, (v >> 16) & 255];
const f32b = (v: number): number[] => { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); return [...b]; };
const f64b = (v: number): number[] => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return [...b]; };
/** A chunk: id, size (declared; default the body's length), body, pad byte when odd. */
const chunk = (id: string, body: number[], declared = body.length): number[] =>
  [...ascii(id), ...u32(declared), ...body, ...(body.length & 1 ? [0] : [])];
const fmtBody = (tag: number, ch: number, rate: number, bits: number, block = (ch * bits) / 8): number[] =>
  [...u16(tag), ...u16(ch), ...u32(rate), ...u32(rate * block), ...u16(block), ...u16(bits)];
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const extBody = (sub: number, ch: number, rate: number, bits: number, valid = bits, tail = GUID_TAIL): number[] =>
  [...fmtBody(0xfffe, ch, rate, bits), ...u16(22), ...u16(valid), ...u32(ch === 2 ? 3 : 4), ...u16(sub), ...tail];
const riff = (chunks: number[][], riffSize?: number): Uint8Array => {
  const body = [...ascii('WAVE'), ...chunks.flat()];
  return Uint8Array.from([...ascii('RIFF'), ...u32(riffSize ?? body.length), ...body]);
};

const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);

describe('parseWav: formats', () => {
  it('8-bit unsigned PCM, mono, 8 kHz', () => {
    const w = parseWav(riff([chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', [0, 128, 255, 64, 192])]));
    expect(w).toEqual({ sampleRate: 8000, channels: 1, frames: 5, data: [f32([-1, 0, 127 / 128, -0.5, 0.5])] });
  });

  it('16-bit PCM, stereo, 44.1 kHz (channels de-interleaved)', () => {
    const s = [-32768, 32767, 0, 1, -1, 16384];
    const w = parseWav(riff([chunk('fmt ', fmtBody(1, 2, 44100, 16)), chunk('data', s.flatMap(u16))]));
    expect(w.frames).toBe(3);
    expect(w.data).toEqual([f32([-1, 0, -1 / 32768]), f32([32767 / 32768, 1 / 32768, 0.5])]);
  });

  it('24-bit PCM, mono, 96 kHz (sign extension)', () => {
    const s = [-8388608, 8388607, 1, -1, 0x123456, -0x123456];
    const w = parseWav(riff([chunk('fmt ', fmtBody(1, 1, 96000, 24)), chunk('data', s.flatMap(i24))]));
    expect(w.sampleRate).toBe(96000);
    expect(w.data[0]).toEqual(f32(s.map((v) => v / 8388608)));
  });

  it('32-bit PCM, mono, a 1 Hz rate (any rate)', () => {
    const s = [-(2 ** 31), 2 ** 31 - 1, 12345, -7];
    const w = parseWav(riff([chunk('fmt ', fmtBody(1, 1, 1, 32)), chunk('data', s.flatMap(u32))]));
    expect(w.sampleRate).toBe(1);
    expect(w.data[0]).toEqual(f32(s.map((v) => v / 2 ** 31)));
  });

  it('32-bit float, 3 channels (values past ±1 pass through)', () => {
    const s = [0.25, -1.5, 3, 0.125, 1e-3, -0.75];
    const w = parseWav(riff([chunk('fmt ', fmtBody(3, 3, 22050, 32)), chunk('data', s.flatMap(f32b))]));
    expect(w.channels).toBe(3);
    expect(w.data).toEqual([f32([0.25, 0.125]), f32([-1.5, 1e-3]), f32([3, -0.75])]);
  });

  it('64-bit float, mono (rounded to float32)', () => {
    const s = [0.1, -0.2, 1 / 3];
    const w = parseWav(riff([chunk('fmt ', fmtBody(3, 1, 16000, 64)), chunk('data', s.flatMap(f64b))]));
    expect(w.data[0]).toEqual(f32(s));
  });

  it('WAVE_FORMAT_EXTENSIBLE: PCM 16-bit stereo, float 32-bit mono, 24 valid bits in a 32-bit container', () => {
    const pcm = parseWav(riff([chunk('fmt ', extBody(1, 2, 48000, 16)), chunk('data', [100, -200, 300, -400].flatMap(u16))]));
    expect(pcm.data).toEqual([f32([100 / 32768, 300 / 32768]), f32([-200 / 32768, -400 / 32768])]);
    const flt = parseWav(riff([chunk('fmt ', extBody(3, 1, 48000, 32)), chunk('data', [0.5, -0.25].flatMap(f32b))]));
    expect(flt.data).toEqual([f32([0.5, -0.25])]);
    const s24 = [8388607, -8388608, 4660];
    const c32 = parseWav(riff([chunk('fmt ', extBody(1, 1, 48000, 32, 24)), chunk('data', s24.flatMap((v) => u32(v << 8)))]));
    expect(c32.data[0]).toEqual(f32(s24.map((v) => v / 8388608)));
  });

  it('skips unknown chunks (odd sizes with pad bytes) before, between and after', () => {
    const w = parseWav(riff([
      chunk('LIST', ascii('INFOISFT'), 8), chunk('junk', [1, 2, 3]), // odd: padded
      chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('fact', u32(2)), chunk('data', [...u16(1000), ...u16(2000)]),
      chunk('cue ', [9, 9, 9, 9, 9]),
    ]));
    expect(w.data[0]).toEqual(f32([1000 / 32768, 2000 / 32768]));
  });

  it('an odd-sized data chunk with its pad byte, and a final odd chunk missing its pad', () => {
    const a = parseWav(riff([chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', [10, 20, 30]), chunk('LIST', [1, 2, 3, 4])]));
    expect(a.data[0]).toEqual(f32([10, 20, 30].map((b) => (b - 128) / 128)));
    const bytes = riff([chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', [10, 20, 30])]);
    const b = parseWav(bytes.subarray(0, bytes.length - 1)); // the pad byte dropped
    expect(b.frames).toBe(3);
  });

  it('data size 0xFFFFFFFF or 0 (streaming writers) takes the rest of the file', () => {
    for (const declared of [0xffffffff, 0]) {
      const w = parseWav(riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', [-5, 6, 7].flatMap(u16), declared)], 0xffffffff));
      expect(w.data[0], `declared ${declared}`).toEqual(f32([-5 / 32768, 6 / 32768, 7 / 32768]));
    }
  });

  it('a wrong RIFF size is tolerated; a partial final frame is dropped; an empty data chunk is 0 frames', () => {
    const w = parseWav(riff([chunk('fmt ', fmtBody(1, 2, 16000, 16)), chunk('data', [1, 0, 2, 0, 3, 0])], 12345));
    expect(w.frames).toBe(1);
    expect(w.data).toEqual([f32([1 / 32768]), f32([2 / 32768])]);
    expect(parseWav(riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', [])])).frames).toBe(0);
  });

  it('readWav(path) and readWavAsync(path) read files; a Uint8Array view at an offset works', async () => {
    const bytes = riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', [7, 0])]);
    const dir = mkdtempSync(join(tmpdir(), 'merclip-wav-'));
    const path = join(dir, 'one.wav');
    writeFileSync(path, bytes);
    expect(readWav(path).data[0]).toEqual(f32([7 / 32768]));
    expect((await readWavAsync(path)).data[0]).toEqual(f32([7 / 32768]));
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    expect(readWav(padded.subarray(3)).data[0]).toEqual(f32([7 / 32768]));
  });
});

describe('parseWav: errors name the file and carry a code', () => {
  const good = (): number[][] => [chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', [0, 0])];
  const cases: Array<[string, Uint8Array, WavErrorCode, RegExp]> = [
    ['11 bytes', Uint8Array.from(ascii('RIFF\0\0\0\0WAV')), 'truncated', /11 bytes, shorter than the 12-byte/],
    ['not RIFF', Uint8Array.from([...ascii('ABCD'), ...u32(4), ...ascii('WAVE')]), 'not_riff', /not a RIFF file \(starts with "ABCD"\)/],
    ['big-endian RIFX', Uint8Array.from([...ascii('RIFX'), ...u32(4), ...ascii('WAVE')]), 'not_riff', /RIFX is not supported/],
    ['not WAVE', Uint8Array.from([...ascii('RIFF'), ...u32(4), ...ascii('AVI ')]), 'not_wave', /form type is "AVI "/],
    ['chunk header cut off', Uint8Array.from([...riff(good()), 1, 2, 3, 4, 5]), 'truncated', /chunk header at byte 46 is cut off \(5 of 8 bytes\)/],
    ['fmt too short', riff([chunk('fmt ', fmtBody(1, 1, 16000, 16).slice(0, 14)), chunk('data', [0, 0])]), 'fmt_too_short', /fmt chunk is 14 bytes/],
    ['extensible fmt too short', riff([chunk('fmt ', [...fmtBody(0xfffe, 1, 16000, 16), 0, 0]), chunk('data', [0, 0])]), 'fmt_too_short', /EXTENSIBLE fmt chunk is 18 bytes, needs 40/],
    ['two fmt chunks', riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), ...good()]), 'fmt_duplicate', /second fmt chunk/],
    ['fmt missing', riff([chunk('data', [0, 0])]), 'fmt_missing', /no fmt chunk/],
    ['data missing', riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('LIST', [1, 2])]), 'data_missing', /no data chunk/],
    ['chunk past the end', riff([chunk('LIST', [1, 2], 1000), ...good()]), 'chunk_size', /"LIST" chunk at byte 12 declares 1000 bytes but only \d+ remain/],
    ['data past the end', riff([chunk('fmt ', fmtBody(1, 1, 16000, 16)), chunk('data', [0, 0], 4)]), 'chunk_size', /"data" chunk at byte 36 declares 4 bytes but only 2 remain/],
    ['A-law', riff([chunk('fmt ', fmtBody(6, 1, 8000, 8)), chunk('data', [0])]), 'unsupported_format', /format tag 0x0006 \(A-law\) is not supported/],
    ['mu-law', riff([chunk('fmt ', fmtBody(7, 1, 8000, 8)), chunk('data', [0])]), 'unsupported_format', /format tag 0x0007 \(mu-law\)/],
    ['MS ADPCM', riff([chunk('fmt ', [...fmtBody(2, 1, 8000, 4, 256), 0, 0]), chunk('data', [0])]), 'unsupported_format', /0x0002 \(Microsoft ADPCM\)/],
    ['IMA ADPCM', riff([chunk('fmt ', [...fmtBody(0x11, 1, 8000, 4, 256), 0, 0]), chunk('data', [0])]), 'unsupported_format', /0x0011 \(IMA ADPCM\)/],
    ['MP3', riff([chunk('fmt ', fmtBody(0x55, 1, 8000, 0, 1)), chunk('data', [0])]), 'unsupported_format', /0x0055 \(MPEG Layer 3\)/],
    ['extensible mu-law', riff([chunk('fmt ', extBody(7, 1, 8000, 8)), chunk('data', [0])]), 'unsupported_format', /EXTENSIBLE sub-format 0x0007 \(mu-law\)/],
    ['extensible unknown GUID', riff([chunk('fmt ', extBody(1, 1, 8000, 8, 8, GUID_TAIL.map((b, i) => (i === 13 ? 0 : b)))), chunk('data', [0])]), 'unsupported_format', /sub-format GUID 0100000000001000800000aa00389b00/],
    ['block align', riff([chunk('fmt ', fmtBody(1, 2, 16000, 16, 2)), chunk('data', [0, 0])]), 'block_align', /block align is 2, expected channels·bits\/8 = 2·16\/8 = 4/],
    ['0 channels', riff([chunk('fmt ', fmtBody(1, 0, 16000, 16, 2)), chunk('data', [0, 0])]), 'bad_channels', /0 channels/],
    ['rate 0', riff([chunk('fmt ', fmtBody(1, 1, 0, 16)), chunk('data', [0, 0])]), 'bad_rate', /sample rate of 0/],
    ['12-bit PCM', riff([chunk('fmt ', fmtBody(1, 1, 16000, 12, 2)), chunk('data', [0, 0])]), 'bad_bits', /12-bit PCM is not supported/],
    ['16-bit float', riff([chunk('fmt ', fmtBody(3, 1, 16000, 16)), chunk('data', [0, 0])]), 'bad_bits', /16-bit float is not supported/],
  ];
  it.each(cases)('%s', (_what, bytes, code, re) => {
    let err: unknown;
    try {
      parseWav(bytes, 'clips/bad.wav');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WavError);
    expect((err as WavError).code).toBe(code);
    expect((err as WavError).file).toBe('clips/bad.wav');
    expect((err as Error).message).toMatch(/^clips\/bad\.wav: /);
    expect((err as Error).message).toMatch(re);
  });

  it('an unreadable path is an io error naming it; a non-bytes argument is a TypeError', async () => {
    expect(() => readWav('/nonexistent/dir/x.wav')).toThrow(/^\/nonexistent\/dir\/x\.wav: cannot read: ENOENT/);
    await expect(readWavAsync('/nonexistent/dir/x.wav')).rejects.toMatchObject({ code: 'io', file: '/nonexistent/dir/x.wav' });
    expect(() => readWav(42 as unknown as string)).toThrow(TypeError);
  });

  it('bytes without a source are named <bytes>', () => {
    expect(() => parseWav(new Uint8Array(3))).toThrow(/^<bytes>: file is 3 bytes/);
  });

  it('byte flips of a valid file parse or throw WavError, nothing else (seeded)', () => {
    const base = riff([chunk('LIST', [1, 2, 3]), chunk('fmt ', extBody(1, 2, 44100, 24)), chunk('data', Array.from({ length: 60 }, (_, i) => i * 7))]);
    const rng = makeRng(1818);
    let parsed = 0, rejected = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const b = Uint8Array.from(base);
      const flips = rng.int(1, 4);
      for (let f = 0; f < flips; f++) b[rng.int(0, b.length - 1)] = rng.int(0, 255);
      const cut = rng.next() < 0.2 ? rng.int(0, b.length) : b.length;
      try {
        const w = parseWav(b.subarray(0, cut), 'fuzz.wav');
        for (const ch of w.data) expect(ch.length).toBe(w.frames);
        parsed++;
      } catch (e) {
        expect(e).toBeInstanceOf(WavError);
        rejected++;
      }
    }
    expect(parsed).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  });
});

describe('writeWav and toMono', () => {
  it('writeWav lays out the same bytes as the hand-built file (pcm16 and float32)', () => {
    const l = f32([0.5, -1, 3 / 32768]), r = f32([-0.25, 32767 / 32768, 0]);
    const pcm = [0.5, -0.25, -1, 32767 / 32768, 3 / 32768, 0].map((v) => Math.round(v * 32768));
    expect(writeWav([l, r], 16000, 'pcm16')).toEqual(riff([chunk('fmt ', fmtBody(1, 2, 16000, 16)), chunk('data', pcm.flatMap(u16))]));
    expect(writeWav([l], 8000, 'float32')).toEqual(riff([chunk('fmt ', fmtBody(3, 1, 8000, 32)), chunk('data', [...l].flatMap(f32b))]));
    // and reads back exactly
    expect(parseWav(writeWav([l, r], 16000)).data).toEqual([l, r]);
    // out-of-range values are clamped in pcm16
    expect(parseWav(writeWav([f32([2, -2])], 16000)).data[0]).toEqual(f32([32767 / 32768, -1]));
  });

  it('writeWav validates its arguments', () => {
    expect(() => writeWav([], 16000)).toThrow(RangeError);
    expect(() => writeWav([f32([1])], 0)).toThrow(RangeError);
    expect(() => writeWav([f32([1]), f32([1, 2])], 16000)).toThrow(RangeError);
  });

  it('toMono averages the channels (a copy for one channel)', () => {
    const a = f32([1, 0.5, -1]), b = f32([0, 0.5, 1]), c = f32([0.5, 0.5, 0.5]);
    expect(toMono([a, b, c])).toEqual(f32([0.5, 0.5, 0.5 / 3]));
    const m = toMono([a]);
    expect(m).toEqual(a);
    expect(m).not.toBe(a);
    expect(() => toMono([])).toThrow(RangeError);
    expect(() => toMono([a, f32([1])])).toThrow(/expected every channel to have 3 samples, channel 1 has 1$/);
  });
});
