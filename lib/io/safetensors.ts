// lib/io/safetensors.ts — reader and writer for the safetensors format (huggingface/safetensors).
//
// Format: [u64 little-endian N][N bytes of UTF-8 JSON header][data area]. The header is one JSON
// object: `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …,
// "__metadata__": {"key": "value", …}}`, offsets relative to the start of the data area.
//
// Threat model (after huggingface/safetensors attacks/README.md). A .safetensors file is
// untrusted input: downloaded checkpoints, datasets, files truncated by a killed writer or
// damaged on disk. Loading one must never run code, crash the process, hang, allocate without
// bound, or hand back a tensor whose data does not match its declared shape. The attacks and
// the check that stops each one:
//   - header-size bomb: a huge N makes the reader allocate gigabytes before noticing.
//     N ≤ 100,000,000 (MAX_HEADER_LENGTH) and 8 + N ≤ file size, checked before any header
//     byte is decoded (`header_too_large`, `header_out_of_bounds`); a file shorter than the
//     8-byte prefix is `file_too_small`.
//   - malformed header: invalid UTF-8 (decoded with TextDecoder fatal: true), invalid JSON, a
//     top level that is not an object, entries that are not objects or miss fields
//     (`invalid_utf8`, `invalid_json`, `invalid_header`). JSON is parsed with JSON.parse —
//     data only, no revivers, no code. `__proto__` keys become own properties (JSON.parse and
//     Object.fromEntries use CreateDataProperty), so they cannot reach Object.prototype.
//   - duplicate names: JSON.parse keeps the last of two equal keys silently, so two readers
//     could disagree on which tensor a name means. The keys are scanned separately: a repeated
//     tensor name (or `__metadata__`) is `duplicate_name`; a repeated field inside an entry is
//     `invalid_header`, a repeated metadata key `invalid_metadata` (serde rejects both too).
//   - shape/offset lies: a shape whose byte size differs from its offsets' span would make a
//     typed-array view read past its slice (or another tensor's bytes). The byte size is
//     computed in BigInt (no overflow, e.g. shape [2^52, 2^52]) and must equal end − begin
//     (`size_mismatch`); shapes must be arrays of non-negative safe integers (`invalid_shape`);
//     dtypes must be known (`unknown_dtype`).
//   - aliasing and hidden data: offsets must be integer pairs with begin ≤ end ≤ data size
//     (`invalid_offset`); sorted by begin they must be contiguous from 0 — overlap is
//     `overlapping_offsets` (two tensors sharing bytes), a hole or trailing bytes after the last
//     tensor is `data_not_covered` (bytes no tensor accounts for, a place to smuggle data).
//   - metadata: must be an object of string → string (`invalid_metadata`).
// All of this is checked before any tensor is built: a bad file is rejected whole — never a
// partial load. Every failure is a SafetensorsError naming the file and, where there is one,
// the tensor. Out of scope: trusting the *values* (NaN, Inf, huge weights, BOOL bytes other
// than 0/1 — kept as read, like huggingface/safetensors) — that is the caller's concern; the
// file system itself (symlinks, permissions, a file changed while it is read).
//
// Memory: readSafetensors reads the file once into one Buffer; F32/I32/I64/U8/BOOL tensors are
// zero-copy typed-array views into it when the element alignment allows (byteOffset %
// elementSize === 0), else a copy. Files we write start the data area at a multiple of 8, so a
// tensor is aligned when the tensors before it (in name order) add up to a multiple of its
// element size — always the case for all-F32 checkpoints; a U8 tensor of odd length ahead of an
// F32 one makes that one a copy (offsets must be contiguous, so the writer cannot pad). A view
// keeps the whole file Buffer alive as long as the tensor is referenced — copy (`data.slice()`)
// a tensor you keep while dropping the rest. F16/BF16/F64 are converted into
// new Float32Arrays. Data is little-endian; the host must be little-endian (asserted; every
// platform Node supports in practice is).
//
// Writer: tensors sorted by name (UTF-16 code-unit order), data laid out contiguously in that
// order, `__metadata__` first in the header (keys sorted; omitted when empty), the header padded
// with spaces so the data area starts at a multiple of 8. Accepted data per dtype:
//   F32: Float32Array        F64: Float64Array, or Float32Array (widened exactly)
//   F16/BF16: Float32Array (converted, round-to-nearest-even; NaN stays NaN, overflow → ±Inf)
//             or Uint16Array (raw IEEE half / bfloat16 bit patterns, written as-is)
//   I32: Int32Array   I64: BigInt64Array   U8: Uint8Array   BOOL: Uint8Array of 0/1
// so every SafetensorsTensor that the reader returns can be written back unchanged (an F16/BF16
// tensor read as Float32Array re-encodes exactly). Files are written atomically through io/atomic.ts
// (temp file in the same directory, fsync, rename over the target); on failure the temp file is
// removed and the target is untouched.
//
// Size: the format in one place — parse, validate (every rule above), read and write, sync and
// async — so the reader and the writer cannot drift apart.

