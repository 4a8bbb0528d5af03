// lib/audio/wav.ts — RIFF/WAVE reading (and a small writer for tests and fixtures).
//
// readWav(pathOrBytes, source?) → { sampleRate, channels, frames, data: one Float32Array per
// channel }. Supported: format tag 1 (PCM integer: 8-bit unsigned, 16/24/32-bit signed
// little-endian), tag 3 (IEEE float, 32 or 64 bit), and tag 0xFFFE (WAVE_FORMAT_EXTENSIBLE)
// whose sub-format GUID is PCM or IEEE float (samples in their container, wBitsPerSample wide,
// left-justified, so they scale like full-width ones); any channel count and any rate.
// Integers are scaled by 2^(bits−1) (8-bit: (b − 128) / 128), so they land in [−1, 1); floats are
// passed through unchanged (a float file may hold values past ±1; nothing is clipped).
//
// Chunks: the RIFF size field is not trusted (writers often get it wrong; the file's end is
// used); every other chunk's declared size must fit in the file, except a `data` chunk whose
// size is 0 or 0xFFFFFFFF (a streaming writer that never came back to patch it), which takes
// the rest of the file. Chunks of odd size are followed by a pad byte (a missing final pad byte
// is tolerated). Unknown chunks (LIST, fact, cue, bext, …) are skipped. A trailing partial frame
// (data size not a multiple of the block) is dropped.
//
// Failures throw WavError { code, file } whose message names the file, checked in this order:
// io (cannot read), truncated (shorter than the 12-byte header, or a chunk header cut off),
// not_riff, not_wave, chunk_size (a chunk declared past the end of the file), fmt_too_short,
// fmt_duplicate, fmt_missing, data_missing, unsupported_format (the tag and its name: A-law,
// mu-law, ADPCM …, or an unknown extensible sub-format), bad_channels, bad_rate, bad_bits,
// block_align (nBlockAlign ≠ channels · bits / 8).
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export type WavErrorCode =
  | 'io' | 'truncated' | 'not_riff' | 'not_wave' | 'chunk_size' | 'fmt_too_short' | 'fmt_duplicate'
  | 'fmt_missing' | 'data_missing' | 'unsupported_format' | 'bad_channels' | 'bad_rate' | 'bad_bits'
  | 'block_align';

export class WavError extends Error {
  readonly code: WavErrorCode;
  readonly file: string;
  constructor(code: WavErrorCode, file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'WavError';
    this.code = code;
    this.file = file;
  }
}

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Samples per channel. */
  frames: number;
  /** One array per channel, `frames` samples each. */
  data: Float32Array[];
}

const FORMAT_NAMES: Record<number, string> = {
  0x0001: 'PCM', 0x0002: 'Microsoft ADPCM', 0x0003: 'IEEE float', 0x0006: 'A-law', 0x0007: 'mu-law',
  0x0011: 'IMA ADPCM', 0x0016: 'ITU G.723 ADPCM', 0x0031: 'GSM 6.10', 0x0040: 'G.721 ADPCM',
  0x0050: 'MPEG', 0x0055: 'MPEG Layer 3', 0x0092: 'Dolby AC3 SPDIF', 0x00ff: 'AAC', 0x0161: 'Windows Media Audio',
  0x2000: 'Dolby AC3', 0xf1ac: 'FLAC', 0xfffe: 'extensible',
};
const tagName = (tag: number): string => `0x${tag.toString(16).padStart(4, '0')} (${FORMAT_NAMES[tag] ?? 'unknown'})`;

// KSDATAFORMAT_SUBTYPE_*: {0000XXXX-0000-0010-8000-00AA00389B71}; bytes 2 … 15 of the GUID.
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

const fourcc = (b: Uint8Array, o: number): string => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);

interface Fmt { tag: number; channels: number; sampleRate: number; blockAlign: number; bits: number }

