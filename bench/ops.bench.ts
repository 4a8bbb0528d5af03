// bench/ops.bench.ts — the memory-bound kernels (LayerNorm, GELU, softmax, cross-entropy,
// AdamW) in GB/s of compulsory traffic (each input read once, each output written once)
// against the read bandwidth and the STREAM-triad bandwidth (read + write) measured in this
// run. Working sets are ≥ 3× the last-level cache (32 MB here) except the cross-entropy rows,
// which are MER-sized and cached.
import { kernels } from '../lib/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';

function filled(n: number, f: (i: number) => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

export function runOpsBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  const rowsN = 48000, dim = 512; // 4 × (batch 32 × 375 tokens) × d 512: 98 MB per tensor
  const n = rowsN * dim;
  const x = filled(n, (i) => Math.sin(i * 0.37));
  const g = filled(n, (i) => Math.cos(i * 0.11));
  const w = filled(dim, () => 1.1), b = filled(dim, () => 0.1);
  const out = new Float32Array(n), dx = new Float32Array(n);
  const mean = new Float32Array(rowsN), rstd = new Float32Array(rowsN);
  const dW = new Float32Array(dim), dB = new Float32Array(dim);
  const ffnRows = 12000; // the FFN hidden activations at batch 32 × 375 tokens: 98 MB
  const ffn = filled(ffnRows * 2048, (i) => Math.sin(i * 0.013));
  const ffnOut = new Float32Array(ffnRows * 2048);
  const clsRows = 32 * 8, cls = 4096;
  const logits = filled(clsRows * cls, (i) => Math.sin(i));
  const targets = Int32Array.from({ length: clsRows }, (_, i) => (i * 7) % cls);
  const lse = new Float32Array(clsRows), dLogits = new Float32Array(clsRows * cls);
  const P = 16_000_000;
  const param = filled(P, (i) => Math.sin(i)), grad = filled(P, (i) => Math.cos(i)), m = new Float32Array(P), v = new Float32Array(P);
  let step = 0;
  const F = 4; // bytes per float
  const cases: Array<{ name: string; bytes: number; fn: () => void }> = [
    { name: 'layernormForward 48000×512', bytes: F * (2 * n + 2 * rowsN), fn: () => kernels.layernormForward({ x, weight: w, bias: b, rows: rowsN, dim, out, mean, rstd }) },
    { name: 'layernormBackward 48000×512', bytes: F * (3 * n + 2 * rowsN), fn: () => kernels.layernormBackward({ dOut: g, x, weight: w, mean, rstd, rows: rowsN, dim, dx, dWeight: dW, dBias: dB }) },
    { name: 'gelu(erf) fwd 12000×2048', bytes: F * 2 * ffn.length, fn: () => kernels.geluForward({ x: ffn, out: ffnOut }) },
    { name: 'gelu(tanh) fwd 12000×2048', bytes: F * 2 * ffn.length, fn: () => kernels.geluForward({ x: ffn, out: ffnOut, approximate: 'tanh' }) },
    { name: 'quickGelu fwd 12000×2048', bytes: F * 2 * ffn.length, fn: () => kernels.geluForward({ x: ffn, out: ffnOut, approximate: 'quick' }) },
    { name: 'gelu(erf) bwd 48000×512', bytes: F * 3 * n, fn: () => kernels.geluBackward({ dOut: g, x, dx }) },
    { name: 'softmax 48000×512', bytes: F * 2 * n, fn: () => kernels.softmaxForward({ x, rows: rowsN, cols: dim, out }) },
    { name: 'softmaxBackward 48000×512', bytes: F * 3 * n, fn: () => kernels.softmaxBackward({ dOut: g, out: x, rows: rowsN, cols: dim, dx }) },
    { name: 'xent fwd 256×4096', bytes: F * (logits.length + 2 * clsRows), fn: () => kernels.softmaxXentForward({ logits, targets, rows: clsRows, cols: cls, lse }) },
    { name: 'xent bwd 256×4096', bytes: F * (2 * logits.length + 2 * clsRows), fn: () => kernels.softmaxXentBackward({ logits, lse, targets, rows: clsRows, cols: cls, dLogits }) },
    { name: 'adamwStep 16M params', bytes: F * 7 * P, fn: () => kernels.adamwStep({ param, grad, m, v, lr: 1e-4, step: ++step }) },
  ];
  for (const c of cases) {
    const r = measure(c.name, c.fn, { maxTime: 1 });
    const gbs = c.bytes / r.median / 1e9;
    rows.push({ kernel: c.name, 'MB moved': c.bytes / 1e6, 'ms (median)': r.median * 1e3, 'GB/s': gbs, '% of read bw': (100 * gbs) / limits.readGBs, '% of triad bw': (100 * gbs) / limits.triadGBs, 'faults/call': r.faultsPerCall });
    results.push({ kernel: c.name, bytes: c.bytes, medianSeconds: r.median, samples: r.samples, rme: r.rme, faultsPerCall: r.faultsPerCall, gbs, triadGBs: limits.triadGBs, readGBs: limits.readGBs });
  }
  return { rows, results };
}