import * as fs from 'node:fs';
import { endianness } from 'node:os';

import { writeFileAtomic, writeFileAtomicSync } from './atomic.js';

// ---------------------------------------------------------------------------------------------
// Types, constants, errors

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

export const SAFETENSORS_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL'];

/** Bytes per element in the file. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1,
};

/** The largest header the reader accepts (bytes), as huggingface/safetensors. */
export const MAX_HEADER_LENGTH = 100_000_000;

export type SafetensorsData = Float32Array | Int32Array | BigInt64Array | Uint8Array;

/** A loaded tensor: `dtype` is the file's dtype; F16/BF16/F64 data arrive as Float32Array. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** A tensor as the writer takes it (see the file header for the accepted array per dtype). */
export interface WritableTensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
}

export type WritableTensors = Map<string, WritableTensor> | Record<string, WritableTensor>;

/** One header entry, validated. */
export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) relative to the data area. */
  dataOffsets: [number, number];
  elementCount: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  /** Entries sorted by name. */
  tensors: SafetensorsTensorInfo[];
  metadata: Record<string, string>;
  /** N, the JSON header's length in bytes (padding included). */
  headerLength: number;
  /** Absolute file offset of the data area (8 + N). */
  dataStart: number;
  /** Size of the data area in bytes. */
  dataLength: number;
  fileSize: number;
}

export type SafetensorsErrorCode =
  | 'file_too_small' | 'header_too_large' | 'header_out_of_bounds' | 'invalid_utf8' | 'invalid_json'
  | 'invalid_header' | 'unknown_dtype' | 'invalid_shape' | 'size_mismatch' | 'invalid_offset'
  | 'overlapping_offsets' | 'data_not_covered' | 'duplicate_name' | 'invalid_metadata' | 'io_error'
  // writer-only
  | 'invalid_name' | 'dtype_mismatch' | 'invalid_value' | 'unsupported_host';

/** Every reader/writer failure. `file` is the path (or `<buffer>`); `tensor` the entry at fault. */
export class SafetensorsError extends Error {
  readonly code: SafetensorsErrorCode;
  readonly file: string;
  readonly tensor?: string;

  constructor(code: SafetensorsErrorCode, file: string, tensor: string | undefined, detail: string, options?: { cause?: unknown }) {
    const where = tensor === undefined ? `${file}: ` : `${file}: tensor ${quote(tensor)}: `;
    super(where + detail, options);
    this.name = 'SafetensorsError';
    this.code = code;
    this.file = file;
    if (tensor !== undefined) this.tensor = tensor;
  }
}

/** A name for messages: JSON-quoted (control characters escaped), long names shortened. */
function quote(s: string): string {
  const q = JSON.stringify(s);
  return q.length > 202 ? q.slice(0, 200) + '…"' : q;
}

