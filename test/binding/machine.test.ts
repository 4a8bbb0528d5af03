// The machine-facing bindings: SIMD level and thread controls, and the peak / bandwidth probes
// the benchmarks use. Valid calls return sane values; bad arguments throw named JS errors.
import { afterAll, describe, expect, it } from 'vitest';

import { backend } from '../../lib/index.js';

const native = backend.native();
const levels = backend.availableSimdLevels();
const maxLevel = backend.maxSimdLevel();
const pool = backend.poolThreads();

afterAll(() => {
  backend.setSimdLevel(maxLevel);
  backend.setNumThreads(pool);
});

describe('SIMD level and threads', () => {
  it('every available level can be selected and read back; a higher one is clamped', () => {
    for (const l of levels) {
      expect(backend.setSimdLevel(l)).toBe(l);
      expect(backend.getSimdLevel()).toBe(l);
    }
    expect(backend.setSimdLevel('avx512')).toBe(maxLevel);
  });

  it('setNumThreads accepts 1 … pool size', () => {
    expect(backend.setNumThreads(1)).toBe(1);
    expect(backend.getNumThreads()).toBe(1);
    expect(backend.setNumThreads(pool)).toBe(pool);
  });

  it.each([
    ['setSimdLevel', () => native.setSimdLevel('sse' as never), RangeError, /setSimdLevel: expected level to be one of 'scalar', 'avx2', 'avx512', 'neon', received 'sse'/],
    ['setSimdLevel', () => native.setSimdLevel(2 as never), TypeError, /setSimdLevel: expected level/],
    ['setNumThreads', () => native.setNumThreads(0), RangeError, /setNumThreads: expected n to be an integer in \[1, \d+\], received 0/],
    ['setNumThreads', () => native.setNumThreads(pool + 1), RangeError, /setNumThreads: expected n/],
    ['setNumThreads', () => native.setNumThreads(1.5), RangeError, /received 1\.5/],
    ['setNumThreads', () => native.setNumThreads('2' as never), TypeError, /setNumThreads: expected n/],
  ])('%s rejects bad input (%#)', (_name, call, cls, msg) => {
    expect(call).toThrow(cls);
    expect(call).toThrow(msg);
  });
});

describe('peak and bandwidth probes', () => {
  it('measurePeakFlops returns a positive GFLOP/s at each level', () => {
    for (const simd of levels) {
      const g = native.measurePeakFlops({ threads: 1, seconds: 0.02, simd });
      expect(g).toBeGreaterThan(0.1);
      expect(Number.isFinite(g)).toBe(true);
    }
  });

  it('bandwidth probes return positive GB/s', () => {
    const buf = new Float32Array(3 << 16).fill(1);
    expect(native.measureReadBandwidth({ buffer: buf, threads: pool, reps: 2 })).toBeGreaterThan(0);
    const t = buf.length / 3;
    expect(native.measureTriadBandwidth({ a: buf.subarray(0, t), b: buf.subarray(t, 2 * t), c: buf.subarray(2 * t), threads: 1, reps: 2 })).toBeGreaterThan(0);
  });

  it.each([
    [() => native.measurePeakFlops({ threads: 0, seconds: 0.01 }), RangeError, /measurePeakFlops: expected threads to be an integer in \[1, \d+\], received 0/],
    [() => native.measurePeakFlops({ threads: 1, seconds: 0 }), RangeError, /measurePeakFlops: expected seconds to be a finite number in \(0, 60\], received 0/],
    [() => native.measurePeakFlops({ threads: 1, seconds: Number.NaN }), RangeError, /expected seconds .* received NaN/],
    [() => native.measurePeakFlops(undefined as never), TypeError, /measurePeakFlops: expected an options object, received undefined/],
    [() => native.measureReadBandwidth({ buffer: new Float64Array(4) as never, threads: 1, reps: 1 }), TypeError, /measureReadBandwidth: expected buffer to be a Float32Array, received Float64Array/],
    [() => native.measureReadBandwidth({ buffer: new Float32Array(4), threads: 1, reps: 0 }), RangeError, /expected reps to be an integer in \[1, 1000\], received 0/],
    [() => native.measureTriadBandwidth({ a: new Float32Array(4), b: new Float32Array(3), c: new Float32Array(4), threads: 1, reps: 1 }), RangeError, /measureTriadBandwidth: expected b to be a Float32Array of length 4 \(a\.length\), received length 3/],
    [() => { const x = new Float32Array(8); return native.measureTriadBandwidth({ a: x.subarray(0, 4), b: x.subarray(2, 6), c: new Float32Array(4), threads: 1, reps: 1 }); }, RangeError, /measureTriadBandwidth: expected a not to overlap b/],
  ])('rejects bad input (%#)', (call, cls, msg) => {
    expect(call).toThrow(cls);
    expect(call).toThrow(msg);
  });
});
