// The safe unpickler (lib/data/pickle.ts) against pickles written by Python + numpy
// (test/fixtures/mmsa/make_fixtures.py), hand-built opcode streams, and hostile inputs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { NdArray, NpDType, PickleError, PySet, PyTuple, unpickle, type PyDict, type PyValue } from '../../lib/data/pickle.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'mmsa');
const fixture = (name: string): Uint8Array => {
  const b = readFileSync(join(dir, name));
  return name.endsWith('.gz') ? gunzipSync(b) : b;
};

interface ExpectedArray {
  dtype: string;
  shape: number[];
  values: Array<number | string | boolean | number[]>;
}
const expectedArrays = JSON.parse(readFileSync(join(dir, 'numpy_expected.json'), 'utf8')) as Record<string, ExpectedArray>;

function get(d: PyValue, key: string): PyValue {
  if (!(d instanceof Map)) throw new Error(`not a dict: ${String(d)}`);
  if (!d.has(key)) throw new Error(`no key ${key}`);
  return d.get(key)!;
}

function plain(a: NdArray): unknown[] {
  const out: unknown[] = [];
  const data = a.data as ArrayLike<unknown>;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (a.dtype.kind === 'b') out.push(v === 1);
    else if (a.dtype.kind === 'i' || a.dtype.kind === 'u') out.push(String(v));
    else if (a.dtype.kind === 'f') out.push(v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v);
    else if (v instanceof Uint8Array) out.push([...v]);
    else out.push(v);
  }
  return out;
}

/** Bytes from a mix of numbers and latin-1 strings. */
function bytes(...parts: Array<number | string | Uint8Array>): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else if (typeof p === 'string') for (const c of p) out.push(c.charCodeAt(0));
    else out.push(...p);
  }
  return Uint8Array.from(out);
}

