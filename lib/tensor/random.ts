// lib/tensor/random.ts — the one seeded generator: initialisation, dropout, the synthetic
// dataset, batch shuffling.
//
// xoshiro128** (Blackman & Vigna, 2018) with its 128-bit state seeded through splitmix32, so
// every seed (0 included) gives a well-mixed state. The integer stream uses only 32-bit integer
// arithmetic (Math.imul, shifts, >>>), so it is bit-identical on every platform and Node version.
// Uniform doubles take 53 bits from two 32-bit outputs. Normals use the Marsaglia polar method,
// which needs only multiplication, division, Math.sqrt (correctly rounded by IEEE 754) and
// Math.log (V8's fdlibm port: the same bits on every platform V8 runs on) — no sin/cos.
//
// The state can be read and restored (`state()` / `setState()`), so a checkpoint can keep it
// and a resumed run continues the same stream.

/** The four 32-bit state words plus the cached second normal of the polar method. */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) {
      throw new RangeError(`Rng: expected seed to be a safe integer, received ${String(seed)}`);
    }
    // splitmix32 over the low 32 bits, mixed with the high bits of the seed.
    let x = ((seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9)) | 0;
    const sm = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.s0 = sm();
    this.s1 = sm();
    this.s2 = sm();
    this.s3 = sm();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [lo, hi], both inclusive (unbiased: rejection on the 32-bit stream). */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi < lo) {
      throw new RangeError(`Rng.int: expected integers lo <= hi, received lo=${lo}, hi=${hi}`);
    }
    const span = hi - lo + 1;
    if (span > 4294967296) throw new RangeError(`Rng.int: range ${span} exceeds 2^32`);
    if (span === 4294967296) return lo + this.nextU32();
    const limit = 4294967296 - (4294967296 % span); // accept u < limit
    let u = this.nextU32();
    while (u >= limit) u = this.nextU32();
    return lo + (u % span);
  }

  /** Standard normal times `scale`, plus `mean` (Marsaglia polar method). */
  normal(mean = 0, scale = 1): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return mean + scale * s;
    }
    let u = 0;
    let v = 0;
    let r = 0;
    do {
      u = 2 * this.next() - 1;
      v = 2 * this.next() - 1;
      r = u * u + v * v;
    } while (r >= 1 || r === 0);
    const f = Math.sqrt((-2 * Math.log(r)) / r);
    this.spare = v * f;
    return mean + scale * (u * f);
  }

  /**
   * Fill out[start … start+count) with standard normals (polar method on 32-bit uniforms: each
   * coordinate u, v has 32 random bits, plenty for normals). The fast path for bulk data; its
   * stream differs from repeated normal() calls. Returns `out`.
   */
  fillNormal<T extends Float32Array | Float64Array>(out: T, start = 0, count = out.length - start): T {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const end = start + count;
    let i = start;
    if (i < end && this.spare !== null) {
      out[i++] = this.spare;
      this.spare = null;
    }
    while (i < end) {
      let u = 0;
      let v = 0;
      let r = 0;
      do {
        // two xoshiro128** steps, inlined
        let res = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
        let t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        u = (res | 0) * 4.656612873077393e-10; // [−1, 1)
        res = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
        t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        v = (res | 0) * 4.656612873077393e-10;
        r = u * u + v * v;
      } while (r >= 1 || r === 0);
      const f = Math.sqrt((-2 * Math.log(r)) / r);
      out[i++] = u * f;
      if (i < end) out[i++] = v * f;
      else this.spare = v * f;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return out;
  }

  /**
   * Fill out[start … start+count) with uniform values in [lo, hi) from 32-bit draws (the fast
   * path for bulk data; 32 bits of resolution). Returns `out`.
   */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1, start = 0, count = out.length - start): T {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const scale = (hi - lo) / 4294967296;
    const end = start + count;
    for (let i = start; i < end; i++) {
      const res = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = lo + res * scale;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return out;
  }

  /** Random sign: +1 or −1 with equal probability. */
  sign(): number {
    return (this.nextU32() & 1) === 0 ? 1 : -1;
  }

  /** Fisher–Yates shuffle in place; returns `a`. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0 … n−1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** A snapshot of the generator's state (plain JSON-able data). */
  state(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare };
  }

  /** Restore a snapshot taken by `state()`. */
  setState(state: RngState): void {
    const s = state.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w < 4294967296)) {
      throw new RangeError('Rng.setState: expected s to be four unsigned 32-bit integers');
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new RangeError('Rng.setState: the all-zero state is invalid');
    if (state.spare !== null && !Number.isFinite(state.spare)) {
      throw new RangeError('Rng.setState: expected spare to be a finite number or null');
    }
    this.s0 = s[0] | 0;
    this.s1 = s[1] | 0;
    this.s2 = s[2] | 0;
    this.s3 = s[3] | 0;
    this.spare = state.spare;
  }
}

/** Derive an independent-looking seed for a named sub-stream (FNV-1a of the name mixed with the seed). */
export function deriveSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  h = Math.imul(h ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x27d4eb2d), 0x01000193);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
