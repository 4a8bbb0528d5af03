// Malformed safetensors files: one tiny hand-built byte buffer per failure mode, each asserting
// the error code, the file name and the tensor name; positive edge cases the validation must not
// reject; and a seeded mutation loop (≥ 10,000 damaged files) in which every file either parses
// into tensors whose data match their shapes or throws SafetensorsError — nothing else.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  MAX_HEADER_LENGTH,
  SafetensorsError,
  parseSafetensors,
  readSafetensorsHeaderSync,
  readSafetensorsSync,
  serializeSafetensors,
  type SafetensorsFile,
  type WritableTensor,
} from '../../lib/io/index.js';
import { makeRng, type Rng } from '../helpers/seed.js';

const FILE = 'model.safetensors';

const u64le = (n: bigint | number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};

/** [u64 LE length of `header`][header bytes][data]; `n` overrides the length field. */
function file(header: string | Uint8Array, data: number | number[] = 0, n?: bigint | number): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : new Uint8Array(data);
  const out = new Uint8Array(8 + h.length + d.length);
  out.set(u64le(n ?? h.length), 0);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

const f32 = (name: string, shape: number[], begin: number, end: number): string =>
  `${JSON.stringify(name)}:{"dtype":"F32","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

interface Case {
  what: string;
  bytes: Uint8Array;
  code: string;
  tensor?: string;
  message?: RegExp;
}

const cases: Case[] = [
  // prefix
  { what: 'empty file', bytes: new Uint8Array(0), code: 'file_too_small', message: /0 bytes/ },
  { what: '7-byte file', bytes: new Uint8Array([2, 0, 0, 0, 0, 0, 0]), code: 'file_too_small' },
  { what: 'header length 100,000,001', bytes: file('{}', 0, MAX_HEADER_LENGTH + 1), code: 'header_too_large', message: /100000001/ },
  { what: 'header length 2^64 − 1', bytes: file('{}', 0, 2n ** 64n - 1n), code: 'header_too_large' },
  { what: 'header length past the end of the file', bytes: file('{}', 0, 3), code: 'header_out_of_bounds' },
  { what: 'header length 100 in a 20-byte file', bytes: file('{"a":1}    ', 1, 100), code: 'header_out_of_bounds' },
  // header text
  { what: 'invalid UTF-8 (0xff)', bytes: file(new Uint8Array([0x7b, 0xff, 0x7d])), code: 'invalid_utf8' },
  { what: 'truncated UTF-8 sequence', bytes: file(new Uint8Array([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x31, 0x7d])), code: 'invalid_utf8' },
  { what: 'UTF-8 encoded surrogate', bytes: file(new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])), code: 'invalid_utf8' },
  { what: 'truncated JSON', bytes: file('{"a":'), code: 'invalid_json' },
  { what: 'empty header', bytes: file(''), code: 'invalid_json' },
  { what: 'NUL padding instead of spaces', bytes: file('{}\0\0\0\0\0\0'), code: 'invalid_json' },
  { what: 'byte-order mark', bytes: file('\ufeff{}'), code: 'invalid_json' },
  { what: 'trailing garbage', bytes: file('{} x'), code: 'invalid_json' },
  { what: 'top level an array', bytes: file('[]'), code: 'invalid_header', message: /must be a JSON object/ },
  { what: 'top level null', bytes: file('null'), code: 'invalid_header' },
  { what: 'top level a string', bytes: file('"x"'), code: 'invalid_header' },
  // entries
  { what: 'entry a number', bytes: file('{"a.weight":5}'), code: 'invalid_header', tensor: 'a.weight' },
  { what: 'entry an array', bytes: file('{"a.weight":[]}'), code: 'invalid_header', tensor: 'a.weight' },
  { what: 'entry missing data_offsets', bytes: file('{"a.weight":{"dtype":"F32","shape":[1]}}', 4), code: 'invalid_header', tensor: 'a.weight', message: /missing "data_offsets"/ },
  { what: 'entry missing dtype', bytes: file('{"a.weight":{"shape":[1],"data_offsets":[0,4]}}', 4), code: 'invalid_header', tensor: 'a.weight', message: /missing "dtype"/ },
  { what: 'entry missing shape', bytes: file('{"a.weight":{"dtype":"F32","data_offsets":[0,4]}}', 4), code: 'invalid_header', tensor: 'a.weight' },
  { what: 'field repeated inside an entry', bytes: file('{"a.weight":{"dtype":"F32","dtype":"U8","shape":[4],"data_offsets":[0,4]}}', 4), code: 'invalid_header', tensor: 'a.weight', message: /"dtype" appears more than once/ },
  { what: 'unknown dtype F8', bytes: file('{"a.weight":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}', 1), code: 'unknown_dtype', tensor: 'a.weight', message: /"F8"/ },
  { what: 'lower-case dtype', bytes: file('{"a.weight":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', 4), code: 'unknown_dtype', tensor: 'a.weight' },
  { what: 'dtype a number', bytes: file('{"a.weight":{"dtype":4,"shape":[1],"data_offsets":[0,4]}}', 4), code: 'unknown_dtype', tensor: 'a.weight' },
  { what: 'negative dim', bytes: file(`{${f32('a.weight', [-1], 0, 4)}}`, 4), code: 'invalid_shape', tensor: 'a.weight' },
  { what: 'fractional dim', bytes: file(`{${f32('a.weight', [1.5], 0, 4)}}`, 4), code: 'invalid_shape', tensor: 'a.weight' },
  { what: 'dim beyond 2^53', bytes: file('{"a.weight":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}', 4), code: 'invalid_shape', tensor: 'a.weight' },
  { what: 'dim a string', bytes: file('{"a.weight":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', 4), code: 'invalid_shape', tensor: 'a.weight' },
  { what: 'shape not an array', bytes: file('{"a.weight":{"dtype":"F32","shape":1,"data_offsets":[0,4]}}', 4), code: 'invalid_shape', tensor: 'a.weight' },
  // sizes and offsets
  {
    what: 'span ≠ shape byte size (the issue example)',
    bytes: file(`{${f32('a.weight', [2, 3], 0, 10)}}`, 10),
    code: 'size_mismatch', tensor: 'a.weight',
    message: /^model\.safetensors: tensor "a\.weight": data_offsets \[0, 10\] span 10 bytes, but F32 shape \[2, 3\] needs 24$/,
  },
  { what: 'byte size overflowing 2^64 (BigInt, no wrap to 0)', bytes: file(`{${f32('a.weight', [2 ** 32, 2 ** 32, 2 ** 32], 0, 0)}}`), code: 'size_mismatch', tensor: 'a.weight' },
  { what: 'byte size overflowing 2^53', bytes: file(`{${f32('a.weight', [2 ** 52, 2 ** 52], 0, 0)}}`), code: 'size_mismatch', tensor: 'a.weight' },
  { what: 'offsets one value', bytes: file('{"a.weight":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', 4), code: 'invalid_offset', tensor: 'a.weight' },
  { what: 'offsets three values', bytes: file('{"a.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', 4), code: 'invalid_offset', tensor: 'a.weight' },
  { what: 'negative offset', bytes: file(`{${f32('a.weight', [1], -4, 0)}}`, 4), code: 'invalid_offset', tensor: 'a.weight' },
  { what: 'fractional offset', bytes: file(`{${f32('a.weight', [1], 0.5, 4.5)}}`, 5), code: 'invalid_offset', tensor: 'a.weight' },
  { what: 'offsets as strings', bytes: file('{"a.weight":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}', 4), code: 'invalid_offset', tensor: 'a.weight' },
  { what: 'end before begin', bytes: file(`{${f32('a.weight', [1], 4, 0)}}`, 4), code: 'invalid_offset', tensor: 'a.weight', message: /end before they begin/ },
  { what: 'offsets past the end of the file', bytes: file(`{${f32('a.weight', [4], 0, 16)}}`, 8), code: 'invalid_offset', tensor: 'a.weight', message: /past the end of the data area \(8 bytes\)/ },
  { what: 'overlapping tensors', bytes: file(`{${f32('a', [2], 0, 8)},${f32('b', [2], 4, 12)}}`, 12), code: 'overlapping_offsets', tensor: 'b', message: /overlap tensor "a"/ },
  { what: 'two tensors on the same bytes (aliasing)', bytes: file(`{${f32('a', [1], 0, 4)},${f32('b', [1], 0, 4)}}`, 4), code: 'overlapping_offsets', tensor: 'b' },
  { what: 'empty tensor inside another one', bytes: file(`{${f32('a', [2], 0, 8)},${f32('e', [0], 4, 4)}}`, 8), code: 'overlapping_offsets', tensor: 'e' },
  { what: 'hole between tensors', bytes: file(`{${f32('a', [1], 0, 4)},${f32('b', [1], 8, 12)}}`, 12), code: 'data_not_covered', tensor: 'b', message: /\[4, 8\)/ },
  { what: 'hole at the start', bytes: file(`{${f32('a', [1], 4, 8)}}`, 8), code: 'data_not_covered', tensor: 'a' },
  { what: 'trailing bytes after the last tensor', bytes: file(`{${f32('a', [1], 0, 4)}}`, 5), code: 'data_not_covered', tensor: 'a', message: /1 trailing bytes/ },
  { what: 'data bytes but no tensors', bytes: file('{}', 4), code: 'data_not_covered' },
  // names
  { what: 'duplicate tensor name', bytes: file(`{${f32('a.weight', [1], 0, 4)},${f32('a.weight', [1], 4, 8)}}`, 8), code: 'duplicate_name', tensor: 'a.weight' },
  { what: 'duplicate name spelled with an escape', bytes: file(`{${f32('ab', [1], 0, 4)},"\\u0061b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), code: 'duplicate_name', tensor: 'ab' },
  { what: 'duplicate __metadata__', bytes: file('{"__metadata__":{},"__metadata__":{"a":"b"}}'), code: 'duplicate_name' },
  // metadata
  { what: '__metadata__ a string', bytes: file('{"__metadata__":"x"}'), code: 'invalid_metadata' },
  { what: '__metadata__ an array', bytes: file('{"__metadata__":["x"]}'), code: 'invalid_metadata' },
  { what: '__metadata__ null', bytes: file('{"__metadata__":null}'), code: 'invalid_metadata' },
  { what: '__metadata__ value a number', bytes: file('{"__metadata__":{"step":3}}'), code: 'invalid_metadata', message: /"step"/ },
  { what: '__metadata__ value nested', bytes: file('{"__metadata__":{"cfg":{"a":"b"}}}'), code: 'invalid_metadata' },
  { what: '__metadata__ key repeated', bytes: file('{"__metadata__":{"k":"1","k":"2"}}'), code: 'invalid_metadata', message: /"k" appears more than once/ },
];