describe('unpickle: numpy arrays and Python values written by Python', () => {
  for (const proto of [2, 4, 5]) {
    it(`protocol ${proto}: every dtype, byte order and memory order matches numpy`, () => {
      const v = unpickle(fixture(`numpy_p${proto}.pkl`));
      const arrays = get(v, 'arrays');
      expect(arrays).toBeInstanceOf(Map);
      for (const [name, exp] of Object.entries(expectedArrays)) {
        const a = get(arrays, name);
        expect(a, name).toBeInstanceOf(NdArray);
        const arr = a as NdArray;
        expect(arr.shape, name).toEqual(exp.shape);
        expect(arr.dtype.str, name).toBe(exp.dtype);
        expect(plain(arr), name).toEqual(exp.values);
      }
      const f4 = get(arrays, 'f4') as NdArray;
      expect(f4.data).toBeInstanceOf(Float32Array);
      expect((get(arrays, 'i8_be') as NdArray).data).toBeInstanceOf(BigInt64Array);
      expect(get(v, 'f64')).toBe(0.25);
      expect(get(v, 'i64')).toBe(-9);
      expect(get(v, 'list')).toEqual([1, 'two', 3.5, null, true, false]);
      expect(get(v, 'tuple')).toEqual(new PyTuple([1, new PyTuple([2, new PyTuple([3])])]));
      const nested = (get(get(v, 'nested'), 'a') as PyValue[])[0]!;
      expect(get(nested, 'b')).toEqual(new Uint8Array([98, 121, 116, 101, 115]));
      expect(get(v, 'big')).toBe(2n ** 70n);
      expect(get(v, 'neg')).toBe(-(2n ** 70n));
      expect(get(v, 's')).toBe('naïve ☃');
      const ik = get(v, 'int_keys') as PyDict;
      expect(ik.get(1)).toBe('one');
      expect(ik.get(-2)).toBe('minus two');
      if (proto !== 2) {
        expect(get(v, 'set')).toEqual(new PySet([1, 2], false));
        expect(get(v, 'frozen')).toEqual(new PySet([3], true));
      }
    });
  }

  it('MMSA fixtures of every protocol and numpy module path load', () => {
    for (const f of ['aligned_p2_f64.pkl', 'aligned_p4_f32_core.pkl', 'unaligned_p5_f32.pkl', 'unaligned_p2_f64_core.pkl', 'unaligned_p5_f64_core.pkl']) {
      const v = unpickle(fixture(f));
      const train = get(v, 'train');
      const text = get(train, 'text') as NdArray;
      expect(text.shape, f).toEqual([3, 8, 6]);
      expect(text.dtype.str, f).toBe(f.includes('f64') ? '<f8' : '<f4');
      const ids = get(train, 'id') as NdArray;
      expect(ids.dtype.kind).toBe('O');
      expect(ids.data).toEqual(['vidt0$_$1', 'vidt1$_$2', 'vidt2$_$3']);
    }
  });

  it('the stream variants use what they claim (protocol, module path, opcodes)', () => {
    const has = (f: string, s: string): boolean => Buffer.from(fixture(f)).includes(Buffer.from(s, 'latin1'));
    expect(has('aligned_p2_f64.pkl', 'cnumpy._core.multiarray\n_reconstruct\n')).toBe(true);
    expect(has('aligned_p2_f64.pkl', 'c_codecs\nencode\n')).toBe(true);
    expect(has('unaligned_p2_f64_core.pkl', 'cnumpy.core.multiarray\n_reconstruct\n')).toBe(true);
    expect(has('aligned_p4_f32_core.pkl', '\x8c\x15numpy.core.multiarray')).toBe(true);
    expect(has('unaligned_p5_f32.pkl', '\x8c\x13numpy._core.numeric')).toBe(true);
    expect(has('unaligned_p5_f64_core.pkl', '\x8c\x12numpy.core.numeric')).toBe(true);
    expect(Uint8Array.from(fixture('unaligned_p5_f32.pkl').subarray(0, 3))).toEqual(new Uint8Array([0x80, 5, 0x95]));
    expect(fixture('aligned_p4_f32_core.pkl')[1]).toBe(4);
  });

  it('hand-built streams: ints, floats, memo, MARK forms, BINUNICODE8, dtype via NEWOBJ', () => {
    const le = (n: number, width: number): number[] => Array.from({ length: width }, (_, i) => Math.floor(n / 256 ** i) % 256);
    const v = unpickle(bytes(
      0x80, 4, '(', // MARK
      'K', 7, 'M', ...le(65535, 2), 'J', ...le(0xfffffffe, 4), // BININT1, BININT2, BININT -2
      0x8a, 2, 0xff, 0x7f, // LONG1 32767
      0x8a, 0, // LONG1 0
      0x8b, ...le(1, 4), 0xff, // LONG4 -1
      'G', 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18, // BINFLOAT pi
      'I01\n', 'I-5\n', 'L12345678901234567890L\n', 'F2.5\n', // protocol 0 forms
      0x8d, ...le(2, 8), 'hi', 0x94, // BINUNICODE8 + MEMOIZE (memo 0)
      'h', 0, // BINGET 0
      'B', ...le(3, 4), 'abc', // BINBYTES
      0x8e, ...le(1, 8), 'z', // BINBYTES8
      '(', 'K', 1, 'K', 2, 'l', // LIST via MARK
      '(', 'U', 1, 'k', 'K', 9, 'd', // DICT via MARK with SHORT_BINSTRING key
      'N', '0', // NONE, POP
      '2', // DUP (duplicates the dict)
      't', '.', // TUPLE, STOP
    ));
    expect(v).toBeInstanceOf(PyTuple);
    const items = (v as PyTuple).items;
    expect(items.slice(0, 4)).toEqual([7, 65535, -2, 32767]);
    expect(items[4]).toBe(0);
    expect(items[5]).toBe(-1);
    expect(items[6]).toBeCloseTo(Math.PI, 15);
    expect(items.slice(7, 11)).toEqual([true, -5, 12345678901234567890n, 2.5]);
    expect(items.slice(11, 13)).toEqual(['hi', 'hi']);
    expect(items[13]).toEqual(new Uint8Array([97, 98, 99]));
    expect(items[14]).toEqual(new Uint8Array([122]));
    expect(items[15]).toEqual([1, 2]);
    expect(items[16]).toEqual(new Map([['k', 9]]));
    expect(items[17]).toBe(items[16]);
    // numpy.dtype via NEWOBJ, then BUILD with a big-endian state
    const dt = unpickle(bytes(0x80, 2, 'cnumpy\ndtype\n', 'X', 2, 0, 0, 0, 'i8', 0x89, 0x88, 0x87, 0x81, '(', 'K', 3, 'X', 1, 0, 0, 0, '>', 'N', 'N', 'N', 'J', 255, 255, 255, 255, 'J', 255, 255, 255, 255, 'K', 0, 't', 'b', '.'));
    expect(dt).toBeInstanceOf(NpDType);
    expect((dt as NpDType).str).toBe('>i8');
  });
});

