// safetensors reader/writer: byte-exact hand-built fixtures, round trips for every dtype (empty
// tensors, scalars, metadata), F16/BF16 conversion against known values and an independent
// brute-force oracle, zero-copy views, writer input validation, atomic writes, header-only reads.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  SafetensorsError,
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  readSafetensorsSync,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
  type SafetensorsDtype,
  type WritableTensor,
} from '../../lib/io/index.js';
import { makeRng, type Rng } from '../helpers/seed.js';

const enc = (s: string): number[] => [...new TextEncoder().encode(s)];
const u64le = (n: number): number[] => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(n), true); return [...b]; };
const f32le = (...v: number[]): number[] => [...new Uint8Array(new Float32Array(v).buffer)];
const spaces = (k: number): number[] => new Array<number>(k).fill(0x20);

function expectError(fn: () => unknown, code: string, tensor?: string): SafetensorsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SafetensorsError);
    const e = err as SafetensorsError;
    expect(e.code).toBe(code);
    if (tensor !== undefined) {
      expect(e.tensor).toBe(tensor);
      expect(e.message).toContain(`tensor ${JSON.stringify(tensor)}`);
    }
    return e;
  }
  throw new Error(`expected a SafetensorsError ${code}, nothing was thrown`);
}

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merclip-st-')); });
afterAll(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('byte-exact files built by hand from the format description', () => {
  it('one F32 tensor: u64 LE length, JSON padded with spaces to a multiple of 8, raw LE data', () => {
    const json = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes → padded to 56
    expect(json.length).toBe(54);
    const expected = new Uint8Array([
      56, 0, 0, 0, 0, 0, 0, 0,
      ...enc(json), 0x20, 0x20,
      0x00, 0x00, 0x80, 0x3f, // 1.0f
      0x00, 0x00, 0x00, 0x40, // 2.0f
    ]);
    const got = serializeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    expect([...got]).toEqual([...expected]);
    const back = parseSafetensors(expected);
    expect([...back.tensors.keys()]).toEqual(['a']);
    expect(back.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) });
    expect(back.metadata).toEqual({});
  });

  it('metadata first (keys sorted), tensors sorted by name in code-unit order, data in that order', () => {
    const json =
      '{"__metadata__":{"a":"1","format":"pt"},' +
      '"10":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
      '"9":{"dtype":"I32","shape":[],"data_offsets":[1,5]},' +
      '"B":{"dtype":"BOOL","shape":[2,0],"data_offsets":[5,5]},' +
      '"b":{"dtype":"F32","shape":[1],"data_offsets":[5,9]}}';
    const pad = (8 - (json.length % 8)) % 8;
    const expected = [
      ...u64le(json.length + pad), ...enc(json), ...spaces(pad),
      7, // "10"
      0xfe, 0xff, 0xff, 0xff, // "9" = -2
      ...f32le(0.5), // "b"
    ];
    const got = serializeSafetensors(
      new Map<string, WritableTensor>([
        ['b', { dtype: 'F32', shape: [1], data: new Float32Array([0.5]) }],
        ['9', { dtype: 'I32', shape: [], data: new Int32Array([-2]) }],
        ['B', { dtype: 'BOOL', shape: [2, 0], data: new Uint8Array(0) }],
        ['10', { dtype: 'U8', shape: [1], data: new Uint8Array([7]) }],
      ]),
      { format: 'pt', a: '1' },
    );
    expect([...got]).toEqual(expected);
    expect((8 + json.length + pad) % 8).toBe(0);
  });

  it('an F16 / BF16 / F64 / I64 file built byte by byte decodes to the right values', () => {
    const json =
      '{"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
      '"h":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},' +
      '"b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]},' +
      '"l":{"dtype":"I64","shape":[1],"data_offsets":[18,26]}}';
    const bytes = new Uint8Array([
      ...u64le(json.length), ...enc(json),
      ...new Uint8Array(new Float64Array([0.1]).buffer),
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, // F16 1, -2, 65504
      0x80, 0x3f, 0x80, 0xff, // BF16 1, -inf
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // I64 -1
    ]);
    const { tensors } = parseSafetensors(bytes);
    expect(tensors.get('d')).toEqual({ dtype: 'F64', shape: [1], data: new Float32Array([0.1]) });
    expect(tensors.get('h')).toEqual({ dtype: 'F16', shape: [3], data: new Float32Array([1, -2, 65504]) });
    expect(tensors.get('b')).toEqual({ dtype: 'BF16', shape: [2], data: new Float32Array([1, -Infinity]) });
    expect(tensors.get('l')).toEqual({ dtype: 'I64', shape: [1], data: new BigInt64Array([-1n]) });
  });

  it('the header is padded so the data area starts at a multiple of 8, for every name length', () => {
    for (let len = 1; len <= 24; len++) {
      const name = 'x'.repeat(len);
      const bytes = serializeSafetensors({ [name]: { dtype: 'F64', shape: [1], data: new Float64Array([3]) } });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + n) % 8).toBe(0);
      const json = `{"${name}":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}`;
      expect(n - json.length).toBeGreaterThanOrEqual(0);
      expect(n - json.length).toBeLessThan(8);
      expect([...bytes.subarray(8 + json.length, 8 + n)].every((b) => b === 0x20)).toBe(true);
      expect(bytes.length).toBe(8 + n + 8);
      const t = parseSafetensors(bytes).tensors.get(name)!;
      expect(t.data).toEqual(new Float32Array([3]));
    }
  });

  it('an empty file ({} and no data) and a metadata-only file are valid', () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, ...enc('{}'), ...spaces(6)]);
    const empty = parseSafetensors(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, ...enc('{}')]));
    expect(empty.tensors.size).toBe(0);
    const m = parseSafetensors(serializeSafetensors({}, { k: 'v' }));
    expect(m.metadata).toEqual({ k: 'v' });
  });
});