describe('one hand-built buffer per failure mode', () => {
  for (const c of cases) {
    it(`${c.code}: ${c.what}`, () => {
      let err: unknown;
      try {
        parseSafetensors(c.bytes, FILE);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SafetensorsError);
      const e = err as SafetensorsError;
      expect(e.code).toBe(c.code);
      expect(e.file).toBe(FILE);
      expect(e.message.startsWith(`${FILE}: `)).toBe(true);
      expect(e.tensor).toBe(c.tensor);
      if (c.tensor !== undefined) expect(e.message).toContain(`${FILE}: tensor ${JSON.stringify(c.tensor)}: `);
      if (c.message) expect(e.message).toMatch(c.message);
    });
  }

  it('the default file name is <buffer>', () => {
    expect(() => parseSafetensors(new Uint8Array(3))).toThrow(/^<buffer>: file is 3 bytes/);
  });

  it('the same failures come from the file readers, naming the path (full read and header-only)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'merclip-stbad-'));
    try {
      for (const c of cases) {
        const f = path.join(dir, 'bad.safetensors');
        fs.writeFileSync(f, c.bytes);
        for (const read of [readSafetensorsSync, readSafetensorsHeaderSync]) {
          let err: unknown;
          try { read(f); } catch (e) { err = e; }
          expect(err, c.what).toBeInstanceOf(SafetensorsError);
          expect((err as SafetensorsError).code, c.what).toBe(c.code);
          expect((err as SafetensorsError).file).toBe(f);
          expect((err as SafetensorsError).message.startsWith(`${f}: `)).toBe(true);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('edge cases that are valid', () => {
  it('empty tensors (several at one offset), scalars, whitespace padding of any kind', () => {
    const header = `{${f32('e1', [0], 0, 0)},${f32('e2', [2, 0], 0, 0)},${f32('s', [], 0, 4)},${f32('e3', [0, 5], 4, 4)}} \t\r\n`;
    const { tensors } = parseSafetensors(file(header, [0, 0, 0x80, 0x3f]), FILE);
    expect(tensors.get('s')).toEqual({ dtype: 'F32', shape: [], data: new Float32Array([1]) });
    expect(tensors.get('e1')!.data.length).toBe(0);
    expect(tensors.get('e2')).toEqual({ dtype: 'F32', shape: [2, 0], data: new Float32Array(0) });
    expect(tensors.get('e3')!.shape).toEqual([0, 5]);
  });

  it('a file with tensors in any offset order, extra entry fields ignored', () => {
    const h = `{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":[1,{"x":2}]},"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`;
    const { tensors } = parseSafetensors(file(h, [1, 2, 3]));
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    expect(tensors.get('a')!.data).toEqual(new Uint8Array([2, 3]));
  });

  it('"__proto__" as a tensor name or metadata key stays an own property and cannot pollute prototypes', () => {
    const h = `{"__metadata__":{"__proto__":"x","constructor":"y"},${f32('__proto__', [1], 0, 4)}}`;
    const { tensors, metadata } = parseSafetensors(file(h, 4));
    expect(tensors.get('__proto__')!.shape).toEqual([1]);
    expect(Object.keys(metadata).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(metadata, '__proto__')?.value).toBe('x');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    // and it round-trips through the writer
    const again = parseSafetensors(serializeSafetensors(tensors, metadata));
    expect(Object.getOwnPropertyDescriptor(again.metadata, '__proto__')?.value).toBe('x');
    expect(again.tensors.has('__proto__')).toBe(true);
  });

  it('odd names survive: unicode, quotes, backslashes, integer-like names', () => {
    const names = ['ünï "q" \\ / \u0001', '0', '1', '10', 'a'.repeat(300), '🙂'];
    const m = new Map<string, WritableTensor>(names.map((n, i) => [n, { dtype: 'I32', shape: [1], data: new Int32Array([i]) }]));
    const { tensors } = parseSafetensors(serializeSafetensors(m));
    for (const [i, n] of names.entries()) expect(tensors.get(n)!.data).toEqual(new Int32Array([i]));
  });
});

// ---------------------------------------------------------------------------------------------

const EXPECTED_CLASS = { F32: Float32Array, F16: Float32Array, BF16: Float32Array, F64: Float32Array, I32: Int32Array, I64: BigInt64Array, U8: Uint8Array, BOOL: Uint8Array };

/** A parse that succeeded must be fully consistent: each tensor's data has its shape's element count. */
function checkConsistent(f: SafetensorsFile): void {
  for (const [name, t] of f.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new Error(`tensor ${name}: data length ${t.data.length} ≠ ${n}`);
    if (!(t.data instanceof EXPECTED_CLASS[t.dtype])) throw new Error(`tensor ${name}: ${t.dtype} data is a ${t.data.constructor.name}`);
  }
  for (const [k, v] of Object.entries(f.metadata)) if (typeof v !== 'string') throw new Error(`metadata ${k} is not a string`);
}

function baseFile(): Uint8Array {
  const rng = makeRng(99);
  const t: Record<string, WritableTensor> = {
    'text.w': { dtype: 'F32', shape: [2, 3], data: rng.normalF32(6) },
    'text.b': { dtype: 'F16', shape: [3], data: rng.normalF32(3) },
    'vision.w': { dtype: 'BF16', shape: [2, 2], data: rng.normalF32(4) },
    'd': { dtype: 'F64', shape: [2], data: new Float64Array([0.5, -1]) },
    'ids': { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -5n]) },
    'len': { dtype: 'I32', shape: [], data: new Int32Array([7]) },
    'bytes': { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
    'mask': { dtype: 'BOOL', shape: [1, 2], data: new Uint8Array([1, 0]) },
    'empty': { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
  };
  return serializeSafetensors(t, { format: 'pt', step: '3' });
}

type Mutator = (rng: Rng, base: Uint8Array) => Uint8Array;

function headerOf(base: Uint8Array): { n: number; json: Record<string, unknown> } {
  const n = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(0, true));
  return { n, json: JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n))) as Record<string, unknown> };
}

/** Rebuilds a file from an edited header object and the base file's data area. */
function rebuild(base: Uint8Array, json: unknown): Uint8Array {
  const { n } = headerOf(base);
  return file(JSON.stringify(json), [...base.subarray(8 + n)]);
}

const weird = (rng: Rng): unknown => rng.pick<unknown>([
  -1, 0, 1, 2, 3, 4, 7, 8, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -0, 'x', null, [], {}, true,
  rng.int(0, 200), rng.int(0, 200), rng.int(0, 64),
]);

const mutators: Array<[string, Mutator]> = [
  ['truncate', (rng, b) => b.slice(0, rng.int(0, b.length - 1))],
  ['extend', (rng, b) => { const o = new Uint8Array(b.length + rng.int(1, 16)); o.set(b); return o; }],
  ['header bit flips', (rng, b) => {
    const o = b.slice();
    const n = Number(new DataView(o.buffer).getBigUint64(0, true));
    for (let k = rng.int(1, 4); k > 0; k--) { const i = rng.int(8, 8 + n - 1); o[i]! ^= 1 << rng.int(0, 7); }
    return o;
  }],
  ['random bytes anywhere', (rng, b) => {
    const o = b.slice();
    for (let k = rng.int(1, 6); k > 0; k--) o[rng.int(0, o.length - 1)] = rng.int(0, 255);
    return o;
  }],
  ['length field', (rng, b) => {
    const o = b.slice();
    const { n } = headerOf(b);
    const v = rng.pick([0n, 1n, BigInt(n - 1), BigInt(n + 1), BigInt(n + rng.int(-16, 16)), BigInt(o.length), 2n ** 63n, 2n ** 64n - 1n, BigInt(rng.int(0, 2 ** 31))]);
    o.set(u64le(v < 0n ? 0n : v), 0);
    return o;
  }],
  ['header digit edits', (rng, b) => {
    // change one digit of the JSON (shapes and offsets), keeping the length
    const o = b.slice();
    const { n } = headerOf(b);
    const digits: number[] = [];
    for (let i = 8; i < 8 + n; i++) if (o[i]! >= 0x30 && o[i]! <= 0x39) digits.push(i);
    o[rng.pick(digits)] = 0x30 + rng.int(0, 9);
    return o;
  }],
  ['bad offsets / shapes / dtypes (structured)', (rng, b) => {
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    for (let k = rng.int(1, 3); k > 0; k--) {
      const e = json[rng.pick(names)] as Record<string, unknown>;
      if (typeof e !== 'object' || e === null || Array.isArray(e)) continue; // replaced by an earlier edit
      const what = rng.int(0, 7);
      const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
      if (what === 0) arr(e['data_offsets'])[rng.int(0, 1)] = weird(rng);
      else if (what === 1) arr(e['shape'])[rng.int(0, 2)] = weird(rng);
      else if (what === 2) e['shape'] = rng.pick<unknown>([[], [0], weird(rng), [weird(rng), weird(rng)]]);
      else if (what === 3) e['dtype'] = rng.pick<unknown>(['F32', 'F16', 'BF16', 'F64', 'I64', 'I32', 'U8', 'BOOL', 'I8', 'F8_E4M3', 3]);
      else if (what === 4) e['data_offsets'] = rng.pick<unknown>([[0, 0], [weird(rng), weird(rng)], weird(rng), [1, 2, 3]]);
      else if (what === 5) delete e[rng.pick(['dtype', 'shape', 'data_offsets'])];
      else if (what === 6) json['__metadata__'] = rng.pick<unknown>([{ a: 1 }, 'x', null, { a: 'b' }]);
      else json[rng.pick(names)] = weird(rng);
    }
    return rebuild(b, json);
  }],
  ['move a tensor (size-consistent offsets)', (rng, b) => {
    const { n, json } = headerOf(b);
    const dataLen = b.length - 8 - n;
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    const e = json[rng.pick(names)] as { data_offsets: [number, number] };
    const size = e.data_offsets[1] - e.data_offsets[0];
    const begin = rng.int(0, dataLen - size + rng.int(0, 1) * 8); // sometimes past the end
    e.data_offsets = [begin, begin + size];
    return rebuild(b, json);
  }],
  ['duplicate an entry in the header text', (rng, b) => {
    const { n } = headerOf(b);
    const text = new TextDecoder().decode(b.subarray(8, 8 + n)).trimEnd();
    const m = [...text.matchAll(/"[^"]+":\{"dtype"[^}]*\}/g)];
    const entry = rng.pick(m)[0];
    return file(`${text.slice(0, -1)},${entry}}`, [...b.subarray(8 + n)]);
  }],
  ['swap offsets between tensors', (rng, b) => {
    const { json } = headerOf(b);
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    const a = json[rng.pick(names)] as Record<string, unknown>;
    const c = json[rng.pick(names)] as Record<string, unknown>;
    [a['data_offsets'], c['data_offsets']] = [c['data_offsets'], a['data_offsets']];
    return rebuild(b, json);
  }],
];

describe('seeded mutation test', () => {
  it('12,000 mutated files: each parses consistently or throws SafetensorsError, nothing else', () => {
    const base = baseFile();
    checkConsistent(parseSafetensors(base));
    const rng = makeRng(0x5afe);
    const perKind = new Map<string, { parsed: number; rejected: Map<string, number> }>();
    const N = 12_000; // a hang would hit vitest's per-test timeout
    for (let i = 0; i < N; i++) {
      const [kind, mutate] = mutators[i % mutators.length]!;
      const bytes = mutate(rng, base);
      const stats = perKind.get(kind) ?? { parsed: 0, rejected: new Map<string, number>() };
      perKind.set(kind, stats);
      let result: SafetensorsFile;
      try {
        result = parseSafetensors(bytes, 'mutant.safetensors');
      } catch (err) {
        if (!(err instanceof SafetensorsError)) {
          throw new Error(`mutation #${i} (${kind}) threw ${(err as Error)?.name}: ${(err as Error)?.message}; bytes: ${Buffer.from(bytes).toString('base64')}`);
        }
        if (err.file !== 'mutant.safetensors' || !err.message.startsWith('mutant.safetensors: ')) throw new Error(`mutation #${i}: error does not name the file: ${err.message}`);
        stats.rejected.set(err.code, (stats.rejected.get(err.code) ?? 0) + 1);
        continue;
      }
      checkConsistent(result);
      stats.parsed++;
    }
    // the mutations reach deep into the validation: many codes seen, and some mutants still parse
    const codes = new Set<string>();
    let parsed = 0;
    for (const s of perKind.values()) { parsed += s.parsed; for (const c of s.rejected.keys()) codes.add(c); }
    expect(parsed).toBeGreaterThan(100);
    for (const c of ['file_too_small', 'header_too_large', 'header_out_of_bounds', 'invalid_utf8', 'invalid_json', 'invalid_header', 'unknown_dtype', 'invalid_shape', 'size_mismatch', 'invalid_offset', 'overlapping_offsets', 'data_not_covered', 'duplicate_name', 'invalid_metadata']) {
      expect(codes, c).toContain(c);
    }
  });
});