function parseFmt(view: DataView, bytes: Uint8Array, off: number, size: number, file: string): Fmt {
  if (size < 16) throw new WavError('fmt_too_short', file, `fmt chunk is ${size} bytes, needs at least 16`);
  let tag = view.getUint16(off, true);
  const channels = view.getUint16(off + 2, true);
  const sampleRate = view.getUint32(off + 4, true);
  const blockAlign = view.getUint16(off + 12, true);
  const bits = view.getUint16(off + 14, true);
  if (tag === 0xfffe) {
    if (size < 40) throw new WavError('fmt_too_short', file, `WAVE_FORMAT_EXTENSIBLE fmt chunk is ${size} bytes, needs 40`);
    const sub = view.getUint16(off + 24, true);
    const tailOk = GUID_TAIL.every((v, i) => bytes[off + 26 + i] === v);
    if (!tailOk || (sub !== 1 && sub !== 3)) {
      const guid = Array.from(bytes.subarray(off + 24, off + 40), (v) => v.toString(16).padStart(2, '0')).join('');
      throw new WavError('unsupported_format', file,
        `WAVE_FORMAT_EXTENSIBLE sub-format ${tailOk ? tagName(sub) : `GUID ${guid}`} is not supported (merclip reads PCM and IEEE float)`);
    }
    tag = sub;
  }
  if (tag !== 1 && tag !== 3) {
    throw new WavError('unsupported_format', file, `format tag ${tagName(tag)} is not supported (merclip reads PCM integer, 0x0001, and IEEE float, 0x0003)`);
  }
  if (channels === 0) throw new WavError('bad_channels', file, 'fmt chunk declares 0 channels');
  if (sampleRate === 0) throw new WavError('bad_rate', file, 'fmt chunk declares a sample rate of 0');
  const okBits = tag === 1 ? [8, 16, 24, 32] : [32, 64];
  if (!okBits.includes(bits)) {
    throw new WavError('bad_bits', file, `${bits}-bit ${tag === 1 ? 'PCM' : 'float'} is not supported (${okBits.join(', ')} are)`);
  }
  if (blockAlign !== (channels * bits) / 8) {
    throw new WavError('block_align', file, `block align is ${blockAlign}, expected channels·bits/8 = ${channels}·${bits}/8 = ${(channels * bits) / 8}`);
  }
  return { tag, channels, sampleRate, blockAlign, bits };
}