// ---------------------------------------------------------------------------------------------

function randomData(rng: Rng, dtype: SafetensorsDtype, n: number): WritableTensor['data'] {
  switch (dtype) {
    case 'F32': return rng.normalF32(n);
    case 'F64': { const a = new Float64Array(n); for (let i = 0; i < n; i++) a[i] = rng.normal(); return a; }
    case 'F16': { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = f16BitsToF32(rng.int(0, 0x7bff) | (rng.int(0, 1) << 15)); return a; }
    case 'BF16': { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = bf16BitsToF32(rng.int(0, 0x7f7f) | (rng.int(0, 1) << 15)); return a; }
    case 'I32': return rng.intI32(n, -2147483648, 2147483647);
    case 'I64': { const a = new BigInt64Array(n); for (let i = 0; i < n; i++) a[i] = BigInt.asIntN(64, (BigInt(rng.int(0, 0xffffffff)) << 32n) | BigInt(rng.int(0, 0xffffffff))); return a; }
    case 'U8': { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = rng.int(0, 255); return a; }
    case 'BOOL': { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = rng.int(0, 1); return a; }
  }
}

const ALL: SafetensorsDtype[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL'];
const EXPECTED_CLASS = { F32: Float32Array, F16: Float32Array, BF16: Float32Array, F64: Float32Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array, BOOL: Uint8Array };

function expectedLoaded(t: WritableTensor): unknown {
  if (t.dtype === 'F64') return new Float32Array(t.data as Float64Array);
  return t.data;
}

describe('round trips', () => {
  const rng = makeRng(20240601);
  const shapes: number[][] = [[], [0], [2, 0], [0, 3, 5], [1], [7], [3, 4], [2, 3, 5]];
  const tensors = new Map<string, WritableTensor>();
  for (const dtype of ALL) {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      tensors.set(`${dtype.toLowerCase()}.${shape.join('x') || 'scalar'}`, { dtype, shape, data: randomData(rng, dtype, n) });
    }
  }
  const metadata = { format: 'pt', step: '12', json: '{"lr": 0.001}', 'ünïcødé ✓': 'значение\n\t"quoted"', __proto__x: 'y', empty: '' };

  function check(loaded: { tensors: Map<string, { dtype: string; shape: number[]; data: unknown }>; metadata: Record<string, string> }): void {
    expect([...loaded.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const got = loaded.tensors.get(name)!;
      expect(got.dtype, name).toBe(t.dtype);
      expect(got.shape, name).toEqual(t.shape);
      expect(got.data, name).toBeInstanceOf(EXPECTED_CLASS[t.dtype]);
      expect(got.data, name).toEqual(expectedLoaded(t));
    }
    expect(loaded.metadata).toEqual(metadata);
  }

  it('every dtype (scalars, empty tensors, several shapes) and metadata, in memory', () => {
    const bytes = serializeSafetensors(tensors, metadata);
    check(parseSafetensors(bytes));
    // deterministic: same input → same bytes, whatever the insertion order
    const reversed = new Map([...tensors.entries()].reverse());
    expect(serializeSafetensors(reversed, metadata)).toEqual(bytes);
  });

  it('through files, sync and async; the loaded tensors can be written back byte-identically', async () => {
    const f1 = path.join(dir, 'rt-sync.safetensors');
    const f2 = path.join(dir, 'rt-async.safetensors');
    writeSafetensorsSync(f1, tensors, metadata);
    await writeSafetensors(f2, Object.fromEntries(tensors), metadata);
    expect(fs.readFileSync(f1)).toEqual(fs.readFileSync(f2));
    check(readSafetensorsSync(f1));
    const loaded = await readSafetensors(f2);
    check(loaded);
    // F16/BF16 come back as Float32Array and re-encode exactly; F64 widens back from its float32 values
    const noF64 = new Map([...loaded.tensors].filter(([, t]) => t.dtype !== 'F64'));
    const orig = new Map([...tensors].filter(([, t]) => t.dtype !== 'F64'));
    expect(serializeSafetensors(noF64, loaded.metadata)).toEqual(serializeSafetensors(orig, metadata));
  });

  it('F32 / I32 / I64 / U8 / BOOL are zero-copy views into the file buffer; F16/BF16/F64 are new arrays', () => {
    const bytes = serializeSafetensors(tensors, metadata);
    const header = parseSafetensors(bytes);
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(dataStart % 8).toBe(0);
    let views = 0;
    for (const [name, t] of header.tensors) {
      const shares = t.data.buffer === bytes.buffer;
      const viewable = ['F32', 'I32', 'I64', 'U8', 'BOOL'].includes(t.dtype);
      if (shares) {
        views++;
        expect(t.data.byteOffset % t.data.BYTES_PER_ELEMENT, name).toBe(0);
      }
      if (!viewable) expect(shares, name).toBe(false);
    }
    expect(views).toBeGreaterThan(10);
    // all-F32 (a CLIP checkpoint): every tensor is a view, none copied
    const rng = makeRng(3);
    const f32 = new Map<string, WritableTensor>();
    for (let i = 0; i < 20; i++) f32.set(`layer.${i}.weight`, { dtype: 'F32', shape: [rng.int(0, 5), 3], data: new Float32Array(0) });
    for (const t of f32.values()) t.data = rng.normalF32(t.shape[0]! * 3);
    const allF32 = serializeSafetensors(f32);
    for (const t of parseSafetensors(allF32).tensors.values()) expect(t.data.buffer).toBe(allF32.buffer);
  });

  it('misaligned input (a buffer at an odd byte offset) is copied, with the same values', () => {
    const bytes = serializeSafetensors(tensors, metadata);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const view = shifted.subarray(3);
    const a = parseSafetensors(view);
    check(a);
    expect(a.tensors.get('f32.3x4')!.data.buffer).not.toBe(shifted.buffer);
    expect(a.tensors.get('u8.3x4')!.data.buffer).toBe(shifted.buffer);
    expect(a.tensors.get('u8.3x4')!.data).not.toBeInstanceOf(Buffer);
  });

  it('F16 / BF16 accept Uint16Array raw bits, written as-is; F64 accepts a Float32Array', () => {
    const bits = new Uint16Array([0x3c00, 0x0001, 0x7e01, 0xfbff]);
    const bytes = serializeSafetensors({ h: { dtype: 'F16', shape: [4], data: bits }, b: { dtype: 'BF16', shape: [4], data: bits } });
    const data = bytes.subarray(bytes.length - 16);
    expect([...data]).toEqual([...new Uint8Array(bits.buffer), ...new Uint8Array(bits.buffer)]); // "b" first, then "h"
    const d = serializeSafetensors({ d: { dtype: 'F64', shape: [2], data: new Float32Array([0.1, -3]) } });
    expect([...d.subarray(d.length - 16)]).toEqual([...new Uint8Array(new Float64Array([Math.fround(0.1), -3]).buffer)]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('F16 / BF16 conversion', () => {
  it('known F16 values, both directions', () => {
    const cases: Array<[number, number]> = [
      [1.0, 0x3c00], [-2.0, 0xc000], [65504, 0x7bff], [2 ** -24, 0x0001], [-(2 ** -24), 0x8001],
      [2 ** -14, 0x0400], [1023 * 2 ** -24, 0x03ff], [0.5, 0x3800], [0, 0x0000], [-0, 0x8000],
      [Infinity, 0x7c00], [-Infinity, 0xfc00], [0.333251953125, 0x3555],
    ];
    for (const [v, h] of cases) {
      expect(f32ToF16Bits(v), `${v}`).toBe(h);
      expect(Object.is(f16BitsToF32(h), v), `${h.toString(16)}`).toBe(true);
    }
    const nan = f32ToF16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x03ff).not.toBe(0);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(f16BitsToF32(0xfc01)).toBeNaN();
  });

  it('F16 rounding: to nearest, ties to even, overflow to inf, underflow to zero', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(65519)).toBe(0x7bff); // below the midpoint to 2^16
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the midpoint rounds to even = inf
    expect(f32ToF16Bits(1e10)).toBe(0x7c00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal: tie → 0
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // 1.5 units: tie → 2
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -26)).toBe(0x0000);
    expect(f32ToF16Bits(-(2 ** -26))).toBe(0x8000);
    expect(f32ToF16Bits(1.4e-45)).toBe(0x0000); // float32 subnormal
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up from the largest subnormal into the smallest normal
  });

  it('every finite half survives half → float32 → half; random float32s match a brute-force nearest-half oracle', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads are only kept "some NaN"
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
    // oracle: the non-negative finite halves 0x0000..0x7bff are increasing in value
    const vals = Array.from({ length: 0x7c00 }, (_, h) => f16BitsToF32(h));
    const oracle = (x: number): number => {
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      const a = Math.abs(x);
      if (a >= 65520) return sign | 0x7c00;
      let lo = 0, hi = 0x7bff;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (vals[mid]! <= a) lo = mid; else hi = mid - 1; }
      if (lo === 0x7bff) return sign | lo;
      const dl = a - vals[lo]!, du = vals[lo + 1]! - a;
      return sign | (dl < du ? lo : du < dl ? lo + 1 : (lo & 1) === 0 ? lo : lo + 1);
    };
    const rng = makeRng(7);
    const buf = new Float32Array(1);
    const bits = new Uint32Array(buf.buffer);
    for (let i = 0; i < 20000; i++) {
      // random float32 bit patterns with exponents around the half range (−30 … +17), both signs
      bits[0] = ((rng.int(0, 1) << 31) | ((rng.int(127 - 30, 127 + 17)) << 23) | rng.int(0, 0x7fffff)) >>> 0;
      const x = buf[0]!;
      expect(f32ToF16Bits(x), `${x}`).toBe(oracle(x));
    }
  });

  it('known BF16 values and rounding', () => {
    const cases: Array<[number, number]> = [
      [1.0, 0x3f80], [-2.0, 0xc000], [Infinity, 0x7f80], [-Infinity, 0xff80], [0, 0], [-0, 0x8000],
      [2 ** -133, 0x0001], [3.3895313892515355e38, 0x7f7f], [65536, 0x4780],
    ];
    for (const [v, h] of cases) {
      expect(f32ToBf16Bits(v), `${v}`).toBe(h);
      expect(Object.is(bf16BitsToF32(h), v), `${h.toString(16)}`).toBe(true);
    }
    expect(f32ToBf16Bits(65504)).toBe(0x4780); // 0x477fe000 rounds up
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie → even (up)
    expect(f32ToBf16Bits(3.4028234663852886e38)).toBe(0x7f80); // FLT_MAX rounds to inf
    const nan = f32ToBf16Bits(NaN);
    expect(nan & 0x7f80).toBe(0x7f80);
    expect(nan & 0x7f).not.toBe(0);
    expect(bf16BitsToF32(0x7fc0)).toBeNaN();
  });

  it('F16/BF16 Float32Array inputs are rounded by the writer the same way', () => {
    const v = new Float32Array([1 + 2 ** -11, 65520, 2 ** -25, NaN, -0]);
    const { tensors } = parseSafetensors(serializeSafetensors({ h: { dtype: 'F16', shape: [5], data: v } }));
    const d = tensors.get('h')!.data as Float32Array;
    expect([d[0], d[1], d[2]]).toEqual([1, Infinity, 0]);
    expect(d[3]).toBeNaN();
    expect(Object.is(d[4], -0)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

describe('writer input validation', () => {
  const ok = { dtype: 'F32', shape: [2], data: new Float32Array(2) } as const;
  const rows: Array<[string, Record<string, unknown>, string, string | undefined]> = [
    ['shape product ≠ data length', { t: { ...ok, shape: [3] } }, 'size_mismatch', 't'],
    ['negative dim', { t: { ...ok, shape: [-2] } }, 'invalid_shape', 't'],
    ['fractional dim', { t: { ...ok, shape: [1.5] } }, 'invalid_shape', 't'],
    ['shape not an array', { t: { ...ok, shape: 2 } }, 'invalid_shape', 't'],
    ['unknown dtype', { t: { ...ok, dtype: 'F8' } }, 'unknown_dtype', 't'],
    ['F32 given a Float64Array', { t: { ...ok, data: new Float64Array(2) } }, 'dtype_mismatch', 't'],
    ['I32 given a Float32Array', { t: { ...ok, dtype: 'I32' } }, 'dtype_mismatch', 't'],
    ['I64 given an Int32Array', { t: { dtype: 'I64', shape: [1], data: new Int32Array(1) } }, 'dtype_mismatch', 't'],
    ['data a plain array', { t: { ...ok, data: [1, 2] } }, 'dtype_mismatch', 't'],
    ['BOOL value 2', { t: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }, 'invalid_value', 't'],
    ['empty name', { '': ok }, 'invalid_name', undefined],
    ['reserved name', { __metadata__: ok }, 'invalid_name', '__metadata__'],
    ['entry not an object', { t: 5 }, 'invalid_header', 't'],
  ];
  for (const [what, tensors, code, tensor] of rows) {
    it(what, () => {
      const e = expectError(() => serializeSafetensors(tensors as Record<string, WritableTensor>), code, tensor);
      expect(e.file).toBe('<buffer>');
    });
  }
  it('metadata must be string → string', () => {
    expectError(() => serializeSafetensors({}, { a: 1 } as unknown as Record<string, string>), 'invalid_metadata');
    expectError(() => serializeSafetensors({}, ['x'] as unknown as Record<string, string>), 'invalid_metadata');
  });
  it('file writers name the target file and validate before touching the disk', async () => {
    const f = path.join(dir, 'never.safetensors');
    const bad = { t: { ...ok, shape: [3] } };
    expect(expectError(() => writeSafetensorsSync(f, bad), 'size_mismatch', 't').message).toMatch(/^.*never\.safetensors: tensor "t": shape \[3\] has 3 elements but data has length 2$/);
    await expect(writeSafetensors(f, bad)).rejects.toMatchObject({ code: 'size_mismatch', file: f, tensor: 't' });
    expect(fs.existsSync(f)).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.includes('never'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('atomic writes', () => {
  const t = { w: { dtype: 'F32' as const, shape: [3], data: new Float32Array([1, 2, 3]) } };
  const t2 = { v: { dtype: 'I32' as const, shape: [1], data: new Int32Array([9]) } };

  for (const mode of ['sync', 'async'] as const) {
    const write = async (f: string, x: Record<string, WritableTensor>, m?: Record<string, string>): Promise<void> => {
      if (mode === 'sync') writeSafetensorsSync(f, x, m);
      else await writeSafetensors(f, x, m);
    };

    it(`${mode}: replaces an existing target and leaves no temp file behind`, async () => {
      const sub = fs.mkdtempSync(path.join(dir, `atomic-${mode}-`));
      const f = path.join(sub, 'ckpt.safetensors');
      fs.writeFileSync(f, 'old contents');
      await write(f, t, { step: '1' });
      expect(fs.readdirSync(sub)).toEqual(['ckpt.safetensors']);
      expect(readSafetensorsSync(f).metadata).toEqual({ step: '1' });
      await write(f, t2, { step: '2' });
      expect(fs.readdirSync(sub)).toEqual(['ckpt.safetensors']);
      const back = readSafetensorsSync(f);
      expect([...back.tensors.keys()]).toEqual(['v']);
      expect(back.metadata).toEqual({ step: '2' });
    });

    it(`${mode}: a failed rename (target is a directory) removes the temp file and reports io_error`, async () => {
      const sub = fs.mkdtempSync(path.join(dir, `atomic-fail-${mode}-`));
      const f = path.join(sub, 'target.safetensors');
      fs.mkdirSync(f);
      fs.writeFileSync(path.join(f, 'keep'), 'x'); // non-empty directory: rename over it must fail
      let err: unknown;
      try { await write(f, t); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(SafetensorsError);
      expect(err).toMatchObject({ code: 'io_error', file: f });
      expect(fs.readdirSync(sub)).toEqual(['target.safetensors']);
    });

    it(`${mode}: a missing directory is io_error naming the file`, async () => {
      const f = path.join(dir, 'no-such-dir', 'x.safetensors');
      let err: unknown;
      try { await write(f, t); } catch (e) { err = e; }
      expect(err).toMatchObject({ code: 'io_error', file: f });
      expect((err as Error).message).toContain(f);
    });
  }

  it('reading a missing file is io_error naming the file', async () => {
    const f = path.join(dir, 'missing.safetensors');
    expectError(() => readSafetensorsSync(f), 'io_error');
    await expect(readSafetensors(f)).rejects.toMatchObject({ code: 'io_error', file: f });
    await expect(readSafetensorsHeader(f)).rejects.toMatchObject({ code: 'io_error', file: f });
  });
});

// ---------------------------------------------------------------------------------------------

describe('readSafetensorsHeader', () => {
  it('returns names, dtypes, shapes, offsets and metadata, sync and async, validated like the full reader', async () => {
    const f = path.join(dir, 'hdr.safetensors');
    writeSafetensorsSync(f, {
      'b.weight': { dtype: 'F16', shape: [2, 3], data: new Float32Array(6) },
      'a.bias': { dtype: 'I64', shape: [], data: new BigInt64Array(1) },
    }, { format: 'pt' });
    const size = fs.statSync(f).size;
    const want = {
      tensors: [
        { name: 'a.bias', dtype: 'I64', shape: [], dataOffsets: [0, 8], elementCount: 1, byteLength: 8 },
        { name: 'b.weight', dtype: 'F16', shape: [2, 3], dataOffsets: [8, 20], elementCount: 6, byteLength: 12 },
      ],
      metadata: { format: 'pt' },
      fileSize: size,
      dataLength: 20,
    };
    const a = await readSafetensorsHeader(f);
    expect(a).toMatchObject(want);
    expect(a.dataStart % 8).toBe(0);
    expect(a.dataStart).toBe(8 + a.headerLength);
    expect(readSafetensorsHeaderSync(f)).toEqual(a);
    // the header reader still checks offsets against the file size
    fs.appendFileSync(f, Buffer.from([1, 2, 3]));
    await expect(readSafetensorsHeader(f)).rejects.toMatchObject({ code: 'data_not_covered', tensor: 'b.weight' });
    fs.truncateSync(f, size - 1);
    expect(expectError(() => readSafetensorsHeaderSync(f), 'invalid_offset', 'b.weight').file).toBe(f);
    fs.truncateSync(f, 5);
    expectError(() => readSafetensorsHeaderSync(f), 'file_too_small');
  });
});
