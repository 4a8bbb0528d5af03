// bench/peak.ts — this machine's limits, measured in this run: fp32 FMA peak (1 thread and all
// threads; register-resident accumulators, no memory traffic) at the SIMD level the kernels run
// at (merclip's current level, i.e. the CPU's best capped by MERCLIP_SIMD: on a core with a full
// 512-bit unit the AVX2 peak is half the AVX-512 one, so AVX2 kernels are measured against AVX2
// FMAs), and memory read bandwidth and STREAM-triad bandwidth (read + write traffic), on buffers
// well past the last-level cache, touched before timing.
import { backend } from '../lib/index.js';

export interface MachineLimits {
  /** The SIMD level the kernels and the peak loop ran at. */
  simd: string;
  threads: number;
  peakGflops1: number;
  peakGflopsAll: number;
  /** GB/s reading a 512 MiB buffer with all threads. */
  readGBs: number;
  /** GB/s (2 read + 1 written) of a STREAM triad over three 170 MiB arrays, all threads. */
  triadGBs: number;
}

export function measureLimits(): MachineLimits {
  const native = backend.native();
  const threads = backend.poolThreads();
  const simd = backend.getSimdLevel();
  const peakGflops1 = native.measurePeakFlops({ threads: 1, seconds: 0.5, simd });
  const peakGflopsAll = native.measurePeakFlops({ threads, seconds: 0.5, simd });
  const buffer = new Float32Array(128 << 20); // 512 MiB
  buffer.fill(1); // touch every page before timing
  const readGBs = native.measureReadBandwidth({ buffer, threads, reps: 5 });
  const third = Math.floor(buffer.length / 3);
  const triadGBs = native.measureTriadBandwidth({
    a: buffer.subarray(0, third), b: buffer.subarray(third, 2 * third), c: buffer.subarray(2 * third, 3 * third), threads, reps: 5,
  });
  return { simd, threads, peakGflops1, peakGflopsAll, readGBs, triadGBs };
}