describe('unpickle: hostile and malformed input is refused without running anything', () => {
  const markers = ['/tmp/merclip-pwned-os-system', '/tmp/merclip-pwned-eval', '/tmp/merclip-pwned-popen'];

  it.each([
    ['evil_os_system.pkl', 'os.system'],
    ['evil_builtins_eval.pkl', 'builtins.eval'],
    ['evil_subprocess_popen.pkl', 'subprocess.Popen'],
  ])('%s is refused naming %s', (file, global) => {
    const before = markers.map((m) => existsSync(m));
    expect(() => unpickle(fixture(file))).toThrow(PickleError);
    expect(() => unpickle(fixture(file))).toThrow(new RegExp(`global '${global.replace('.', '\\.')}', which is not allowed`));
    expect(markers.map((m) => existsSync(m))).toEqual(before);
  });

  it('a global hidden from the pre-scan (STACK_GLOBAL after NONE/POP) is refused at the opcode', () => {
    const s = bytes(0x80, 4, 0x8c, 2, 'os', 0x8c, 6, 'system', 'N', '0', 0x93, 0x8c, 4, 'echo', 0x85, 'R', '.');
    expect(() => unpickle(s)).toThrow(/global 'os\.system', which is not allowed/);
  });

  it('other disallowed forms: INST, persistent ids, extension registry, NEXT_BUFFER, calling ndarray', () => {
    expect(() => unpickle(bytes(0x80, 2, '(', 'ios\nsystem\n', '.'))).toThrow(/global 'os\.system'/);
    expect(() => unpickle(bytes(0x80, 2, '(', 'inumpy\ndtype\n', '.'))).toThrow(/INST/);
    expect(() => unpickle(bytes(0x80, 2, 'Pabc\n', '.'))).toThrow(/persistent ids/);
    expect(() => unpickle(bytes(0x80, 2, 'N', 'Q', '.'))).toThrow(/persistent ids/);
    expect(() => unpickle(bytes(0x80, 2, 0x82, 1, '.'))).toThrow(/extension registry/);
    expect(() => unpickle(bytes(0x80, 5, 0x97, '.'))).toThrow(/out-of-band/);
    expect(() => unpickle(bytes(0x80, 2, 'cnumpy\nndarray\n', 'K', 5, 0x85, 'R', '.'))).toThrow(/subtype argument/);
    expect(() => unpickle(bytes(0x80, 2, 'c__builtin__\nbytes\n', 'K', 100, 0x85, 'R', '.'))).toThrow(/no arguments/);
    expect(() => unpickle(bytes(0x80, 6, 'N', '.'))).toThrow(/protocol 6/);
    expect(() => unpickle(bytes(0x80, 2, 0xff, '.'))).toThrow(/invalid pickle opcode 0xff/);
  });

  it('a truncated stream is refused; so is every prefix of a real pickle', () => {
    expect(() => unpickle(fixture('truncated.pkl'))).toThrow(/truncated pickle/);
    for (const f of ['aligned_p2_f64.pkl', 'unaligned_p5_f32.pkl']) {
      const full = fixture(f);
      for (let n = 0; n < full.length; n += 7) {
        expect(() => unpickle(full.subarray(0, n)), `${f}[0:${n}]`).toThrow(PickleError);
      }
    }
  });

  it('a 10^6-deep nesting is refused quickly (tuples, MARKs, lists through the memo)', () => {
    const t0 = performance.now();
    expect(() => unpickle(fixture('deep_nesting.pkl.gz'))).toThrow(/nested deeper than 1000 levels/);
    const n = 1_000_000;
    const marks = new Uint8Array(n + 3);
    marks.set([0x80, 2]);
    marks.fill(0x28, 2);
    marks[n + 2] = 0x2e;
    expect(() => unpickle(marks)).toThrow(/MARKs nested deeper than 1000/);
    // [] q0; then repeatedly: [] h0 a q0 0 → x = [x], constant stack and memo
    const parts: number[] = [0x80, 2, 0x5d, 0x71, 0];
    for (let i = 0; i < 200_000; i++) parts.push(0x5d, 0x68, 0, 0x61, 0x71, 0, 0x30);
    parts.push(0x68, 0, 0x2e);
    expect(() => unpickle(Uint8Array.from(parts))).toThrow(/nested deeper than 1000 levels/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('size bombs: shapes larger than the bytes present, huge lengths, memo amplification', () => {
    // _frombuffer with 8 bytes but a shape of 10^6 × 10^6 float32
    const fb = bytes(0x80, 4, 0x8c, 19, 'numpy._core.numeric', 0x8c, 11, '_frombuffer', 0x93, '(', 'C', 8, 0, 0, 0, 0, 0, 0, 0, 0,
      0x8c, 5, 'numpy', 0x8c, 5, 'dtype', 0x93, 0x8c, 2, 'f4', 0x89, 0x88, 0x87, 'R',
      'J', 0x40, 0x42, 0x0f, 0, 'J', 0x40, 0x42, 0x0f, 0, 0x86, 0x8c, 1, 'C', 't', 'R', '.');
    expect(() => unpickle(fb)).toThrow(/needs 4000000000000 bytes, the buffer has 8/);
    // BINBYTES8 claiming 2^60 bytes
    expect(() => unpickle(bytes(0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10, '.'))).toThrow(/truncated pickle/);
    // BINUNICODE claiming 4 GB
    expect(() => unpickle(bytes(0x80, 2, 'X', 255, 255, 255, 255, 'a', '.'))).toThrow(/truncated pickle/);
    // LONG4 of 1 MB
    const long = new Uint8Array(8 + (1 << 20));
    long.set([0x80, 2, 0x8b, 0, 0, 0x10, 0]);
    long[long.length - 1] = 0x2e;
    expect(() => unpickle(long)).toThrow(/too large/);
    // one 64 KiB buffer decoded by _frombuffer 2000 times through the memo (128 MB from 70 KB)
    const head = bytes(0x80, 4, 0x8c, 19, 'numpy._core.numeric', 0x8c, 11, '_frombuffer', 0x93, 0x94, // memo 0: fn
      0x8c, 5, 'numpy', 0x8c, 5, 'dtype', 0x93, 0x8c, 2, 'u1', 0x89, 0x88, 0x87, 'R', 0x94, // memo 1: dtype
      'B', 0, 0, 1, 0, new Uint8Array(65536), 0x94, // memo 2: 64 KiB
      'J', 0, 0, 1, 0, 0x85, 0x94, // memo 3: shape (65536,)
      0x8c, 1, 'C', 0x94, // memo 4: 'C'
      '(');
    const one = bytes('h', 0, '(', 'h', 2, 'h', 1, 'h', 3, 'h', 4, 't', 'R');
    const body = new Uint8Array(head.length + one.length * 2000 + 2);
    body.set(head);
    for (let i = 0; i < 2000; i++) body.set(one, head.length + i * one.length);
    body.set([0x6c, 0x2e], head.length + one.length * 2000);
    expect(() => unpickle(body, { maxAllocBytes: 32 << 20 })).toThrow(/size bomb/);
    expect(() => unpickle(body, { maxStack: 1000 })).toThrow(/stack exceeds 1000/);
  });

  it('malformed structure: underflow, bad memo, wrong BUILD/REDUCE targets, leftovers, cycles', () => {
    expect(() => unpickle(bytes(0x80, 2, 'a', '.'))).toThrow(/stack underflow/);
    expect(() => unpickle(bytes(0x80, 2, 'h', 5, '.'))).toThrow(/memo key 5/);
    expect(() => unpickle(bytes(0x80, 2, 't', '.'))).toThrow(/without a MARK/);
    expect(() => unpickle(bytes(0x80, 2, 'N', 'N', '.'))).toThrow(/2 items on the stack/);
    expect(() => unpickle(bytes(0x80, 2, ']', 'N', 'b', '.'))).toThrow(/BUILD on list/);
    expect(() => unpickle(bytes(0x80, 2, 'N', ')', 'R', '.'))).toThrow(/not callable/);
    expect(() => unpickle(bytes(0x80, 2, '}', ']', 'N', 's', '.'))).toThrow(/unsupported dict key type/);
    expect(() => unpickle(bytes(0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'))).toThrow(/reference cycle/);
    expect(() => unpickle(new Uint8Array(0))).toThrow(/empty input/);
    // _reconstruct state whose data does not match the shape; an object array with too few items
    const rec = (n: number, dtype: string, data: Array<number | string>): Uint8Array => bytes(0x80, 2,
      'cnumpy._core.multiarray\n_reconstruct\n', 'cnumpy\nndarray\n', 'K', 0, 0x85, 'C', 1, 'b', 0x87, 'R',
      '(', 'K', 1, 'K', n, 0x85, 'cnumpy\ndtype\n', 'X', dtype.length, 0, 0, 0, dtype, 0x89, 0x88, 0x87, 'R', 0x89, ...data, 't', 'b', '.');
    expect(() => unpickle(rec(5, 'f4', ['C', 4, 'abcd']))).toThrow(/shape \[5\] of <f4 needs 20 bytes, the data has 4/);
    expect(() => unpickle(rec(3, 'O8', [']', 'N', 'a']))).toThrow(/needs 3 objects, the list has 1/);
    expect(() => unpickle(rec(1, 'V8', ['C', 8, '12345678']))).toThrow(/unsupported numpy dtype 'V8'/);
    const ok = unpickle(rec(2, 'i2', ['C', 4, 1, 0, 0xff, 0xff]));
    expect(ok).toBeInstanceOf(NdArray);
    expect([...((ok as NdArray).data as Int16Array)]).toEqual([1, -1]);
  });

  it('random corruption of real pickles gives a value or a PickleError, never anything else', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const f of ['numpy_p2.pkl', 'numpy_p5.pkl', 'aligned_p4_f32_core.pkl']) {
      const orig = fixture(f);
      for (let k = 0; k < 300; k++) {
        const b = Uint8Array.from(orig);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let j = 0; j < flips; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        try {
          unpickle(b);
        } catch (e) {
          expect(e, `${f} mutation ${k}`).toBeInstanceOf(PickleError);
        }
      }
    }
  });
});
