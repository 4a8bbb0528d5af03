// lib/data/pickle.ts — a minimal, safe Python unpickler for data files (dicts, lists, tuples,
// strings, bytes, numbers and numpy arrays), as written by `pickle.dump` with protocols 2–5.
//
// Safety model. Nothing in a pickle is ever "run": this is an interpreter of the pickle opcode
// language in which the only callables are JavaScript re-implementations of a fixed allow-list of
// numpy/codec globals:
//
//   numpy.core.multiarray._reconstruct, numpy._core.multiarray._reconstruct   (ndarray.__reduce__)
//   numpy.ndarray                       (only as _reconstruct's subtype argument)
//   numpy.dtype                         (dtype.__reduce__: dtype('f4', False, True) + BUILD state)
//   numpy.core.numeric._frombuffer, numpy._core.numeric._frombuffer   (protocol 5 arrays)
//   _codecs.encode                      (how protocol 2 stores bytes: encode(latin-1 str, 'latin1'))
//   numpy.core.multiarray.scalar, numpy._core.multiarray.scalar       (numpy scalars, e.g. np.float64)
//   builtins.bytes / __builtin__.bytes  (protocol 2's empty bytes: bytes() with no arguments only)
//
// Any other global (os.system, builtins.eval, subprocess.Popen, …) is refused with a PickleError
// naming it: first by a scan of the whole stream that runs before any object is built (it reads
// every GLOBAL / INST name and resolves STACK_GLOBAL's two strings where they are literals or memo
// references), and again at the GLOBAL / STACK_GLOBAL opcode itself for anything the scan could
// not resolve — always before the global could be used. Persistent ids, the extension registry,
// INST/OBJ instance creation and out-of-band buffers are refused too.
//
// Bounds (a nesting or size bomb is refused, not followed): the stack, the MARK depth, the memo
// size and the nesting depth of the built objects are capped; every length read from the stream
// is checked against the bytes actually present; an array's element count must match the bytes
// (or list items) it is built from exactly; and the bytes allocated for arrays and decoded byte
// strings are counted against a budget (by default 4× the input plus 256 MiB), so memo references
// cannot multiply a buffer. Work is linear in the input plus the (budgeted) allocations. The result
// is checked for reference cycles and its depth once more at the end. Every failure — a malformed,
// truncated or hostile stream — is a PickleError with the byte offset, never a crash or a partial
// result.
//
// Python → JavaScript: None → null; bool → boolean; int → number (bigint beyond 2^53); float →
// number; str → string; bytes / bytearray → Uint8Array (a view into the input); list → Array;
// tuple → PyTuple; dict → Map (keys: str, int, float, bool, None); set / frozenset → PySet;
// numpy.ndarray → NdArray (C order, host byte order, data copied out of the input); numpy.dtype →
// NpDType; numpy scalars → number / bigint / boolean (or the object for dtype O).
//
// Size: one self-contained pickle virtual machine (protocols 0–5, every opcode, the numpy
// reconstruction and its validation); the opcodes share the VM's stack and memo.

/** A malformed, truncated, unsupported or hostile pickle. `offset` is the byte position. */
export class PickleError extends Error {
  override name = 'PickleError';
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
  }
}

/** A Python tuple. */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
  get length(): number {
    return this.items.length;
  }
}

/** A Python set or frozenset (items in insertion order; no hashing semantics). */
export class PySet {
  constructor(
    readonly items: PyValue[],
    readonly frozen: boolean,
  ) {}
}

/** A reference to one of the allowed globals, as it sits on the stack before being called. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly kind: GlobalKind,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export type NpKind = 'b' | 'i' | 'u' | 'f' | 'O' | 'U' | 'S';

/** A numpy dtype: kind (b bool, i/u int, f float, O object, U unicode, S bytes), size, byte order. */
export class NpDType {
  constructor(
    readonly kind: NpKind,
    public itemsize: number,
    public byteorder: '<' | '>' | '|',
  ) {}
  /** numpy's dtype.str, e.g. '<f4', '|u1', '|O'. */
  get str(): string {
    return this.kind === 'O' ? '|O' : `${this.byteorder}${this.kind}${this.kind === 'U' ? this.itemsize / 4 : this.itemsize}`;
  }
}

export type NumericData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A numpy array: `data` holds the elements in C (row-major) order and host byte order.
 * Numeric dtypes → the matching typed array (bool → Uint8Array of 0/1, int64 → BigInt64Array);
 * 'O' → PyValue[]; 'U' → string[]; 'S' → Uint8Array[] (trailing NULs stripped, as numpy does).
 */