/** Decodes WAV bytes; `source` names the file in errors (default '<bytes>'). */
export function parseWav(bytes: Uint8Array, source = '<bytes>'): WavAudio {
  const file = source;
  const len = bytes.length;
  if (len < 12) throw new WavError('truncated', file, `file is ${len} bytes, shorter than the 12-byte RIFF/WAVE header`);
  const id = fourcc(bytes, 0);
  if (id !== 'RIFF') {
    throw new WavError('not_riff', file, `not a RIFF file (starts with ${JSON.stringify(id)}${id === 'RIFX' ? ', big-endian RIFX is not supported' : id === 'RF64' ? ', RF64 is not supported' : ''})`);
  }
  if (fourcc(bytes, 8) !== 'WAVE') throw new WavError('not_wave', file, `RIFF form type is ${JSON.stringify(fourcc(bytes, 8))}, not "WAVE"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Fmt | undefined;
  let dataOff = -1, dataLen = 0;
  let off = 12;
  while (off < len) {
    if (len - off < 8) throw new WavError('truncated', file, `chunk header at byte ${off} is cut off (${len - off} of 8 bytes)`);
    const cid = fourcc(bytes, off);
    let size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (cid === 'data' && dataOff < 0 && (size === 0 || size === 0xffffffff)) {
      size = len - body; // streaming writer: the rest of the file
    } else if (size > len - body) {
      throw new WavError('chunk_size', file, `${JSON.stringify(cid)} chunk at byte ${off} declares ${size} bytes but only ${len - body} remain`);
    }
    if (cid === 'fmt ') {
      if (fmt) throw new WavError('fmt_duplicate', file, `second fmt chunk at byte ${off}`);
      fmt = parseFmt(view, bytes, body, size, file);
    } else if (cid === 'data' && dataOff < 0) {
      dataOff = body;
      dataLen = size;
    }
    off = body + size + (size & 1);
  }
  if (!fmt) throw new WavError('fmt_missing', file, 'no fmt chunk');
  if (dataOff < 0) throw new WavError('data_missing', file, 'no data chunk');
  return decode(view, dataOff, dataLen, fmt);
}

function decode(view: DataView, off: number, size: number, f: Fmt): WavAudio {
  const frames = Math.floor(size / f.blockAlign);
  const data = Array.from({ length: f.channels }, () => new Float32Array(frames));
  const bps = f.bits / 8;
  for (let c = 0; c < f.channels; c++) {
    const ch = data[c]!;
    let p = off + c * bps;
    const step = f.blockAlign;
    if (f.tag === 3) {
      if (f.bits === 32) for (let i = 0; i < frames; i++, p += step) ch[i] = view.getFloat32(p, true);
      else for (let i = 0; i < frames; i++, p += step) ch[i] = view.getFloat64(p, true);
    } else if (f.bits === 8) {
      for (let i = 0; i < frames; i++, p += step) ch[i] = (view.getUint8(p) - 128) / 128;
    } else if (f.bits === 16) {
      for (let i = 0; i < frames; i++, p += step) ch[i] = view.getInt16(p, true) / 32768;
    } else if (f.bits === 24) {
      for (let i = 0; i < frames; i++, p += step) {
        const v = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16);
        ch[i] = v / 8388608;
      }
    } else {
      for (let i = 0; i < frames; i++, p += step) ch[i] = view.getInt32(p, true) / 2147483648;
    }
  }
  return { sampleRate: f.sampleRate, channels: f.channels, frames, data };
}

function readBytesSync(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new WavError('io', path, `cannot read: ${(err as Error).message}`);
  }
}

/** Reads a .wav path (sync) or decodes WAV bytes; `source` names the file in errors
 *  (default: the path, or '<bytes>'). */
export function readWav(pathOrBytes: string | Uint8Array, source?: string): WavAudio {
  if (typeof pathOrBytes === 'string') return parseWav(readBytesSync(pathOrBytes), source ?? pathOrBytes);
  if (!(pathOrBytes instanceof Uint8Array)) throw new TypeError(`readWav: expected a path or a Uint8Array, received ${typeof pathOrBytes}`);
  return parseWav(pathOrBytes, source ?? '<bytes>');
}

/** readWav with the file read asynchronously. */
export async function readWavAsync(pathOrBytes: string | Uint8Array, source?: string): Promise<WavAudio> {
  if (typeof pathOrBytes !== 'string') return readWav(pathOrBytes, source);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pathOrBytes);
  } catch (err) {
    throw new WavError('io', source ?? pathOrBytes, `cannot read: ${(err as Error).message}`);
  }
  return parseWav(bytes, source ?? pathOrBytes);
}

/** The mean of the channels, sample by sample (a new array, also for one channel). */
export function toMono(data: readonly Float32Array[]): Float32Array {
  if (data.length === 0) throw new RangeError('toMono: expected at least one channel, received 0');
  const n = data[0]!.length;
  for (let c = 1; c < data.length; c++) {
    if (data[c]!.length !== n) throw new RangeError(`toMono: expected every channel to have ${n} samples, channel ${c} has ${data[c]!.length}`);
  }
  if (data.length === 1) return Float32Array.from(data[0]!);
  const out = new Float32Array(n);
  const inv = 1 / data.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < data.length; c++) s += data[c]![i]!;
    out[i] = s * inv;
  }
  return out;
}

export type WavWriteFormat = 'pcm16' | 'float32';

/** Encodes channels as a canonical 44-byte-header WAV: 16-bit PCM (round(x·32768) clamped to
 *  [−32768, 32767], so k/32768 round-trips exactly) or 32-bit IEEE float. */
export function writeWav(data: readonly Float32Array[], sampleRate: number, format: WavWriteFormat = 'pcm16'): Uint8Array {
  if (data.length === 0 || data.length > 65535) throw new RangeError(`writeWav: expected 1 … 65535 channels, received ${data.length}`);
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) throw new RangeError(`writeWav: expected sampleRate to be a positive integer, received ${sampleRate}`);
  const frames = data[0]!.length;
  for (const ch of data) if (ch.length !== frames) throw new RangeError('writeWav: expected every channel to have the same length');
  const bps = format === 'pcm16' ? 2 : 4;
  const block = data.length * bps;
  const dataBytes = frames * block;
  const out = new Uint8Array(44 + dataBytes + (dataBytes & 1));
  const v = new DataView(out.buffer);
  const tag = (o: number, s: string): void => { for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i); };
  tag(0, 'RIFF'); v.setUint32(4, out.length - 8, true); tag(8, 'WAVE');
  tag(12, 'fmt '); v.setUint32(16, 16, true); v.setUint16(20, format === 'pcm16' ? 1 : 3, true);
  v.setUint16(22, data.length, true); v.setUint32(24, sampleRate, true); v.setUint32(28, sampleRate * block, true);
  v.setUint16(32, block, true); v.setUint16(34, bps * 8, true);
  tag(36, 'data'); v.setUint32(40, dataBytes, true);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < data.length; c++) {
      const x = data[c]![i]!;
      const p = 44 + i * block + c * bps;
      if (format === 'pcm16') v.setInt16(p, Math.max(-32768, Math.min(32767, Math.round(x * 32768))), true);
      else v.setFloat32(p, x, true);
    }
  }
  return out;
}
