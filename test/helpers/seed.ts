// test/helpers/seed.ts — a seeded random number generator for reproducible test inputs.
//
// mulberry32 (a 32-bit state generator by Tommy Ettinger; plenty for test data) plus
// Box–Muller normals. Every test names its seed, so a failure reproduces exactly.

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [lo, hi). */
  uniform(lo?: number, hi?: number): number;
  /** Integer uniform in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  /** Standard normal (mean 0, sd 1) times `scale`, plus `mean`. */
  normal(mean?: number, scale?: number): number;
  /** Float32Array of n values uniform in [lo, hi). */
  uniformF32(n: number, lo?: number, hi?: number): Float32Array;
  /** Float32Array of n normal values. */
  normalF32(n: number, mean?: number, scale?: number): Float32Array;
  /** Int32Array of n integers uniform in [lo, hi]. */
  intI32(n: number, lo: number, hi: number): Int32Array;
  /** One element of `items`. */
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: returns a function giving uniform doubles in [0, 1) (32 bits of randomness). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeRng(seed: number): Rng {
  const next = mulberry32(seed);
  let spare: number | null = null; // Box–Muller makes normals in pairs

  const uniform = (lo = 0, hi = 1): number => lo + (hi - lo) * next();
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const standardNormal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = next(); // log(0) guard
    const w = next();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * w);
    return radius * Math.cos(2 * Math.PI * w);
  };
  const normal = (mean = 0, scale = 1): number => mean + scale * standardNormal();

  return {
    next,
    uniform,
    int,
    normal,
    uniformF32(n, lo = -1, hi = 1) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = uniform(lo, hi);
      return out;
    },
    normalF32(n, mean = 0, scale = 1) {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = normal(mean, scale);
      return out;
    },
    intI32(n, lo, hi) {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = int(lo, hi);
      return out;
    },
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick: expected a non-empty array');
      return items[int(0, items.length - 1)]!;
    },
  };
}

/** Float64Array of n normal values (for float64-only reference checks). */
export function normalF64(rng: Rng, n: number, mean = 0, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal(mean, scale);
  return out;
}
