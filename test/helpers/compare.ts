// test/helpers/compare.ts — the one comparison helper every kernel test goes through.
//
// Criterion per element (ggml / llm.c style): |actual − expected| ≤ atol + rtol·|expected|,
// with atol a number or a per-element array (e.g. GEMM's error bound depends on Σ|a||b| of
// each output). NaN passes only against NaN, ±Infinity only against itself. On failure the
// message names the label, how many elements failed, the worst one (by error / allowance),
// its index (and row/col when `cols` is given), both values and the allowance.
//
// Also: guarded output buffers (ggml's sentinels) — a view pre-filled with NaN (catches
// unwritten elements) with guard words on both sides (catches out-of-bounds writes).

import { afterAll, expect } from 'vitest';

export interface CloseOptions {
  rtol?: number | undefined;
  atol?: number | ArrayLike<number> | undefined;
  label?: string | undefined;
  /** When given, failures are also reported as [row, col]. */
  cols?: number | undefined;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(9) : String(x);
}

/** Checks every element; throws one assertion error describing the worst failure. */
export function expectClose(
  actual: ArrayLike<number> | number,
  expected: ArrayLike<number> | number,
  opts: CloseOptions = {},
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 0;
  const label = opts.label ?? 'values';
  const act: ArrayLike<number> = typeof actual === 'number' ? [actual] : actual;
  const exp: ArrayLike<number> = typeof expected === 'number' ? [expected] : expected;
  if (act.length !== exp.length) {
    expect.fail(`${label}: length ${act.length} differs from the expected length ${exp.length}`);
  }
  if (typeof atol !== 'number' && atol.length !== exp.length) {
    throw new RangeError(`${label}: per-element atol has length ${atol.length}, expected ${exp.length}`);
  }

  let failures = 0;
  let worst = -1;
  let worstScore = -1;
  for (let i = 0; i < exp.length; i++) {
    const a = act[i]!;
    const e = exp[i]!;
    const allowed = (typeof atol === 'number' ? atol : atol[i]!) + rtol * Math.abs(e);
    let score: number;
    if (Number.isNaN(e) || Number.isNaN(a)) {
      score = Number.isNaN(e) && Number.isNaN(a) ? 0 : Infinity;
    } else if (!Number.isFinite(e) || !Number.isFinite(a)) {
      score = a === e ? 0 : Infinity;
    } else {
      const err = Math.abs(a - e);
      score = err <= allowed ? 0 : allowed > 0 ? err / allowed : Infinity;
    }
    if (score > 0) {
      failures++;
      if (score > worstScore) {
        worstScore = score;
        worst = i;
      }
    }
  }
  if (failures > 0) {
    const a = act[worst]!;
    const e = exp[worst]!;
    const allowed = (typeof atol === 'number' ? atol : atol[worst]!) + rtol * Math.abs(e);
    const where = opts.cols ? ` [row ${Math.floor(worst / opts.cols)}, col ${worst % opts.cols}]` : '';
    expect.fail(
      `${label}: ${failures} of ${exp.length} elements outside |x − r| ≤ atol + ${rtol}·|r|; ` +
        `worst at index ${worst}${where}: actual ${fmt(a)}, expected ${fmt(e)}, ` +
        `|diff| ${fmt(Math.abs(a - e))}, allowed ${fmt(allowed)}`,
    );
  }
}

export interface MatchOptions {
  rtol?: number | undefined;
  /** One atol for every field, or per field (a number or a per-element array). */
  atol?: number | Record<string, number | ArrayLike<number>> | undefined;
  label: string;
  cols?: number | undefined;
}

/**
 * Compares every field of a kernel's result with the float64 reference's result:
 * `expectMatchesReference({ out, mean }, reference.layerNormForward(...), { atol: {...}, label })`.
 * Fields present in `expected` must be present in `actual`; a bare array or number is treated as
 * a single field named 'out'.
 */
export function expectMatchesReference(
  actual: Record<string, ArrayLike<number> | number> | ArrayLike<number> | number,
  expected: Record<string, ArrayLike<number> | number> | ArrayLike<number> | number,
  opts: MatchOptions,
): void {
  const asRecord = (
    v: Record<string, ArrayLike<number> | number> | ArrayLike<number> | number,
  ): Record<string, ArrayLike<number> | number> =>
    typeof v === 'number' || isArrayLike(v) ? { out: v } : v;
  const act = asRecord(actual);
  const exp = asRecord(expected);
  for (const key of Object.keys(exp)) {
    const a = act[key];
    if (a === undefined) expect.fail(`${opts.label}: result has no field '${key}'`);
    const atol =
      opts.atol === undefined || typeof opts.atol === 'number' ? opts.atol : opts.atol[key];
    expectClose(a, exp[key]!, {
      rtol: opts.rtol,
      atol,
      label: `${opts.label} ${key}`,
      cols: opts.cols,
    });
  }
}

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return ArrayBuffer.isView(v) || Array.isArray(v);
}