/** A value as an error message shows it: JSON, cut to `max` characters. */
export function show(v: unknown, max = 120): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? s.slice(0, max - 3) + '...' : s;
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

let hostChecked = false;
function assertLittleEndianHost(file: string): void {
  if (hostChecked) return;
  if (endianness() !== 'LE') {
    throw new SafetensorsError('unsupported_host', file, undefined, 'safetensors data is little-endian and this host is big-endian (unsupported)');
  }
  hostChecked = true;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DTYPE_SET: ReadonlySet<string> = new Set(SAFETENSORS_DTYPES);

// ---------------------------------------------------------------------------------------------
// F16 / BF16 conversion

let f16Table: Uint32Array | undefined;

/** float32 bit patterns of all 65536 halves (built once, 256 KiB). */
function halfTable(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  const f = new Float32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / nan (payload kept)
    else if (exp !== 0) t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    else f[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero / subnormal: exact in float32
  }
  f16Table = t;
  return t;
}

/** IEEE half bits → float32 value. */
export function f16BitsToF32(h: number): number {
  f16TableF32 ??= new Float32Array(halfTable().buffer);
  return f16TableF32[h & 0xffff]!;
}
let f16TableF32: Float32Array | undefined;

/** bfloat16 bits → float32 value. */
export function bf16BitsToF32(h: number): number {
  const u = new Uint32Array([(h & 0xffff) << 16]);
  return new Float32Array(u.buffer)[0]!;
}

/** float32 bits (as u32) → IEEE half bits, round-to-nearest-even. */
function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // inf / quiet nan
  const e = exp - 112; // half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e >= 1) {
    let r = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (r & 1) !== 0)) r += 1; // a carry may reach inf: correct
    return sign | r;
  }
  // half subnormal (or zero): value = full · 2^(exp−150) = (full >> shift) units of 2^−24
  const shift = 14 - e; // ≥ 14
  if (shift > 24) return sign; // below half the smallest subnormal (float32 subnormals land here)
  const full = mant | 0x800000;
  let r = full >>> shift;
  const rem = full & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rem > halfway || (rem === halfway && (r & 1) !== 0)) r += 1; // 0x3ff + 1 = smallest normal: correct
  return sign | r;
}

/** float32 bits (as u32) → bfloat16 bits, round-to-nearest-even. */
function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet nan
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff; // x + bias < 2^32 for every non-nan x
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 value → IEEE half bits (round-to-nearest-even). */
export function f32ToF16Bits(v: number): number {
  scratchF32[0] = v;
  return f32BitsToF16Bits(scratchU32[0]!);
}

/** float32 value → bfloat16 bits (round-to-nearest-even). */
export function f32ToBf16Bits(v: number): number {
  scratchF32[0] = v;
  return f32BitsToBf16Bits(scratchU32[0]!);
}

// ---------------------------------------------------------------------------------------------
// Reader: header validation (fixed order, first failure wins)
//   prefix: file_too_small → header_too_large → header_out_of_bounds
//   header: invalid_utf8 → invalid_json → invalid_header (top level) → duplicate_name →
//           invalid_metadata → per entry in key order: invalid_header (entry) → unknown_dtype →
//           invalid_shape → invalid_offset → size_mismatch
//   layout: sorted by offsets: overlapping_offsets / data_not_covered (holes, trailing bytes)

/** Validates the 8-byte prefix against the file size; returns N. */
function readPrefix(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError('file_too_small', file, undefined, `file is ${fileSize} bytes, shorter than the 8-byte header length prefix`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_LENGTH)) {
    throw new SafetensorsError('header_too_large', file, undefined, `header length ${n} exceeds the limit of ${MAX_HEADER_LENGTH} bytes`);
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError('header_out_of_bounds', file, undefined, `header length ${headerLength} runs past the end of the file (${fileSize} bytes, header would end at ${8 + headerLength})`);
  }
  return headerLength;
}