export class NdArray {
  constructor(
    public dtype: NpDType,
    public shape: number[],
    public data: NumericData | PyValue[] | string[] | Uint8Array[],
  ) {}
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

export type PyKey = string | number | bigint | boolean | null;
export type PyDict = Map<PyKey, PyValue>;
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyTuple
  | PyDict
  | PySet
  | NdArray
  | NpDType
  | PyGlobal;

export interface UnpickleOptions {
  /** Maximum nesting depth of containers (and of MARKs). Default 1000 (CPython's recursion limit). */
  maxDepth?: number;
  /** Maximum number of items on the stack. Default 262144 (the pickler batches lists/dicts by 1000). */
  maxStack?: number;
  /** Maximum number of memo entries. Default 4194304. */
  maxMemo?: number;
  /** Maximum bytes allocated for arrays and decoded bytes. Default 4 × input length + 256 MiB. */
  maxAllocBytes?: number;
}

type GlobalKind = 'reconstruct' | 'ndarray' | 'dtype' | 'frombuffer' | 'encode' | 'scalar' | 'bytes';

const ALLOWED_GLOBALS: ReadonlyMap<string, GlobalKind> = new Map<string, GlobalKind>([
  ['numpy.core.multiarray._reconstruct', 'reconstruct'],
  ['numpy._core.multiarray._reconstruct', 'reconstruct'],
  ['numpy.ndarray', 'ndarray'],
  ['numpy.dtype', 'dtype'],
  ['numpy.core.numeric._frombuffer', 'frombuffer'],
  ['numpy._core.numeric._frombuffer', 'frombuffer'],
  ['_codecs.encode', 'encode'],
  ['numpy.core.multiarray.scalar', 'scalar'],
  ['numpy._core.multiarray.scalar', 'scalar'],
  ['builtins.bytes', 'bytes'],
  ['__builtin__.bytes', 'bytes'],
]);

/** The globals a pickle may name (module.name). */
export const ALLOWED_PICKLE_GLOBALS: readonly string[] = [...ALLOWED_GLOBALS.keys()];

function refuseGlobal(module: string, name: string, offset: number): never {
  const shown = `${module}.${name}`.slice(0, 200);
  throw new PickleError(
    `pickle refers to the global '${shown}', which is not allowed (only numpy array reconstruction is supported); nothing was loaded or executed`,
    offset,
  );
}

function checkGlobal(module: string, name: string, offset: number): GlobalKind {
  const kind = ALLOWED_GLOBALS.get(`${module}.${name}`);
  if (kind === undefined) refuseGlobal(module, name, offset);
  return kind;
}

// ---------------------------------------------------------------------------------------------
// Opcodes

const OP = {
  MARK: 0x28, STOP: 0x2e, POP: 0x30, POP_MARK: 0x31, DUP: 0x32, FLOAT: 0x46, INT: 0x49, BININT: 0x4a,
  BININT1: 0x4b, LONG: 0x4c, BININT2: 0x4d, NONE: 0x4e, PERSID: 0x50, BINPERSID: 0x51, REDUCE: 0x52,
  STRING: 0x53, BINSTRING: 0x54, SHORT_BINSTRING: 0x55, UNICODE: 0x56, BINUNICODE: 0x58, APPEND: 0x61,
  BUILD: 0x62, GLOBAL: 0x63, DICT: 0x64, EMPTY_DICT: 0x7d, APPENDS: 0x65, GET: 0x67, BINGET: 0x68,
  INST: 0x69, LONG_BINGET: 0x6a, LIST: 0x6c, EMPTY_LIST: 0x5d, OBJ: 0x6f, PUT: 0x70, BINPUT: 0x71,
  LONG_BINPUT: 0x72, SETITEM: 0x73, TUPLE: 0x74, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, BINFLOAT: 0x47,
  PROTO: 0x80, NEWOBJ: 0x81, EXT1: 0x82, EXT2: 0x83, EXT4: 0x84, TUPLE1: 0x85, TUPLE2: 0x86,
  TUPLE3: 0x87, NEWTRUE: 0x88, NEWFALSE: 0x89, LONG1: 0x8a, LONG4: 0x8b, BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43, SHORT_BINUNICODE: 0x8c, BINUNICODE8: 0x8d, BINBYTES8: 0x8e, EMPTY_SET: 0x8f,
  ADDITEMS: 0x90, FROZENSET: 0x91, NEWOBJ_EX: 0x92, STACK_GLOBAL: 0x93, MEMOIZE: 0x94, FRAME: 0x95,
  BYTEARRAY8: 0x96, NEXT_BUFFER: 0x97, READONLY_BUFFER: 0x98,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([k, v]) => [v, k]));
function opName(op: number): string {
  return OP_NAMES.get(op) ?? `0x${op.toString(16).padStart(2, '0')}`;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LARGE_STRING_BYTES = 1 << 24; // strings above this stay UTF-8 bytes until needed
const MAX_LINE = 1 << 16; // protocol-0 text arguments (GLOBAL names, INT, …)
const MAX_LONG_BYTES = 4096; // LONG1/LONG4 payload

/** A str too large to decode eagerly: its encoded bytes (UTF-8, or latin-1 for BINSTRING). */
class LargeStr {
  constructor(
    readonly bytes: Uint8Array,
    readonly latin1: boolean,
  ) {}
}

const utf8 = new TextDecoder('utf-8');

function decodeLatin1(b: Uint8Array): string {
  // TextDecoder('latin1') is windows-1252 per the WHATWG spec; map bytes 1:1 instead.
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new PickleError(`truncated pickle: ${what} needs ${n} bytes but only ${this.remaining} remain`, this.pos);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf[this.pos]! | (this.buf[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    const v = (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16)) + b[p + 3]! * 0x1000000;
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    const v = this.u32(what);
    return v >= 0x80000000 ? v - 0x100000000 : v;
  }
  /** An 8-byte unsigned length; anything that cannot fit in the remaining input is truncation. */
  u64(what: string): number {
    this.need(8, what);
    const lo = this.u32(what);
    const hi = this.u32(what);
    if (hi >= 0x200000) return Number.MAX_SAFE_INTEGER; // ≥ 2^53: certainly larger than the input
    return hi * 0x100000000 + lo;
  }
  f64be(what: string): number {
    this.need(8, what);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, false);
    this.pos += 8;
    return v;
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  line(what: string): string {
    const end = Math.min(this.buf.length, this.pos + MAX_LINE);
    for (let i = this.pos; i < end; i++) {
      if (this.buf[i] === 0x0a) {
        const s = decodeLatin1(this.buf.subarray(this.pos, i));
        this.pos = i + 1;
        return s;
      }
    }
    if (end === this.buf.length) throw new PickleError(`truncated pickle: ${what} has no terminating newline`, this.pos);
    throw new PickleError(`${what} is longer than ${MAX_LINE} bytes`, this.pos);
  }
}

function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return toIntValue(v);
}

function toIntValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntLine(s: string, offset: number, what: string): number | bigint {
  const t = s.endsWith('L') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(t)) throw new PickleError(`${what}: not an integer: '${t.slice(0, 40)}'`, offset);
  return toIntValue(BigInt(t));
}

// ---------------------------------------------------------------------------------------------
// Pass 1: scan every opcode (no objects built) — validates lengths and refuses globals early.

interface ScanResult {
  protocol: number;
  opcodes: number;
  /** Offset just past STOP. */
  end: number;
}

