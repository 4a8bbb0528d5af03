// bench/cosine.bench.ts — batched cosine similarity against this run's limits:
// few labels (C 7) in GB/s of compulsory traffic (x read, plus dx written by the backward)
// against the read bandwidth — issue 20's targets: forward >= 75 %, backward >= 60 % at the
// AVX2 level, 2 threads (`npm run bench -- cosine --simd avx2,avx512`); the paired form (the
// prediction head, h [B, C, dim]) the same way; many labels (C 10,000) in GFLOP/s (2·N·C·dim)
// against the fp32 peak; top-k over C 100,000 labels (k 5). The rows run at the level the
// title names (MERCLIP_SIMD caps it).
import { kernels } from '../lib/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

export function runCosineBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  const dim = 512;
  const scale = 1 / 0.07;
  const cases: Array<{ name: string; n: number; c: number; k?: number; backward?: boolean; paired?: boolean }> = [
    { name: 'forward, few labels', n: 4096, c: 7 },
    { name: 'forward, few labels', n: 65536, c: 7 },
    { name: 'backward, few labels', n: 65536, c: 7, backward: true },
    { name: 'paired forward', n: 9362, c: 7, paired: true },
    { name: 'paired backward', n: 9362, c: 7, paired: true, backward: true },
    { name: 'forward, many labels', n: 4096, c: 10000 },
    { name: 'top-k (k 5)', n: 32, c: 100000, k: 5 },
  ];
  for (const cs of cases) {
    const rowsX = cs.paired ? cs.n * cs.c : cs.n; // rows of x (h for the paired form)
    const x = filled(rowsX * dim, 1);
    const e = filled(cs.c * dim, 2);
    let fn: () => void;
    if (cs.paired && cs.backward) {
      const out = kernels.cosinePaired({ h: x, e, batch: cs.n, c: cs.c, dim, scale });
      const dOut = filled(cs.n * cs.c, 3), dh = new Float32Array(x.length), de = new Float32Array(e.length);
      fn = () => kernels.cosinePairedBackward({ dOut, out, h: x, e, batch: cs.n, c: cs.c, dim, scale, dh, de });
    } else if (cs.paired) {
      const out = new Float32Array(cs.n * cs.c);
      fn = () => kernels.cosinePaired({ h: x, e, batch: cs.n, c: cs.c, dim, scale, out });
    } else if (cs.k !== undefined) {
      const indices = new Int32Array(cs.n * cs.k), scores = new Float32Array(cs.n * cs.k);
      fn = () => kernels.cosineTopk({ x, e, n: cs.n, c: cs.c, dim, k: cs.k!, scale, indices, scores });
    } else if (cs.backward) {
      const out = kernels.cosineForward({ x, e, n: cs.n, c: cs.c, dim, scale });
      const dOut = filled(cs.n * cs.c, 3), dx = new Float32Array(x.length), de = new Float32Array(e.length);
      fn = () => kernels.cosineBackward({ dOut, out, x, e, n: cs.n, c: cs.c, dim, scale, dx, de });
    } else {
      const out = new Float32Array(cs.n * cs.c);
      fn = () => kernels.cosineForward({ x, e, n: cs.n, c: cs.c, dim, scale, out });
    }
    const r = measure(`cosine ${cs.name} ${cs.n}×${cs.c}`, fn, { maxTime: 1.5 });
    const dots = cs.paired ? rowsX : cs.n * cs.c; // dot products of dim terms
    const flop = 2 * dots * dim * (cs.backward ? 2 : 1);
    const gflops = flop / r.median / 1e9;
    // Compulsory traffic: x (and dx) once; e is cache-resident for few labels.
    const bytes = 4 * rowsX * dim * (cs.backward ? 2 : 1) + 4 * cs.c * dim;
    const gbs = bytes / r.median / 1e9;
    rows.push({
      case: cs.name,
      'N×C×dim': cs.paired ? `B ${cs.n}×${cs.c}×${dim}` : `${cs.n}×${cs.c}×${dim}`,
      'ms (median)': r.median * 1e3,
      'GFLOP/s': gflops,
      '% of peak': (100 * gflops) / limits.peakGflopsAll,
      'GB/s': gbs,
      '% of read bw': (100 * gbs) / limits.readGBs,
      'faults/call': r.faultsPerCall,
    });
    results.push({ ...cs, dim, medianSeconds: r.median, samples: r.samples, rme: r.rme, faultsPerCall: r.faultsPerCall, gflops, gbs, peakGflops: limits.peakGflopsAll, readGBs: limits.readGBs });
  }
  return { rows, results };
}