/**
 * The first repeated key in any object of `text` (known-valid JSON), with the chain of keys of
 * the objects around it (`[]` at the top level, `["a"]` inside entry "a"), or undefined.
 * JSON.parse silently keeps the last of two equal keys; safetensors (serde) rejects them.
 */
function findDuplicateKey(text: string): { parents: string[]; key: string } | undefined {
  interface Frame { keys: Set<string> | null; expectKey: boolean; lastKey: string }
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === 0x22 /* " */) {
      const start = i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) { i++; break; }
        else i++;
      }
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i)) as string;
        if (top.keys.has(key)) return { parents: stack.slice(0, -1).map((f) => f.lastKey), key };
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      continue;
    }
    if (c === 0x7b /* { */) stack.push({ keys: new Set(), expectKey: true, lastKey: '' });
    else if (c === 0x5b /* [ */) stack.push({ keys: null, expectKey: false, lastKey: '' });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */ && top?.keys) top.expectKey = true;
    i++;
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function checkNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Validates the JSON header bytes against a data area of `dataLength` bytes. */
function parseHeaderBytes(headerBytes: Uint8Array, dataLength: number, file: string): { infos: SafetensorsTensorInfo[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = utf8.decode(headerBytes);
  } catch (err) {
    throw new SafetensorsError('invalid_utf8', file, undefined, 'header is not valid UTF-8', { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError('invalid_json', file, undefined, `header is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isPlainObject(json)) {
    throw new SafetensorsError('invalid_header', file, undefined, `header must be a JSON object, found ${Array.isArray(json) ? 'an array' : show(json)}`);
  }
  const dup = findDuplicateKey(text);
  if (dup) {
    const [outer, ...inner] = dup.parents;
    if (outer === undefined) {
      if (dup.key === '__metadata__') throw new SafetensorsError('duplicate_name', file, undefined, '"__metadata__" appears more than once in the header');
      throw new SafetensorsError('duplicate_name', file, dup.key, 'name appears more than once in the header');
    }
    const where = [...inner, dup.key].map(quote).join(' → ');
    if (outer === '__metadata__') throw new SafetensorsError('invalid_metadata', file, undefined, `"__metadata__" key ${where} appears more than once`);
    throw new SafetensorsError('invalid_header', file, outer, `field ${where} appears more than once in the entry`);
  }

  let metadata: Record<string, string> = {};
  const meta = json['__metadata__'];
  if (meta !== undefined) {
    if (!isPlainObject(meta)) {
      throw new SafetensorsError('invalid_metadata', file, undefined, `"__metadata__" must be an object of string to string, found ${show(meta)}`);
    }
    const entries: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(meta)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError('invalid_metadata', file, undefined, `"__metadata__" value for ${quote(k)} must be a string, found ${show(v)}`);
      }
      entries.push([k, v]);
    }
    metadata = Object.fromEntries(entries);
  }

  const infos: SafetensorsTensorInfo[] = [];
  for (const name of Object.keys(json)) {
    if (name === '__metadata__') continue;
    const entry = json[name];
    if (!isPlainObject(entry)) {
      throw new SafetensorsError('invalid_header', file, name, `entry must be an object with dtype, shape and data_offsets, found ${show(entry)}`);
    }
    for (const field of ['dtype', 'shape', 'data_offsets'] as const) {
      if (!(field in entry)) throw new SafetensorsError('invalid_header', file, name, `entry is missing "${field}"`);
    }
    const dtype = entry['dtype'];
    if (typeof dtype !== 'string' || !DTYPE_SET.has(dtype)) {
      throw new SafetensorsError('unknown_dtype', file, name, `unknown dtype ${show(dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`);
    }
    const dt = dtype as SafetensorsDtype;
    const shapeV = entry['shape'];
    if (!Array.isArray(shapeV) || !shapeV.every(checkNonNegInt)) {
      throw new SafetensorsError('invalid_shape', file, name, `shape must be an array of non-negative integers, found ${show(shapeV)}`);
    }
    const shape = (shapeV as number[]).map((d) => (d === 0 ? 0 : d)); // -0 → 0
    const offV = entry['data_offsets'];
    if (!Array.isArray(offV) || offV.length !== 2 || !checkNonNegInt(offV[0]) || !checkNonNegInt(offV[1])) {
      throw new SafetensorsError('invalid_offset', file, name, `data_offsets must be [begin, end] with non-negative integers, found ${show(offV)}`);
    }
    const begin = offV[0] as number;
    const end = offV[1] as number;
    if (begin > end) {
      throw new SafetensorsError('invalid_offset', file, name, `data_offsets [${begin}, ${end}] end before they begin`);
    }
    if (end > dataLength) {
      throw new SafetensorsError('invalid_offset', file, name, `data_offsets [${begin}, ${end}] run past the end of the data area (${dataLength} bytes)`);
    }
    let elements = 1n;
    for (const d of shape) elements *= BigInt(d);
    const need = elements * BigInt(DTYPE_SIZE[dt]);
    if (need !== BigInt(end - begin)) {
      throw new SafetensorsError('size_mismatch', file, name, `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dt} shape ${fmtShape(shape)} needs ${need}`);
    }
    infos.push({ name, dtype: dt, shape, dataOffsets: [begin, end], elementCount: Number(elements), byteLength: end - begin });
  }

  // layout: contiguous from 0 to dataLength, no overlap, no hole, nothing after the last tensor
  const byOffset = infos.slice().sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let expected = 0;
  let prev: SafetensorsTensorInfo | undefined;
  for (const t of byOffset) {
    const [begin, end] = t.dataOffsets;
    if (begin < expected) {
      throw new SafetensorsError('overlapping_offsets', file, t.name, `data_offsets [${begin}, ${end}] overlap tensor ${quote(prev!.name)} at [${prev!.dataOffsets[0]}, ${prev!.dataOffsets[1]}]`);
    }
    if (begin > expected) {
      throw new SafetensorsError('data_not_covered', file, t.name, `data_offsets [${begin}, ${end}] leave bytes [${expected}, ${begin}) of the data area unused (a hole)`);
    }
    expected = end;
    prev = t;
  }
  if (expected !== dataLength) {
    const detail = `the data area is ${dataLength} bytes but the tensors cover only [0, ${expected}): ${dataLength - expected} trailing bytes`;
    throw new SafetensorsError('data_not_covered', file, prev?.name, prev ? `is the last tensor, and ${detail}` : detail);
  }

  infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { infos, metadata };
}

// ---------------------------------------------------------------------------------------------
// Reader: building tensors

/** A typed array of `count` elements over bytes[abs, abs + count·size): a view when aligned, else a copy. */
function viewOrCopy<T>(
  bytes: Uint8Array, abs: number, count: number, size: number,
  Ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; new (length: number): T },
): T {
  const off = bytes.byteOffset + abs;
  if (off % size === 0) return new Ctor(bytes.buffer, off, count);
  const out = new Ctor(count);
  new Uint8Array((out as unknown as { buffer: ArrayBufferLike }).buffer).set(bytes.subarray(abs, abs + count * size));
  return out;
}

function buildTensor(bytes: Uint8Array, dataStart: number, info: SafetensorsTensorInfo): SafetensorsTensor {
  const abs = dataStart + info.dataOffsets[0];
  const n = info.elementCount;
  const shape = info.shape.slice();
  switch (info.dtype) {
    case 'F32':
      return { dtype: 'F32', shape, data: viewOrCopy(bytes, abs, n, 4, Float32Array) };
    case 'I32':
      return { dtype: 'I32', shape, data: viewOrCopy(bytes, abs, n, 4, Int32Array) };
    case 'I64':
      return { dtype: 'I64', shape, data: viewOrCopy(bytes, abs, n, 8, BigInt64Array) };
    case 'U8':
    case 'BOOL':
      // a plain Uint8Array view, not a Buffer (Buffer.slice shares memory, unlike Uint8Array.slice)
      return { dtype: info.dtype, shape, data: new Uint8Array(bytes.buffer, bytes.byteOffset + abs, n) };
    case 'F64':
      return { dtype: 'F64', shape, data: new Float32Array(viewOrCopy(bytes, abs, n, 8, Float64Array)) };
    case 'F16': {
      const src = viewOrCopy(bytes, abs, n, 2, Uint16Array);
      const table = halfTable();
      const out = new Float32Array(n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = table[src[i]!]!;
      return { dtype: 'F16', shape, data: out };
    }
    case 'BF16': {
      const src = viewOrCopy(bytes, abs, n, 2, Uint16Array);
      const out = new Float32Array(n);
      const o32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) o32[i] = src[i]! << 16;
      return { dtype: 'BF16', shape, data: out };
    }
  }
}

/**
 * Parses a whole safetensors file held in memory. Everything is validated before any tensor is
 * built; F32/I32/I64/U8/BOOL data are views into `bytes` where aligned.
 */
export function parseSafetensors(bytes: Uint8Array, fileName = '<buffer>'): SafetensorsFile {
  assertLittleEndianHost(fileName);
  const headerLength = readPrefix(bytes, bytes.length, fileName);
  const dataStart = 8 + headerLength;
  const { infos, metadata } = parseHeaderBytes(bytes.subarray(8, dataStart), bytes.length - dataStart, fileName);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const info of infos) tensors.set(info.name, buildTensor(bytes, dataStart, info));
  return { tensors, metadata };
}

function ioError(file: string, what: string, err: unknown): SafetensorsError {
  if (err instanceof SafetensorsError) return err;
  return new SafetensorsError('io_error', file, undefined, `${what}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}

/** Reads and validates a file (one read into one Buffer; tensors are views into it where aligned). */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(file);
  } catch (err) {
    throw ioError(file, 'cannot read file', err);
  }
  return parseSafetensors(bytes, file);
}

export function readSafetensorsSync(file: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw ioError(file, 'cannot read file', err);
  }
  return parseSafetensors(bytes, file);
}

function headerResult(file: string, headerLength: number, fileSize: number, headerBytes: Uint8Array): SafetensorsHeader {
  const dataStart = 8 + headerLength;
  const { infos, metadata } = parseHeaderBytes(headerBytes, fileSize - dataStart, file);
  return { tensors: infos, metadata, headerLength, dataStart, dataLength: fileSize - dataStart, fileSize };
}

/** Reads and validates only the header (8 + N bytes): names, dtypes, shapes, offsets, metadata. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let fh: fs.promises.FileHandle | undefined;
  let fileSize: number;
  let headerLength: number;
  let headerBytes: Uint8Array;
  try {
    fh = await fs.promises.open(file, 'r');
    fileSize = (await fh.stat()).size;
    const prefix = new Uint8Array(Math.min(8, fileSize));
    await readFullyAsync(fh, prefix, 0, file);
    headerLength = readPrefix(prefix, fileSize, file);
    headerBytes = new Uint8Array(headerLength);
    await readFullyAsync(fh, headerBytes, 8, file);
  } catch (err) {
    throw ioError(file, 'cannot read header', err);
  } finally {
    await fh?.close().catch(() => undefined);
  }
  return headerResult(file, headerLength, fileSize, headerBytes);
}

export function readSafetensorsHeaderSync(file: string): SafetensorsHeader {
  let fd: number | undefined;
  let fileSize: number;
  let headerLength: number;
  let headerBytes: Uint8Array;
  try {
    fd = fs.openSync(file, 'r');
    fileSize = fs.fstatSync(fd).size;
    const prefix = new Uint8Array(Math.min(8, fileSize));
    readFullySync(fd, prefix, 0, file);
    headerLength = readPrefix(prefix, fileSize, file);
    headerBytes = new Uint8Array(headerLength);
    readFullySync(fd, headerBytes, 8, file);
  } catch (err) {
    throw ioError(file, 'cannot read header', err);
  } finally {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing or closed */ }
  }
  return headerResult(file, headerLength, fileSize, headerBytes);
}