function scan(buf: Uint8Array): ScanResult {
  const r = new Reader(buf);
  let protocol = 0;
  let opcodes = 0;
  // A tiny symbolic model to resolve STACK_GLOBAL: the last two pushed values when they are
  // strings, and which memo entries hold strings.
  let sym: Array<string | undefined> = [];
  const memoStr = new Map<number, string | undefined>();
  const pushSym = (s: string | undefined): void => {
    sym.push(s);
    if (sym.length > 2) sym = sym.slice(-2);
  };
  const smallStr = (b: Uint8Array, latin1: boolean): string | undefined =>
    b.length <= 1024 ? (latin1 ? decodeLatin1(b) : utf8.decode(b)) : undefined;
  for (;;) {
    const at = r.pos;
    if (r.remaining === 0) throw new PickleError('truncated pickle: the stream ends before STOP', at);
    const op = r.buf[r.pos++]!;
    opcodes++;
    switch (op) {
      case OP.STOP:
        return { protocol, opcodes, end: r.pos };
      case OP.PROTO:
        protocol = r.u8('PROTO');
        if (protocol > 5) throw new PickleError(`unsupported pickle protocol ${protocol} (2–5 are supported)`, at);
        continue;
      case OP.FRAME: {
        const n = r.u64('FRAME');
        if (n > r.remaining) throw new PickleError(`truncated pickle: FRAME of ${n} bytes but only ${r.remaining} remain`, at);
        continue;
      }
      case OP.MEMOIZE:
        memoStr.set(memoStr.size, sym[sym.length - 1]);
        continue;
      case OP.BINPUT:
        memoStr.set(r.u8('BINPUT'), sym[sym.length - 1]);
        continue;
      case OP.LONG_BINPUT:
        memoStr.set(r.u32('LONG_BINPUT'), sym[sym.length - 1]);
        continue;
      case OP.PUT: {
        const idx = parseIntLine(r.line('PUT'), at, 'PUT');
        memoStr.set(Number(idx), sym[sym.length - 1]);
        continue;
      }
      case OP.BINGET:
        pushSym(memoStr.get(r.u8('BINGET')));
        continue;
      case OP.LONG_BINGET:
        pushSym(memoStr.get(r.u32('LONG_BINGET')));
        continue;
      case OP.GET:
        pushSym(memoStr.get(Number(parseIntLine(r.line('GET'), at, 'GET'))));
        continue;
      case OP.SHORT_BINUNICODE:
        pushSym(smallStr(r.bytes(r.u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'), false));
        continue;
      case OP.BINUNICODE:
        pushSym(smallStr(r.bytes(r.u32('BINUNICODE'), 'BINUNICODE'), false));
        continue;
      case OP.BINUNICODE8:
        pushSym(smallStr(r.bytes(r.u64('BINUNICODE8'), 'BINUNICODE8'), false));
        continue;
      case OP.SHORT_BINSTRING:
        pushSym(smallStr(r.bytes(r.u8('SHORT_BINSTRING'), 'SHORT_BINSTRING'), true));
        continue;
      case OP.BINSTRING: {
        const n = r.i32('BINSTRING');
        if (n < 0) throw new PickleError(`BINSTRING with negative length ${n}`, at);
        pushSym(smallStr(r.bytes(n, 'BINSTRING'), true));
        continue;
      }
      case OP.GLOBAL:
      case OP.INST: {
        const module = r.line(`${opName(op)} module`);
        const name = r.line(`${opName(op)} name`);
        checkGlobal(module, name, at);
        if (op === OP.INST) throw new PickleError('unsupported opcode INST (instance creation)', at);
        break;
      }
      case OP.STACK_GLOBAL: {
        const [m, n] = sym.length === 2 ? sym : [undefined, undefined];
        if (m !== undefined && n !== undefined) checkGlobal(m, n, at);
        break;
      }
      // opcodes with fixed-size or line arguments
      case OP.BININT1: r.u8('BININT1'); break;
      case OP.BININT2: r.u16('BININT2'); break;
      case OP.BININT: r.u32('BININT'); break;
      case OP.BINFLOAT: r.bytes(8, 'BINFLOAT'); break;
      case OP.LONG1: r.bytes(r.u8('LONG1'), 'LONG1'); break;
      case OP.LONG4: {
        const n = r.i32('LONG4');
        if (n < 0) throw new PickleError(`LONG4 with negative length ${n}`, at);
        if (n > MAX_LONG_BYTES) throw new PickleError(`integer of ${n} bytes is too large (limit ${MAX_LONG_BYTES})`, at);
        r.bytes(n, 'LONG4');
        break;
      }
      case OP.INT: case OP.LONG: case OP.FLOAT: r.line(opName(op)); break;
      case OP.SHORT_BINBYTES: r.bytes(r.u8('SHORT_BINBYTES'), 'SHORT_BINBYTES'); break;
      case OP.BINBYTES: r.bytes(r.u32('BINBYTES'), 'BINBYTES'); break;
      case OP.BINBYTES8: r.bytes(r.u64('BINBYTES8'), 'BINBYTES8'); break;
      case OP.BYTEARRAY8: r.bytes(r.u64('BYTEARRAY8'), 'BYTEARRAY8'); break;
      // argument-less opcodes
      case OP.MARK: case OP.POP: case OP.POP_MARK: case OP.DUP: case OP.NONE: case OP.REDUCE:
      case OP.APPEND: case OP.BUILD: case OP.DICT: case OP.EMPTY_DICT: case OP.APPENDS: case OP.LIST:
      case OP.EMPTY_LIST: case OP.SETITEM: case OP.TUPLE: case OP.EMPTY_TUPLE: case OP.SETITEMS:
      case OP.NEWOBJ: case OP.NEWOBJ_EX: case OP.TUPLE1: case OP.TUPLE2: case OP.TUPLE3: case OP.NEWTRUE:
      case OP.NEWFALSE: case OP.EMPTY_SET: case OP.ADDITEMS: case OP.FROZENSET: case OP.READONLY_BUFFER:
        break;
      case OP.PERSID: case OP.BINPERSID:
        throw new PickleError(`unsupported opcode ${opName(op)} (persistent ids)`, at);
      case OP.EXT1: case OP.EXT2: case OP.EXT4:
        throw new PickleError(`unsupported opcode ${opName(op)} (copyreg extension registry)`, at);
      case OP.OBJ:
        throw new PickleError('unsupported opcode OBJ (instance creation)', at);
      case OP.NEXT_BUFFER:
        throw new PickleError('unsupported opcode NEXT_BUFFER (out-of-band buffers are not used in a pickle file)', at);
      case OP.STRING: case OP.UNICODE:
        throw new PickleError(`unsupported protocol-0 opcode ${opName(op)}`, at);
      default:
        throw new PickleError(`invalid pickle opcode ${opName(op)}`, at);
    }
    sym = [undefined, undefined];
  }
}

// ---------------------------------------------------------------------------------------------
// numpy helpers

function shapeProduct(shape: number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > Number.MAX_SAFE_INTEGER) return Infinity;
  }
  return n;
}

function parseDTypeSpec(spec: string, offset: number): NpDType {
  const m = /^([<>|=])?([a-zA-Z?])(\d*)$/.exec(spec);
  if (!m) throw new PickleError(`unsupported numpy dtype '${spec.slice(0, 40)}'`, offset);
  const order = (m[1] ?? '=') as '<' | '>' | '|' | '=';
  const code = m[2]!;
  const size = m[3] === '' || m[3] === undefined ? undefined : Number(m[3]);
  let kind: NpKind;
  let itemsize: number;
  const chars: Record<string, [NpKind, number]> = {
    b: ['i', 1], B: ['u', 1], '?': ['b', 1], h: ['i', 2], H: ['u', 2], i: ['i', 4], I: ['u', 4],
    l: ['i', 8], L: ['u', 8], q: ['i', 8], Q: ['u', 8], f: ['f', 4], d: ['f', 8], O: ['O', 8],
  };
  if (size === undefined) {
    const c = chars[code];
    if (!c) throw new PickleError(`unsupported numpy dtype '${spec}'`, offset);
    [kind, itemsize] = c;
  } else {
    if (code === 'b' && size === 1) kind = 'b';
    else if (code === 'i' || code === 'u' || code === 'f' || code === 'O' || code === 'U' || code === 'S') kind = code;
    else throw new PickleError(`unsupported numpy dtype '${spec}' (supported: bool, int8–64, uint8–64, float32/64, object, U, S)`, offset);
    itemsize = kind === 'U' ? size * 4 : kind === 'O' ? 8 : size;
    const ok =
      kind === 'i' || kind === 'u' ? [1, 2, 4, 8].includes(size) : kind === 'f' ? size === 4 || size === 8 : true;
    if (!ok) throw new PickleError(`unsupported numpy dtype '${spec}'`, offset);
  }
  const byteorder = itemsize === 1 || kind === 'O' || kind === 'S' || order === '|' ? '|' : order === '=' ? (LITTLE_ENDIAN_HOST ? '<' : '>') : order;
  return new NpDType(kind, itemsize, byteorder);
}

function allocArray(kind: NpKind, itemsize: number, buf: ArrayBuffer): NumericData {
  switch (`${kind}${itemsize}`) {
    case 'f4': return new Float32Array(buf);
    case 'f8': return new Float64Array(buf);
    case 'i1': return new Int8Array(buf);
    case 'u1': case 'b1': return new Uint8Array(buf);
    case 'i2': return new Int16Array(buf);
    case 'u2': return new Uint16Array(buf);
    case 'i4': return new Int32Array(buf);
    case 'u4': return new Uint32Array(buf);
    case 'i8': return new BigInt64Array(buf);
    case 'u8': return new BigUint64Array(buf);
    default: throw new PickleError(`unsupported numpy dtype ${kind}${itemsize}`);
  }
}

/** Decode `count` elements of `dt` from raw bytes (in the stream's order) into host order. */
function decodeElements(dt: NpDType, raw: Uint8Array, count: number): NdArray['data'] {
  const size = dt.itemsize;
  if (dt.kind === 'U') {
    const out: string[] = new Array<string>(count);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const le = dt.byteorder !== '>';
    for (let i = 0; i < count; i++) {
      let s = '';
      const cps: number[] = [];
      for (let k = 0; k < size; k += 4) {
        const cp = dv.getUint32(i * size + k, le);
        if (cp > 0x10ffff) throw new PickleError(`invalid code point ${cp} in a numpy unicode array`);
        cps.push(cp);
      }
      while (cps.length > 0 && cps[cps.length - 1] === 0) cps.pop();
      for (let k = 0; k < cps.length; k += 4096) s += String.fromCodePoint(...cps.slice(k, k + 4096));
      out[i] = s;
    }
    return out;
  }
  if (dt.kind === 'S') {
    const out: Uint8Array[] = new Array<Uint8Array>(count);
    for (let i = 0; i < count; i++) {
      let e = (i + 1) * size;
      while (e > i * size && raw[e - 1] === 0) e--;
      out[i] = raw.slice(i * size, e);
    }
    return out;
  }
  const buf = new ArrayBuffer(count * size);
  const bytes = new Uint8Array(buf);
  const swap = size > 1 && dt.byteorder !== '|' && (dt.byteorder === '<') !== LITTLE_ENDIAN_HOST;
  if (!swap) {
    bytes.set(raw.subarray(0, count * size));
  } else {
    for (let i = 0; i < count * size; i += size) {
      for (let k = 0; k < size; k++) bytes[i + k] = raw[i + size - 1 - k]!;
    }
  }
  if (dt.kind === 'b') {
    for (let i = 0; i < count; i++) if (bytes[i]! > 1) bytes[i] = 1;
  }
  return allocArray(dt.kind, size, buf);
}

type AnyData = NdArray['data'];

/** Copy `src` (elements addressed by `srcStrides`, in elements) into a C-ordered array of `shape`. */
function toCOrder(src: AnyData, shape: number[], srcStrides: number[]): AnyData {
  const count = shapeProduct(shape);
  const nd = shape.length;
  const out: AnyData = Array.isArray(src)
    ? new Array<PyValue>(count)
    : new (src.constructor as new (n: number) => NumericData)(count);
  if (count === 0) return out;
  const idx = new Array<number>(nd).fill(0);
  let off = 0;
  const o = out as unknown as { [i: number]: unknown };
  const s = src as unknown as { [i: number]: unknown };
  for (let i = 0; i < count; i++) {
    o[i] = s[off];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]!++;
      off += srcStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= srcStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function cStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

function fStrides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = 0; d < shape.length; d++) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: the interpreter.

class Unpickler {
  readonly r: Reader;
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  readonly depth = new WeakMap<object, number>();
  allocated = 0;
  readonly maxDepth: number;
  readonly maxStack: number;
  readonly maxMemo: number;
  readonly maxAlloc: number;
  at = 0;

  constructor(buf: Uint8Array, opts: UnpickleOptions) {
    this.r = new Reader(buf);
    this.maxDepth = opts.maxDepth ?? 1000;
    this.maxStack = opts.maxStack ?? 1 << 18;
    this.maxMemo = opts.maxMemo ?? 1 << 22;
    this.maxAlloc = opts.maxAllocBytes ?? 4 * buf.length + 256 * 1024 * 1024;
  }

  fail(message: string): never {
    throw new PickleError(message, this.at);
  }

  alloc(bytes: number, what: string): void {
    this.allocated += bytes;
    if (this.allocated > this.maxAlloc) {
      this.fail(`${what} would take the pickle's allocations past ${this.maxAlloc} bytes (a size bomb?); refusing`);
    }
  }

  push(v: unknown): void {
    if (this.stack.length >= this.maxStack) this.fail(`pickle stack exceeds ${this.maxStack} items; refusing`);
    this.stack.push(v);
  }

  pop(what: string): unknown {
    const base = this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= base) this.fail(`${what}: stack underflow (malformed pickle)`);
    return this.stack.pop();
  }

  top(what: string): unknown {
    const base = this.marks.length > 0 ? this.marks[this.marks.length - 1]! : 0;
    if (this.stack.length <= base) this.fail(`${what}: stack underflow (malformed pickle)`);
    return this.stack[this.stack.length - 1];
  }

  popMark(what: string): unknown[] {
    const m = this.marks.pop();
    if (m === undefined) this.fail(`${what} without a MARK (malformed pickle)`);
    return this.stack.splice(m);
  }

  depthOf(v: unknown): number {
    return typeof v === 'object' && v !== null ? (this.depth.get(v) ?? 0) : 0;
  }

  setDepth(container: object, d: number): void {
    if (d > this.maxDepth) this.fail(`objects nested deeper than ${this.maxDepth} levels (a nesting bomb?); refusing`);
    this.depth.set(container, d);
  }

  grow(container: object, child: unknown): void {
    const d = this.depthOf(child) + 1;
    if (d > this.depthOf(container)) this.setDepth(container, d);
  }

  newTuple(items: unknown[]): PyTuple {
    const t = new PyTuple(items as PyValue[]);
    let d = 1;
    for (const it of items) d = Math.max(d, this.depthOf(it) + 1);
    this.setDepth(t, d);
    return t;
  }

  str(b: Uint8Array, latin1: boolean): string | LargeStr {
    if (b.length > LARGE_STRING_BYTES) return new LargeStr(b, latin1);
    return latin1 ? decodeLatin1(b) : utf8.decode(b);
  }

  key(k: unknown, what: string): PyKey {
    if (k instanceof LargeStr) k = materialize(k, this.at);
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
    this.fail(`${what}: unsupported dict key type (${describe(k)})`);
  }

  memoPut(idx: number): void {
    if (!this.memo.has(idx) && this.memo.size >= this.maxMemo) this.fail(`pickle memo exceeds ${this.maxMemo} entries; refusing`);
    this.memo.set(idx, this.top('memo put'));
  }

  memoGet(idx: number): void {
    if (!this.memo.has(idx)) this.fail(`memo key ${idx} is not defined (malformed pickle)`);
    this.push(this.memo.get(idx));
  }

  run(): unknown {
    const r = this.r;
    for (;;) {
      this.at = r.pos;
      const op = r.u8('opcode');
      switch (op) {
        case OP.PROTO: r.u8('PROTO'); break;
        case OP.FRAME: r.u64('FRAME'); break;
        case OP.STOP: {
          if (this.marks.length > 0) this.fail('STOP inside an unclosed MARK (malformed pickle)');
          if (this.stack.length !== 1) this.fail(`STOP with ${this.stack.length} items on the stack (malformed pickle)`);
          return this.stack[0];
        }
        case OP.MARK:
          if (this.marks.length >= this.maxDepth) this.fail(`MARKs nested deeper than ${this.maxDepth} levels (a nesting bomb?); refusing`);
          this.marks.push(this.stack.length);
          break;
        case OP.POP: this.pop('POP'); break;
        case OP.POP_MARK: this.popMark('POP_MARK'); break;
        case OP.DUP: this.push(this.top('DUP')); break;
        case OP.NONE: this.push(null); break;
        case OP.NEWTRUE: this.push(true); break;
        case OP.NEWFALSE: this.push(false); break;
        case OP.BININT1: this.push(r.u8('BININT1')); break;
        case OP.BININT2: this.push(r.u16('BININT2')); break;
        case OP.BININT: this.push(r.i32('BININT')); break;
        case OP.LONG1: this.push(this.long(r.u8('LONG1'))); break;
        case OP.LONG4: {
          const n = r.i32('LONG4');
          if (n < 0) this.fail(`LONG4 with negative length ${n}`);
          this.push(this.long(n));
          break;
        }
        case OP.INT: {
          const s = r.line('INT');
          this.push(s === '01' ? true : s === '00' ? false : parseIntLine(s, this.at, 'INT'));
          break;
        }
        case OP.LONG: this.push(parseIntLine(r.line('LONG'), this.at, 'LONG')); break;
        case OP.FLOAT: {
          const s = r.line('FLOAT').trim();
          const v = Number(s);
          if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) this.fail(`FLOAT: not a number: '${s.slice(0, 40)}'`);
          this.push(v);
          break;
        }
        case OP.BINFLOAT: this.push(r.f64be('BINFLOAT')); break;
        case OP.SHORT_BINUNICODE: this.push(this.str(r.bytes(r.u8('SHORT_BINUNICODE'), 'SHORT_BINUNICODE'), false)); break;
        case OP.BINUNICODE: this.push(this.str(r.bytes(r.u32('BINUNICODE'), 'BINUNICODE'), false)); break;
        case OP.BINUNICODE8: this.push(this.str(r.bytes(r.u64('BINUNICODE8'), 'BINUNICODE8'), false)); break;
        case OP.SHORT_BINSTRING: this.push(this.str(r.bytes(r.u8('SHORT_BINSTRING'), 'SHORT_BINSTRING'), true)); break;
        case OP.BINSTRING: {
          const n = r.i32('BINSTRING');
          if (n < 0) this.fail(`BINSTRING with negative length ${n}`);
          this.push(this.str(r.bytes(n, 'BINSTRING'), true));
          break;
        }
        case OP.SHORT_BINBYTES: this.push(r.bytes(r.u8('SHORT_BINBYTES'), 'SHORT_BINBYTES')); break;
        case OP.BINBYTES: this.push(r.bytes(r.u32('BINBYTES'), 'BINBYTES')); break;
        case OP.BINBYTES8: this.push(r.bytes(r.u64('BINBYTES8'), 'BINBYTES8')); break;
        case OP.BYTEARRAY8: this.push(r.bytes(r.u64('BYTEARRAY8'), 'BYTEARRAY8')); break;
        case OP.READONLY_BUFFER: this.top('READONLY_BUFFER'); break;
        case OP.EMPTY_TUPLE: this.push(this.newTuple([])); break;
        case OP.TUPLE1: { const a = this.pop('TUPLE1'); this.push(this.newTuple([a])); break; }
        case OP.TUPLE2: { const b = this.pop('TUPLE2'); const a = this.pop('TUPLE2'); this.push(this.newTuple([a, b])); break; }
        case OP.TUPLE3: {
          const c = this.pop('TUPLE3'); const b = this.pop('TUPLE3'); const a = this.pop('TUPLE3');
          this.push(this.newTuple([a, b, c]));
          break;
        }
        case OP.TUPLE: this.push(this.newTuple(this.popMark('TUPLE'))); break;
        case OP.EMPTY_LIST: { const l: unknown[] = []; this.setDepth(l, 1); this.push(l); break; }
        case OP.LIST: {
          const l = this.popMark('LIST');
          this.setDepth(l, 1);
          for (const it of l) this.grow(l, it);
          this.push(l);
          break;
        }
        case OP.APPEND: {
          const v = this.pop('APPEND');
          this.append(this.top('APPEND'), [v], 'APPEND');
          break;
        }
        case OP.APPENDS: {
          const items = this.popMark('APPENDS');
          this.append(this.top('APPENDS'), items, 'APPENDS');
          break;
        }
        case OP.EMPTY_DICT: { const d = new Map<PyKey, PyValue>(); this.setDepth(d, 1); this.push(d); break; }
        case OP.DICT: {
          const items = this.popMark('DICT');
          const d = new Map<PyKey, PyValue>();
          this.setDepth(d, 1);
          this.setItems(d, items, 'DICT');
          this.push(d);
          break;
        }
        case OP.SETITEM: {
          const v = this.pop('SETITEM');
          const k = this.pop('SETITEM');
          this.setItems(this.top('SETITEM'), [k, v], 'SETITEM');
          break;
        }
        case OP.SETITEMS: {
          const items = this.popMark('SETITEMS');
          this.setItems(this.top('SETITEMS'), items, 'SETITEMS');
          break;
        }
        case OP.EMPTY_SET: { const s = new PySet([], false); this.setDepth(s, 1); this.push(s); break; }
        case OP.ADDITEMS: {
          const items = this.popMark('ADDITEMS');
          const s = this.top('ADDITEMS');
          if (!(s instanceof PySet) || s.frozen) this.fail(`ADDITEMS on ${describe(s)}, not a set`);
          for (const it of items) { s.items.push(it as PyValue); this.grow(s, it); }
          break;
        }
        case OP.FROZENSET: {
          const s = new PySet(this.popMark('FROZENSET') as PyValue[], true);
          this.setDepth(s, 1);
          for (const it of s.items) this.grow(s, it);
          this.push(s);
          break;
        }
        case OP.MEMOIZE: this.memoPut(this.memo.size); break;
        case OP.BINPUT: this.memoPut(r.u8('BINPUT')); break;
        case OP.LONG_BINPUT: this.memoPut(r.u32('LONG_BINPUT')); break;
        case OP.PUT: this.memoPut(Number(parseIntLine(r.line('PUT'), this.at, 'PUT'))); break;
        case OP.BINGET: this.memoGet(r.u8('BINGET')); break;
        case OP.LONG_BINGET: this.memoGet(r.u32('LONG_BINGET')); break;
        case OP.GET: this.memoGet(Number(parseIntLine(r.line('GET'), this.at, 'GET'))); break;
        case OP.GLOBAL: {
          const module = r.line('GLOBAL module');
          const name = r.line('GLOBAL name');
          this.push(new PyGlobal(module, name, checkGlobal(module, name, this.at)));
          break;
        }
        case OP.STACK_GLOBAL: {
          const name = this.pop('STACK_GLOBAL');
          const module = this.pop('STACK_GLOBAL');
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL: module and name must be strings');
          this.push(new PyGlobal(module, name, checkGlobal(module, name, this.at)));
          break;
        }
        case OP.REDUCE: {
          const args = this.pop('REDUCE');
          const fn = this.pop('REDUCE');
          if (!(args instanceof PyTuple)) this.fail(`REDUCE: arguments are ${describe(args)}, not a tuple`);
          this.push(this.call(fn, args.items));
          break;
        }
        case OP.NEWOBJ: {
          const args = this.pop('NEWOBJ');
          const cls = this.pop('NEWOBJ');
          if (!(args instanceof PyTuple)) this.fail(`NEWOBJ: arguments are ${describe(args)}, not a tuple`);
          if (!(cls instanceof PyGlobal) || cls.kind !== 'dtype') this.fail(`NEWOBJ of ${describe(cls)} is not supported`);
          this.push(this.call(cls, args.items));
          break;
        }
        case OP.NEWOBJ_EX: {
          const kwargs = this.pop('NEWOBJ_EX');
          const args = this.pop('NEWOBJ_EX');
          const cls = this.pop('NEWOBJ_EX');
          if (!(args instanceof PyTuple)) this.fail(`NEWOBJ_EX: arguments are ${describe(args)}, not a tuple`);
          if (!(kwargs instanceof Map) || kwargs.size > 0) this.fail('NEWOBJ_EX with keyword arguments is not supported');
          if (!(cls instanceof PyGlobal) || cls.kind !== 'dtype') this.fail(`NEWOBJ_EX of ${describe(cls)} is not supported`);
          this.push(this.call(cls, args.items));
          break;
        }
        case OP.BUILD: {
          const state = this.pop('BUILD');
          this.build(this.top('BUILD'), state);
          break;
        }
        default:
          // everything else was refused by the scan; this is a second line of defence
          this.fail(`unsupported pickle opcode ${opName(op)}`);
      }
    }
  }

  long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`integer of ${n} bytes is too large (limit ${MAX_LONG_BYTES})`);
    return decodeLong(this.r.bytes(n, 'LONG'));
  }

  append(list: unknown, items: unknown[], what: string): void {
    if (!Array.isArray(list)) this.fail(`${what} on ${describe(list)}, not a list`);
    for (const it of items) {
      list.push(it);
      this.grow(list, it);
    }
  }

  setItems(d: unknown, items: unknown[], what: string): void {
    if (!(d instanceof Map)) this.fail(`${what} on ${describe(d)}, not a dict`);
    if (items.length % 2 !== 0) this.fail(`${what}: odd number of items`);
    for (let i = 0; i < items.length; i += 2) {
      const v = items[i + 1];
      (d as PyDict).set(this.key(items[i], what), v as PyValue);
      this.grow(d, v);
    }
  }

  call(fn: unknown, args: unknown[]): unknown {
    if (!(fn instanceof PyGlobal)) this.fail(`REDUCE: ${describe(fn)} is not callable`);
    const name = fn.qualifiedName;
    switch (fn.kind) {
      case 'reconstruct': {
        // _reconstruct(subtype, shape, dtype-code): an empty placeholder that BUILD fills in.
        if (args.length !== 3 || !(args[0] instanceof PyGlobal) || args[0].kind !== 'ndarray') {
          this.fail(`${name}: expected (numpy.ndarray, shape, dtype); only plain ndarrays are supported`);
        }
        return new NdArray(new NpDType('u', 1, '|'), [0], new Uint8Array(0));
      }
      case 'dtype': {
        if (args.length < 1 || args.length > 3) this.fail(`${name}: expected 1–3 arguments, got ${args.length}`);
        let spec = args[0];
        if (spec instanceof LargeStr) this.fail(`${name}: dtype string too long`);
        if (spec instanceof Uint8Array) spec = decodeLatin1(spec);
        if (typeof spec !== 'string') this.fail(`${name}: expected a dtype string, got ${describe(spec)}`);
        return parseDTypeSpec(spec, this.at);
      }
      case 'encode': {
        if (args.length < 1 || args.length > 3) this.fail(`${name}: expected (str, encoding), got ${args.length} arguments`);
        const enc = args.length >= 2 ? args[1] : 'utf-8';
        if (typeof enc !== 'string') this.fail(`${name}: encoding must be a string`);
        return this.encode(args[0], enc.toLowerCase().replace(/_/g, '-'), name);
      }
      case 'bytes':
        if (args.length !== 0) this.fail(`${name}: only bytes() with no arguments is supported`);
        return new Uint8Array(0);
      case 'frombuffer':
        return this.frombuffer(args, name);
      case 'scalar':
        return this.scalar(args, name);
      case 'ndarray':
        this.fail(`${name} can only appear as _reconstruct's subtype argument`);
    }
  }

  encode(s: unknown, enc: string, name: string): Uint8Array {
    if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1' || enc === 'iso8859-1') {
      if (typeof s === 'string') {
        this.alloc(s.length, name);
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 255) this.fail(`${name}: character U+${c.toString(16)} cannot be encoded as latin-1`);
          out[i] = c;
        }
        return out;
      }
      if (s instanceof LargeStr) {
        if (s.latin1) { this.alloc(s.bytes.length, name); return s.bytes.slice(); }
        // UTF-8 → latin-1 without building a JavaScript string (protocol 2's large raw data)
        const b = s.bytes;
        this.alloc(b.length, name);
        const out = new Uint8Array(b.length);
        let n = 0;
        for (let i = 0; i < b.length; i++) {
          const c = b[i]!;
          if (c < 0x80) out[n++] = c;
          else if ((c === 0xc2 || c === 0xc3) && i + 1 < b.length && (b[i + 1]! & 0xc0) === 0x80) {
            out[n++] = ((c & 0x1f) << 6) | (b[++i]! & 0x3f);
          } else this.fail(`${name}: the string is not latin-1 encodable UTF-8`);
        }
        return out.subarray(0, n);
      }
      this.fail(`${name}: expected a str, got ${describe(s)}`);
    }
    if (enc === 'utf-8' || enc === 'utf8') {
      const str = s instanceof LargeStr ? materialize(s, this.at) : s;
      if (typeof str !== 'string') this.fail(`${name}: expected a str, got ${describe(s)}`);
      const out = new TextEncoder().encode(str);
      this.alloc(out.length, name);
      return out;
    }
    this.fail(`${name}: unsupported encoding '${enc.slice(0, 40)}'`);
  }

  shapeOf(v: unknown, what: string): number[] {
    const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : typeof v === 'number' ? [v] : undefined;
    if (!items) this.fail(`${what}: shape must be a tuple, got ${describe(v)}`);
    if (items.length > 32) this.fail(`${what}: ${items.length} dimensions (numpy allows at most 64; refusing more than 32)`);
    return items.map((d) => {
      const n = typeof d === 'bigint' ? Number.MAX_SAFE_INTEGER + 1 : d;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) this.fail(`${what}: invalid dimension ${String(d)}`);
      return n;
    });
  }

  /** The element count of `shape` (refusing counts beyond 2^53). */
  checkedCount(shape: number[], what: string): number {
    const count = shapeProduct(shape);
    if (!Number.isFinite(count)) this.fail(`${what}: shape [${shape.join(', ')}] is too large`);
    return count;
  }

  frombuffer(args: unknown[], name: string): NdArray {
    if (args.length !== 4 && args.length !== 5) this.fail(`${name}: expected (buffer, dtype, shape, order[, axis_order]), got ${args.length} arguments`);
    const [buf, dt, shapeArg, order, axisOrder] = args;
    if (!(buf instanceof Uint8Array)) this.fail(`${name}: buffer is ${describe(buf)}, not bytes`);
    if (!(dt instanceof NpDType)) this.fail(`${name}: dtype is ${describe(dt)}`);
    if (dt.kind === 'O') this.fail(`${name}: object arrays cannot be built from a buffer`);
    const shape = this.shapeOf(shapeArg, name);
    const count = this.checkedCount(shape, name);
    if (count * dt.itemsize !== buf.length) {
      this.fail(`${name}: shape [${shape.join(', ')}] of ${dt.str} needs ${count * dt.itemsize} bytes, the buffer has ${buf.length}`);
    }
    this.alloc(count * (dt.kind === 'U' || dt.kind === 'S' ? 16 : dt.itemsize), name);
    const flat = decodeElements(dt, buf, count);
    if (order === 'C' || order === 'A') return new NdArray(dt, shape, flat);
    if (order === 'F') {
      this.alloc(count * dt.itemsize, name);
      return new NdArray(dt, shape, toCOrder(flat, shape, fStrides(shape)));
    }
    if (order === 'K') {
      if (axisOrder === null || axisOrder === undefined) return new NdArray(dt, shape, flat);
      const perm = this.shapeOf(axisOrder, `${name} axis_order`);
      const seen = new Set(perm);
      if (perm.length !== shape.length || seen.size !== perm.length || perm.some((p) => p >= shape.length)) {
        this.fail(`${name}: axis_order (${perm.join(', ')}) is not a permutation of ${shape.length} axes`);
      }
      const base = cStrides(shape);
      const outShape = perm.map((p) => shape[p]!);
      this.alloc(count * dt.itemsize, name);
      return new NdArray(dt, outShape, toCOrder(flat, outShape, perm.map((p) => base[p]!)));
    }
    this.fail(`${name}: unsupported order ${describe(order)}`);
  }

  scalar(args: unknown[], name: string): unknown {
    if (args.length < 1 || args.length > 2 || !(args[0] instanceof NpDType)) this.fail(`${name}: expected (dtype, data)`);
    const dt = args[0];
    if (dt.kind === 'O') return args[1] ?? null;
    let raw = args[1];
    if (typeof raw === 'string') raw = this.encode(raw, 'latin1', name);
    if (!(raw instanceof Uint8Array) || raw.length !== dt.itemsize) {
      this.fail(`${name}: a ${dt.str} scalar needs ${dt.itemsize} bytes, got ${describe(raw)}`);
    }
    const v = decodeElements(dt, raw, 1);
    const x = (v as unknown as { [i: number]: unknown })[0];
    if (dt.kind === 'b') return x === 1;
    if (typeof x === 'bigint') return toIntValue(x);
    return x;
  }

  build(obj: unknown, state: unknown): void {
    if (obj instanceof NpDType) return this.buildDType(obj, state);
    if (obj instanceof NdArray) return this.buildArray(obj, state);
    this.fail(`BUILD on ${describe(obj)} is not supported`);
  }

  buildDType(dt: NpDType, state: unknown): void {
    if (!(state instanceof PyTuple) || state.items.length < 2) this.fail(`numpy.dtype state must be a tuple, got ${describe(state)}`);
    const s = state.items;
    const bo = s[1];
    if (bo !== '<' && bo !== '>' && bo !== '|' && bo !== '=') this.fail(`numpy.dtype state: invalid byte order ${describe(bo)}`);
    if (s.length >= 5 && (s[2] !== null || s[3] !== null || s[4] !== null)) {
      this.fail('structured or sub-array numpy dtypes are not supported');
    }
    if (s.length >= 9 && s[8] !== null && !(s[8] instanceof Map && s[8].size === 0)) {
      this.fail('numpy dtypes with metadata are not supported');
    }
    const elsize = s.length >= 6 ? s[5] : -1;
    if ((dt.kind === 'U' || dt.kind === 'S') && typeof elsize === 'number' && elsize >= 0) {
      if (!Number.isSafeInteger(elsize) || (dt.kind === 'U' && elsize % 4 !== 0)) this.fail(`numpy.dtype state: invalid element size ${elsize}`);
      dt.itemsize = elsize;
    }
    if (dt.itemsize === 1 || dt.kind === 'O' || dt.kind === 'S') dt.byteorder = '|';
    else dt.byteorder = bo === '=' || bo === '|' ? (LITTLE_ENDIAN_HOST ? '<' : '>') : bo;
  }

  buildArray(arr: NdArray, state: unknown): void {
    if (!(state instanceof PyTuple)) this.fail(`numpy.ndarray state must be a tuple, got ${describe(state)}`);
    let s = state.items;
    if (s.length === 5) s = s.slice(1); // (version, shape, dtype, is_fortran, rawdata)
    if (s.length !== 4) this.fail(`numpy.ndarray state: expected 4 or 5 items, got ${state.items.length}`);
    const [shapeArg, dt, fortran, rawArg] = s;
    if (!(dt instanceof NpDType)) this.fail(`numpy.ndarray state: dtype is ${describe(dt)}`);
    const shape = this.shapeOf(shapeArg, 'numpy.ndarray state');
    const count = this.checkedCount(shape, 'numpy.ndarray state');
    const isF = fortran === true || fortran === 1;
    let flat: AnyData;
    if (dt.kind === 'O') {
      if (!Array.isArray(rawArg)) this.fail(`numpy.ndarray state: an object array's data must be a list, got ${describe(rawArg)}`);
      if (rawArg.length !== count) {
        this.fail(`numpy.ndarray state: shape [${shape.join(', ')}] needs ${count} objects, the list has ${rawArg.length}`);
      }
      this.alloc(count * 8, 'object array');
      flat = rawArg.slice() as PyValue[];
      for (const it of flat) this.grow(arr, it);
    } else {
      let raw = rawArg;
      if (typeof raw === 'string' || raw instanceof LargeStr) raw = this.encode(raw, 'latin1', 'numpy.ndarray state'); // Python 2 str data
      if (!(raw instanceof Uint8Array)) this.fail(`numpy.ndarray state: data is ${describe(raw)}, not bytes`);
      if (count * dt.itemsize !== raw.length) {
        this.fail(`numpy.ndarray state: shape [${shape.join(', ')}] of ${dt.str} needs ${count * dt.itemsize} bytes, the data has ${raw.length}`);
      }
      this.alloc(count * (dt.kind === 'U' || dt.kind === 'S' ? 16 : dt.itemsize), 'array');
      flat = decodeElements(dt, raw, count);
    }
    if (isF && shape.length > 1) {
      this.alloc(count * (dt.kind === 'O' ? 8 : dt.itemsize), 'array');
      flat = toCOrder(flat, shape, fStrides(shape));
    }
    arr.dtype = dt;
    arr.shape = shape;
    arr.data = flat;
  }
}