/** Largest |x| (0 for an empty array). */
export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Expects two Float32Arrays to hold exactly the same bits (NaN payloads included). */
export function expectSameBits(actual: Float32Array, expected: Float32Array, label = 'values'): void {
  if (actual.length !== expected.length) {
    expect.fail(`${label}: length ${actual.length} differs from ${expected.length}`);
  }
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) {
      expect.fail(`${label}: first differing bits at index ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Guarded outputs.

const GUARD_WORDS = 16;
const GUARD_BITS = 0x7fc0beef; // a NaN payload no kernel produces by arithmetic

export interface Guarded {
  /** The output view: `n` elements, pre-filled with `fill` (NaN by default). */
  view: Float32Array;
  /** Throws if any guard word before or after the view changed. */
  check(label?: string): void;
}

/** A Float32Array view of length n inside a larger buffer, guard words on both sides. */
export function guarded(n: number, fill = NaN): Guarded {
  const buffer = new Float32Array(n + 2 * GUARD_WORDS);
  const bits = new Uint32Array(buffer.buffer);
  bits.fill(GUARD_BITS);
  const view = buffer.subarray(GUARD_WORDS, GUARD_WORDS + n);
  view.fill(fill);
  return {
    view,
    check(label = 'output') {
      for (let i = 0; i < GUARD_WORDS; i++) {
        if (bits[i] !== GUARD_BITS) expect.fail(`${label}: guard word ${GUARD_WORDS - i} before the buffer overwritten`);
        if (bits[GUARD_WORDS + n + i] !== GUARD_BITS) expect.fail(`${label}: guard word ${i} after the buffer (element ${n + i}) overwritten`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Configurations: every kernel test runs once per SIMD level the machine supports and per
// thread count (1 and all), restoring the fastest level and all threads afterwards. The
// backend is passed in (not imported) so this file stays usable without the native addon.

export type SimdLevel = 'scalar' | 'avx2' | 'avx512';
export const SIMD_LEVELS: readonly SimdLevel[] = ['scalar', 'avx2', 'avx512'];

export interface ConfigurableBackend {
  setSimdLevel(level: SimdLevel): string;
  getSimdLevel(): string;
  maxSimdLevel(): string;
  setNumThreads(n: number): number;
  getNumThreads(): number;
}

export interface KernelConfig {
  level: SimdLevel;
  threads: number;
  label: string;
}

/** Levels up to backend.maxSimdLevel() (higher ones are left out, not skipped) × {1, all} threads. */
export function kernelConfigs(b: ConfigurableBackend, allThreads: number): KernelConfig[] {
  const max = b.maxSimdLevel();
  const maxIndex = SIMD_LEVELS.indexOf(max as SimdLevel);
  if (maxIndex < 0) throw new RangeError(`kernelConfigs: unknown maxSimdLevel ${max}`);
  const threadCounts = allThreads > 1 ? [1, allThreads] : [1];
  const configs: KernelConfig[] = [];
  for (const level of SIMD_LEVELS.slice(0, maxIndex + 1)) {
    for (const threads of threadCounts) {
      configs.push({ level, threads, label: `simd=${level}, threads=${threads}` });
    }
  }
  return configs;
}

/** Switches the backend to `cfg`, asserting that exactly that level and thread count took effect. */
export function applyConfig(b: ConfigurableBackend, cfg: KernelConfig): void {
  expect(b.setSimdLevel(cfg.level), `setSimdLevel('${cfg.level}')`).toBe(cfg.level);
  expect(b.getSimdLevel()).toBe(cfg.level);
  expect(b.setNumThreads(cfg.threads), `setNumThreads(${cfg.threads})`).toBe(cfg.threads);
  expect(b.getNumThreads()).toBe(cfg.threads);
}

/**
 * The configurations a kernel test file loops over (every SIMD level up to the machine's × 1 and
 * all threads), registering an afterAll that restores the best level and all threads.
 */
export function kernelConfigSuite(b: ConfigurableBackend & { native(): { info(): { poolThreads: number } } }): KernelConfig[] {
  const allThreads = Math.max(b.getNumThreads(), b.native().info().poolThreads);
  const maxLevel = b.maxSimdLevel() as SimdLevel;
  afterAll(() => {
    b.setSimdLevel(maxLevel);
    b.setNumThreads(allThreads);
    expect(b.getSimdLevel()).toBe(maxLevel);
  });
  return kernelConfigs(b, allThreads);
}