/** Fills `buf` from `position`, or leaves it short if the file ends (the prefix check reports that). */
async function readFullyAsync(fh: fs.promises.FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new SafetensorsError('io_error', file, undefined, `file ended after ${position + done} bytes while reading the header (it changed while being read?)`);
    done += bytesRead;
  }
}

function readFullySync(fd: number, buf: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const bytesRead = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new SafetensorsError('io_error', file, undefined, `file ended after ${position + done} bytes while reading the header (it changed while being read?)`);
    done += bytesRead;
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

interface Plan {
  /** 8-byte prefix + padded header. */
  head: Uint8Array;
  /** Per tensor, in layout order: produces its data bytes (conversions done lazily, one at a time). */
  chunks: Array<() => Uint8Array>;
  total: number;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function arrayKind(data: unknown): string {
  if (data === null || typeof data !== 'object') return show(data);
  return (data as object).constructor?.name ?? 'object';
}

/** Validates one writer entry and returns its byte producer. */
function planTensor(name: string, t: WritableTensor, file: string): { dtype: SafetensorsDtype; shape: number[]; byteLength: number; bytes: () => Uint8Array } {
  if (!isPlainObject(t)) throw new SafetensorsError('invalid_header', file, name, `expected an object { dtype, shape, data }, received ${show(t)}`);
  const { dtype, shape, data } = t;
  if (typeof dtype !== 'string' || !DTYPE_SET.has(dtype)) {
    throw new SafetensorsError('unknown_dtype', file, name, `unknown dtype ${show(dtype)} (expected one of ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(checkNonNegInt)) {
    throw new SafetensorsError('invalid_shape', file, name, `expected shape to be an array of non-negative integers, received ${show(shape)}`);
  }
  const ok =
    dtype === 'F32' ? data instanceof Float32Array
    : dtype === 'F64' ? data instanceof Float64Array || data instanceof Float32Array
    : dtype === 'F16' || dtype === 'BF16' ? data instanceof Float32Array || data instanceof Uint16Array
    : dtype === 'I32' ? data instanceof Int32Array
    : dtype === 'I64' ? data instanceof BigInt64Array
    : data instanceof Uint8Array; // U8, BOOL
  if (!ok) {
    const want = { F32: 'Float32Array', F64: 'Float64Array or Float32Array', F16: 'Float32Array or Uint16Array (raw bits)', BF16: 'Float32Array or Uint16Array (raw bits)', I32: 'Int32Array', I64: 'BigInt64Array', U8: 'Uint8Array', BOOL: 'Uint8Array' }[dtype];
    throw new SafetensorsError('dtype_mismatch', file, name, `expected data for dtype ${dtype} to be a ${want}, received ${arrayKind(data)}`);
  }
  let elements = 1n;
  for (const d of shape) elements *= BigInt(d);
  if (elements !== BigInt(data.length)) {
    throw new SafetensorsError('size_mismatch', file, name, `shape ${fmtShape(shape)} has ${elements} elements but data has length ${data.length}`);
  }
  if (dtype === 'BOOL') {
    const u = data as Uint8Array;
    for (let i = 0; i < u.length; i++) {
      if (u[i]! > 1) throw new SafetensorsError('invalid_value', file, name, `BOOL data must be 0 or 1, found ${u[i]} at index ${i}`);
    }
  }
  const n = data.length;
  const byteLength = n * DTYPE_SIZE[dtype];
  let bytes: () => Uint8Array;
  if ((dtype === 'F16' || dtype === 'BF16') && data instanceof Float32Array) {
    const conv = dtype === 'F16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
    bytes = () => {
      const src = new Uint32Array(data.buffer, data.byteOffset, n);
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = conv(src[i]!);
      return bytesOf(out);
    };
  } else if (dtype === 'F64' && data instanceof Float32Array) {
    bytes = () => bytesOf(new Float64Array(data));
  } else {
    bytes = () => bytesOf(data);
  }
  return { dtype, shape: shape.map((d) => (d === 0 ? 0 : d)), byteLength, bytes };
}

function planFile(tensors: WritableTensors, metadata: Record<string, string> | undefined, file: string): Plan {
  assertLittleEndianHost(file);
  if (tensors === null || typeof tensors !== 'object') {
    throw new SafetensorsError('invalid_header', file, undefined, `expected tensors to be a Map or an object of name → tensor, received ${show(tensors)}`);
  }
  const entries: Array<[string, WritableTensor]> = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name] of entries) {
    if (typeof name !== 'string' || name.length === 0) throw new SafetensorsError('invalid_name', file, undefined, `tensor names must be non-empty strings, received ${show(name)}`);
    if (name === '__metadata__') throw new SafetensorsError('invalid_name', file, name, 'the name "__metadata__" is reserved for the metadata entry');
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

  const metaKeys: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new SafetensorsError('invalid_metadata', file, undefined, `expected metadata to be an object of string → string, received ${show(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError('invalid_metadata', file, undefined, `expected metadata value for ${quote(k)} to be a string, received ${show(v)}`);
      metaKeys.push(k);
    }
    metaKeys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  // header JSON, built by hand so the key order is exactly the layout order (JSON.stringify of an
  // object would move integer-like names first)
  const parts: string[] = [];
  if (metaKeys.length > 0) {
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata![k])}`).join(',')}}`);
  }
  const chunks: Array<() => Uint8Array> = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const p = planTensor(name, t, file);
    const begin = offset;
    offset += p.byteLength;
    parts.push(`${JSON.stringify(name)}:{"dtype":"${p.dtype}","shape":[${p.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
    chunks.push(p.bytes);
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8; // 8 + N ≡ 0 (mod 8): data area 8-byte aligned
  if (headerLength > MAX_HEADER_LENGTH) {
    throw new SafetensorsError('header_too_large', file, undefined, `header would be ${headerLength} bytes, over the limit of ${MAX_HEADER_LENGTH}`);
  }
  const head = new Uint8Array(8 + headerLength);
  new DataView(head.buffer).setBigUint64(0, BigInt(headerLength), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return { head, chunks, total: head.length + offset };
}

/** The complete file as bytes (tensors sorted by name, 8-byte-aligned data area). */
export function serializeSafetensors(tensors: WritableTensors, metadata?: Record<string, string>): Uint8Array {
  const plan = planFile(tensors, metadata, '<buffer>');
  const out = new Uint8Array(plan.total);
  out.set(plan.head, 0);
  let at = plan.head.length;
  for (const chunk of plan.chunks) {
    const b = chunk();
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Writes atomically (io/atomic.ts: temp file in the same directory, fsync, rename over `file`). */
export function writeSafetensorsSync(file: string, tensors: WritableTensors, metadata?: Record<string, string>): void {
  const plan = planFile(tensors, metadata, file); // all validation before touching the disk
  try {
    writeFileAtomicSync(file, planChunks(plan));
  } catch (err) {
    throw ioError(file, 'cannot write file', err);
  }
}

export async function writeSafetensors(file: string, tensors: WritableTensors, metadata?: Record<string, string>): Promise<void> {
  const plan = planFile(tensors, metadata, file);
  try {
    await writeFileAtomic(file, planChunks(plan));
  } catch (err) {
    throw ioError(file, 'cannot write file', err);
  }
}

/** The header, then each tensor's bytes, produced one at a time. */
function* planChunks(plan: ReturnType<typeof planFile>): Iterable<Uint8Array> {
  yield plan.head;
  for (const chunk of plan.chunks) yield chunk();
}
