// lib/kernels/validate.ts — argument checks for every kernel wrapper, mirroring
// native/binding/args.cc check for check and word for word. Reads each option once.
import { argRangeError, argTypeError } from './errors.js';

export const MAX_DIM = 2147483647;

type Bound = 'none' | 'open' | 'closed';

function fmtBound(lo: Bound, l: number, hi: Bound, h: number): string {
  if (lo !== 'none' && hi !== 'none') return ` in ${lo === 'closed' ? '[' : '('}${l}, ${h}${hi === 'closed' ? ']' : ')'}`;
  if (lo !== 'none') return lo === 'closed' ? ` >= ${l}` : ` > ${l}`;
  if (hi !== 'none') return hi === 'closed' ? ` <= ${h}` : ` < ${h}`;
  return '';
}

/** Overlapping byte ranges of two typed arrays over the same buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer || a.byteLength === 0 || b.byteLength === 0) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

export class Validator {
  readonly fn: string;
  private readonly opts: Record<string, unknown>;

  constructor(fn: string, opts: unknown) {
    this.fn = fn;
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts) || ArrayBuffer.isView(opts)) {
      throw argTypeError(fn, 'an options object', opts);
    }
    this.opts = opts as Record<string, unknown>;
  }

  raw(name: string): unknown {
    return this.opts[name];
  }

  integer(name: string, lo: number, hi: number, fallback?: number): number {
    const v = this.opts[name];
    if (v === undefined && fallback !== undefined) return fallback;
    const what = `${name} to be an integer in [${lo}, ${hi}]`;
    if (typeof v !== 'number') throw argTypeError(this.fn, what, v);
    if (!Number.isInteger(v) || v < lo || v > hi) throw argRangeError(this.fn, what, String(v));
    return v;
  }

  /** A size: an integer in [1, 2^31 − 1]. */
  size(name: string, fallback?: number): number {
    return this.integer(name, 1, MAX_DIM, fallback);
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.opts[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw argTypeError(this.fn, `${name} to be a boolean`, v);
    return v;
  }

  number(name: string, fallback: number | undefined, lo: Bound = 'none', l = 0, hi: Bound = 'none', h = 0): number {
    const v = this.opts[name];
    if (v === undefined && fallback !== undefined) return fallback;
    const what = `${name} to be a finite number${fmtBound(lo, l, hi, h)}`;
    if (typeof v !== 'number') throw argTypeError(this.fn, what, v);
    let ok = Number.isFinite(v);
    if (ok && lo === 'closed') ok = v >= l;
    if (ok && lo === 'open') ok = v > l;
    if (ok && hi === 'closed') ok = v <= h;
    if (ok && hi === 'open') ok = v < h;
    if (!ok) throw argRangeError(this.fn, what, String(v));
    return v;
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const v = this.opts[name];
    if (v === undefined) return fallback;
    const what = `${name} to be one of ${choices.map((c) => `'${c}'`).join(', ')}`;
    if (typeof v !== 'string') throw argTypeError(this.fn, what, v);
    if (!(choices as readonly string[]).includes(v)) throw argRangeError(this.fn, what, `'${v}'`);
    return v as T;
  }

  private typed<T extends Float32Array | Int32Array>(
    name: string,
    ctor: typeof Float32Array | typeof Int32Array,
    length: number | undefined,
    what: string,
    atLeast: boolean,
  ): T {
    const v = this.opts[name];
    const article = ctor.name.startsWith('I') ? 'an' : 'a';
    if (!(v instanceof ctor)) throw argTypeError(this.fn, `${name} to be ${article} ${ctor.name}`, v);
    if (length !== undefined) {
      const ok = atLeast ? v.length >= length : v.length === length;
      if (!ok) {
        throw argRangeError(
          this.fn,
          `${name} to be ${article} ${ctor.name} of length ${atLeast ? 'at least ' : ''}${length} (${what})`,
          `length ${v.length}`,
        );
      }
    }
    if (v.length === 0) throw argRangeError(this.fn, `${name} to be non-empty`, 'length 0');
    return v as T;
  }

  f32(name: string, length: number, what: string): Float32Array {
    return this.typed<Float32Array>(name, Float32Array, length, what, false);
  }
  f32AtLeast(name: string, length: number, what: string): Float32Array {
    return this.typed<Float32Array>(name, Float32Array, length, what, true);
  }
  f32Any(name: string): Float32Array {
    return this.typed<Float32Array>(name, Float32Array, undefined, '', false);
  }
  /** Optional input or output: undefined/null → undefined. */
  f32Optional(name: string, length: number, what: string): Float32Array | undefined {
    const v = this.opts[name];
    if (v === undefined || v === null) return undefined;
    return this.f32(name, length, what);
  }
  /** Optional output: allocated when absent. */
  f32Out(name: string, length: number, what: string): Float32Array {
    return this.f32Optional(name, length, what) ?? new Float32Array(length);
  }
  i32Any(name: string): Int32Array {
    return this.typed<Int32Array>(name, Int32Array, undefined, '', false);
  }
  i32(name: string, length: number, what: string): Int32Array {
    return this.typed<Int32Array>(name, Int32Array, length, what, false);
  }

  /** Element-wise range check of an Int32Array (e.g. class targets). */
  indices(name: string, values: Int32Array, lo: number, hi: number): void {
    for (let i = 0; i < values.length; i++) {
      const t = values[i]!;
      if (t < lo || t > hi) throw argRangeError(this.fn, `${name}[${i}] to be an integer in [${lo}, ${hi}]`, String(t));
    }
  }

  /** Rejects partially (or, unless allowed, fully) overlapping buffers. */
  noOverlap(outName: string, out: ArrayBufferView | undefined, inName: string, input: ArrayBufferView | undefined, allowIdentical = false): void {
    if (out === undefined || input === undefined) return;
    if (allowIdentical && out.buffer === input.buffer && out.byteOffset === input.byteOffset && out.byteLength === input.byteLength) return;
    if (overlaps(out, input)) {
      throw new RangeError(
        `${this.fn}: expected ${outName} not to overlap ${inName}` +
          (allowIdentical ? ' (only the very same buffer may be reused)' : ''),
      );
    }
  }

  /**
   * Outputs must not overlap any input nor each other: every output against every input (in
   * order), then every pair of outputs (the order native/binding/args.h checks them in).
   */
  disjoint(outputs: Array<[string, ArrayBufferView | undefined]>, inputs: Array<[string, ArrayBufferView | undefined]>): void {
    for (const [on, o] of outputs) for (const [inName, i] of inputs) this.noOverlap(on, o, inName, i);
    for (let a = 0; a < outputs.length; a++) {
      for (let b = a + 1; b < outputs.length; b++) this.noOverlap(outputs[a]![0], outputs[a]![1], outputs[b]![0], outputs[b]![1]);
    }
  }

  /** Product of sizes; above 2^53 it cannot match any array length, so the length check fails. */
  static product(...dims: number[]): number {
    return dims.reduce((p, d) => p * d, 1);
  }
}