function materialize(s: LargeStr, at?: number): string {
  try {
    return s.latin1 ? decodeLatin1(s.bytes) : utf8.decode(s.bytes);
  } catch {
    throw new PickleError(`a string of ${s.bytes.length} bytes is too long for a JavaScript string`, at);
  }
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'boolean') return `bool ${v ? 'True' : 'False'}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${v}`;
  if (typeof v === 'string') return `str '${v.length > 40 ? v.slice(0, 37) + '...' : v}'`;
  if (v instanceof LargeStr) return `str of ${v.bytes.length} bytes`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (v instanceof PySet) return `${v.frozen ? 'frozenset' : 'set'} of ${v.items.length}`;
  if (v instanceof NdArray) return `ndarray ${v.dtype.str} [${v.shape.join(', ')}]`;
  if (v instanceof NpDType) return `dtype ${v.str}`;
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  return typeof v;
}

/**
 * Check the finished object graph (iteratively): no reference cycles, depth within bounds, and
 * large strings decoded. Shared references (the memo) are visited once.
 */
function finalize(root: unknown, maxDepth: number): PyValue {
  const done = new Map<object, number>(); // object → depth
  const active = new Set<object>();
  type Frame = { obj: object; children: unknown[]; i: number; depth: number };
  const childrenOf = (o: object): unknown[] => {
    if (Array.isArray(o)) return o;
    if (o instanceof PyTuple) return o.items;
    if (o instanceof Map) return [...o.values()];
    if (o instanceof PySet) return o.items;
    if (o instanceof NdArray && o.dtype.kind === 'O') return o.data as unknown[];
    return [];
  };
  const fixLarge = (o: object): void => {
    const fix = (arr: unknown[]): void => {
      for (let i = 0; i < arr.length; i++) if (arr[i] instanceof LargeStr) arr[i] = materialize(arr[i] as LargeStr);
    };
    if (Array.isArray(o)) fix(o);
    else if (o instanceof PyTuple || o instanceof PySet) fix(o.items);
    else if (o instanceof NdArray && o.dtype.kind === 'O') fix(o.data as unknown[]);
    else if (o instanceof Map) for (const [k, v] of o) if (v instanceof LargeStr) o.set(k, materialize(v));
  };
  if (root instanceof LargeStr) return materialize(root);
  if (typeof root !== 'object' || root === null || root instanceof Uint8Array) return root as PyValue;
  const stack: Frame[] = [{ obj: root, children: childrenOf(root), i: 0, depth: 0 }];
  active.add(root);
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!;
    if (f.i < f.children.length) {
      const c = f.children[f.i++];
      if (typeof c !== 'object' || c === null || c instanceof Uint8Array || c instanceof LargeStr) continue;
      if (active.has(c)) throw new PickleError('the pickle contains a reference cycle, which is not supported');
      const d = done.get(c);
      if (d !== undefined) {
        f.depth = Math.max(f.depth, d + 1);
        continue;
      }
      if (stack.length >= maxDepth) throw new PickleError(`objects nested deeper than ${maxDepth} levels (a nesting bomb?); refusing`);
      active.add(c);
      stack.push({ obj: c, children: childrenOf(c), i: 0, depth: 0 });
    } else {
      stack.pop();
      active.delete(f.obj);
      fixLarge(f.obj);
      const depth = f.children.length > 0 ? Math.max(f.depth, 1) : f.depth;
      done.set(f.obj, depth);
      const parent = stack[stack.length - 1];
      if (parent) parent.depth = Math.max(parent.depth, depth + 1);
    }
  }
  return root as PyValue;
}

/**
 * Unpickle `bytes` safely (see the header). Throws PickleError for anything malformed, truncated,
 * unsupported or outside the allowed globals; returns the top-level value.
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PyValue {
  if (!(bytes instanceof Uint8Array)) throw new PickleError('unpickle: expected a Uint8Array / Buffer');
  if (bytes.length === 0) throw new PickleError('empty input: not a pickle');
  const maxDepth = options.maxDepth ?? 1000;
  // a plain Uint8Array view (bytes values are views into it; a Buffer's subarrays would be Buffers)
  bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    scan(bytes);
    const u = new Unpickler(bytes, options);
    return finalize(u.run(), maxDepth);
  } catch (e) {
    if (e instanceof PickleError) throw e;
    // Anything else (e.g. a RangeError from an allocation) is still reported as a bad pickle.
    throw new PickleError(`cannot unpickle: ${(e as Error).message}`);
  }
}
