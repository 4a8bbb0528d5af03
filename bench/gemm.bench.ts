// bench/gemm.bench.ts — GEMM GFLOP/s against the measured fp32 peak, 1 thread and all threads.
// Shapes: 512³; the FFN of MER-CLIP at batch 32 × 375 tokens (12000×2048×512) and its backward
// (dX = dY·W: 12000×512×2048, dW = dYᵀ·X: 2048×512×12000 with transA); a decoder-sized 32×512×512;
// the linear layer's forward form Y = X·Wᵀ (transB); one sample's 7 label queries through a Linear.
import { backend, kernels } from '../lib/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';
import { cappedOpenblasCoretype, runTorch, type TorchRun } from './torch.js';

interface Shape { name: string; m: number; n: number; k: number; transA: boolean; transB: boolean }

export const GEMM_SHAPES: Shape[] = [
  { name: '512³', m: 512, n: 512, k: 512, transA: false, transB: false },
  { name: 'FFN up (X·W1)', m: 12000, n: 2048, k: 512, transA: false, transB: false },
  { name: 'FFN down, Y=X·Wᵀ', m: 12000, n: 512, k: 2048, transA: false, transB: true },
  { name: 'FFN bwd dX=dY·W', m: 12000, n: 512, k: 2048, transA: false, transB: false },
  { name: 'FFN bwd dW=dYᵀ·X', m: 2048, n: 512, k: 12000, transA: true, transB: false },
  { name: 'decoder 32×512×512', m: 32, n: 512, k: 512, transA: false, transB: false },
  { name: 'decoder Y=X·Wᵀ', m: 32, n: 512, k: 512, transA: false, transB: true },
  // one sample's decoder: its 7 label queries through a Linear layer (the dot form at AVX2 / AVX-512)
  { name: 'labels 7×512×512 Y=X·Wᵀ', m: 7, n: 512, k: 512, transA: false, transB: true },
];

function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

interface TorchGemm { torch: string; blas: string; coretype?: string; threads: number; results: Array<{ name: string; threads: number; medianSeconds: number }> }
type TorchRuns = TorchRun<TorchGemm>[];

function torchSecondsIn(runs: TorchRuns, name: string, threads: number): number | undefined {
  for (const run of runs) {
    if (!run.ok) continue;
    const hit = run.data.results.find((r) => r.name === name && r.threads === threads);
    if (hit) return hit.medianSeconds;
  }
  return undefined;
}

export function runGemmBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  const all = backend.poolThreads();
  // PyTorch first (its own processes, one per thread count), on the same machine state. When the
  // kernels run below the CPU's best level (MERCLIP_SIMD=avx2 on an AVX-512 CPU), OpenBLAS is
  // also run with its kernels of that level ('torch@avx2'): the comparison an AVX2-only CPU
  // would give. Its default choice (AVX-512 here) stays in 'torch ms'.
  const torchRuns: TorchRuns = [1, all].map((threads) => runTorch<TorchGemm>('gemm.py', { threads, shapes: GEMM_SHAPES }, threads));
  const torch = torchRuns.find((r) => !r.ok) ?? torchRuns[0]!;
  const capped = cappedOpenblasCoretype(limits.simd, backend.info().maxSimdLevel);
  const levelRuns: TorchRuns = capped
    ? [1, all].map((threads) => runTorch<TorchGemm>('gemm.py', { threads, shapes: GEMM_SHAPES }, threads, undefined, ['--openblas-coretype', capped]))
    : [];
  const torchSeconds = (name: string, threads: number): number | undefined => torchSecondsIn(torchRuns, name, threads);
  for (const s of GEMM_SHAPES) {
    const a = randomArray(s.m * s.k, 1);
    const b = randomArray(s.k * s.n, 2);
    const c = new Float32Array(s.m * s.n);
    const flop = 2 * s.m * s.n * s.k;
    const perThreads: Record<number, number> = {};
    for (const threads of [1, all]) {
      backend.setNumThreads(threads);
      const r = measure(`gemm ${s.name} t${threads}`, () => {
        kernels.gemm({ a, b, c, m: s.m, n: s.n, k: s.k, transA: s.transA, transB: s.transB });
      }, { maxTime: flop > 1e10 ? 3 : 1 });
      const gflops = flop / r.median / 1e9;
      perThreads[threads] = gflops;
      const peak = threads === 1 ? limits.peakGflops1 : limits.peakGflopsAll;
      const tSec = torchSeconds(s.name, threads);
      rows.push({
        shape: s.name,
        'm×n×k': `${s.m}×${s.n}×${s.k}`,
        threads,
        'ms (median)': r.median * 1e3,
        'GFLOP/s': gflops,
        '% of peak': (100 * gflops) / peak,
        'faults/call': r.faultsPerCall,
        'torch ms': tSec === undefined ? '-' : tSec * 1e3,
        'vs torch': tSec === undefined ? '-' : tSec / r.median,
      });
      const lSec = capped ? torchSecondsIn(levelRuns, s.name, threads) : undefined;
      if (capped) {
        rows[rows.length - 1]![`torch@${limits.simd} ms`] = lSec === undefined ? '-' : lSec * 1e3;
        rows[rows.length - 1]![`vs torch@${limits.simd}`] = lSec === undefined ? '-' : lSec / r.median;
      }
      results.push({
        ...s, threads, medianSeconds: r.median, samples: r.samples, rme: r.rme, faultsPerCall: r.faultsPerCall,
        gflops, peakGflops: peak, fractionOfPeak: gflops / peak, torchMedianSeconds: tSec ?? null,
        torchLevelMedianSeconds: lSec ?? null, torchLevelCoretype: capped ?? null,
      });
    }
    const last = rows[rows.length - 1]!;
    last['speedup vs 1 thr'] = perThreads[all]! / perThreads[1]!;
    rows[rows.length - 2]!['speedup vs 1 thr'] = 1;
  }
  backend.setNumThreads(all);
  if (torch.ok) {
    console.log(`\nPyTorch ${torch.data.torch} (BLAS: ${torch.data.blas}) ran the same shapes with 1 and ${all} threads; 'vs torch' = torch time / merclip time.`);
    // Debian's python3-torch alone runs on the netlib reference BLAS (20–70× slower than
    // OpenBLAS): those ratios would compare against nothing anyone uses.
    if (torch.data.blas !== 'openblas') console.log(`WARNING: PyTorch is not using OpenBLAS (BLAS: ${torch.data.blas}); 'vs torch' is not the SPEC §7 comparison — install libopenblas0-pthread (Debian) and rerun.`);
  } else console.log(`\nPyTorch comparison skipped: ${torch.reason}.`);
  if (capped) {
    const bad = levelRuns.find((r) => !r.ok);
    if (bad && !bad.ok) console.log(`PyTorch with OPENBLAS_CORETYPE=${capped} skipped: ${bad.reason}.`);
    else console.log(`'torch@${limits.simd}': the same PyTorch with OPENBLAS_CORETYPE=${capped} (OpenBLAS's ${limits.simd} kernels), as on a CPU without a higher level.`);
  }
  return { rows, results };
}
