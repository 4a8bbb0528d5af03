// bench/audio.bench.ts — the audio front end: log-mel real-time factor (seconds of 16 kHz audio
// per second of compute) on 60 s of audio at 1 and 2 threads, the size-512 real FFT alone
// (measureRfftFlops: one L1-resident frame per thread) in GFLOP/s counted as 5·N·log2(N)/2 =
// 11520 flops per transform against the FMA peak measured in this run (the log-mel rows count
// the same FFT flops per frame, so their GFLOP/s is a lower bound on the FFT's share), and the
// TypeScript resampler 44.1 kHz → 16 kHz on 60 s. No timing is asserted.
import { audio, backend } from '../lib/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';

const FFT_FLOPS = (5 * 512 * 9) / 2;

export function runAudioBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  const seconds = 60;
  const n = 16000 * seconds;
  const x = Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * 0.173) + 0.1 * Math.sin(i * 1.37));
  const frames = audio.logmelFrames(n);
  const out = new Float32Array(frames * audio.LOGMEL_BINS);
  const before = backend.getNumThreads();
  const peak = (t: number): number => (t === 1 ? limits.peakGflops1 : (limits.peakGflopsAll * t) / limits.threads);
  try {
    for (const threads of [1, 2].filter((t) => t <= limits.threads)) {
      backend.setNumThreads(threads);
      const name = `logmel 60 s @16 kHz, ${threads} thread${threads > 1 ? 's' : ''}`;
      const r = measure(name, () => audio.logMel(x, { out }), { maxTime: 1 });
      const gflops = (frames * FFT_FLOPS) / r.median / 1e9;
      rows.push({ kernel: name, 'ms (median)': r.median * 1e3, 'audio s / s': seconds / r.median, 'GFLOP/s (FFT)': gflops, '% of peak': (100 * gflops) / peak(threads) });
      results.push({ kernel: name, threads, frames, medianSeconds: r.median, samples: r.samples, rme: r.rme, realTimeFactor: seconds / r.median, fftGflops: gflops, peakGflops: peak(threads) });
    }
    for (const threads of [1, 2].filter((t) => t <= limits.threads)) {
      const name = `rfft512 alone, ${threads} thread${threads > 1 ? 's' : ''}`;
      const g = backend.native().measureRfftFlops({ threads, seconds: 0.5 });
      rows.push({ kernel: name, 'ms (median)': '', 'audio s / s': '', 'GFLOP/s (FFT)': g, '% of peak': (100 * g) / peak(threads) });
      results.push({ kernel: name, threads, gflops: g, peakGflops: peak(threads) });
    }
  } finally {
    backend.setNumThreads(before);
  }
  const x44 = Float32Array.from({ length: 44100 * seconds }, (_, i) => Math.sin(i * 0.05));
  const name = 'resample 60 s 44.1 kHz → 16 kHz (TS, 1 thread)';
  const r = measure(name, () => audio.resample(x44, 44100, 16000), { maxTime: 1, minSamples: 2 });
  rows.push({ kernel: name, 'ms (median)': r.median * 1e3, 'audio s / s': seconds / r.median, 'GFLOP/s (FFT)': '', '% of peak': '' });
  results.push({ kernel: name, medianSeconds: r.median, samples: r.samples, realTimeFactor: seconds / r.median });
  return { rows, results };
}
