// bench/attention.bench.ts — fused attention over packed sequences (q [Tq, H·Dh], k, v
// [Tk, H·Dh], per-sample offsets; lib/kernels/attention.ts) against this run's fp32 peak and
// against an unfused composition of the package's own kernels on the padded [B·H, L, Dh] blocks
// (batched GEMM S = scale·QKᵀ, row softmax, batched GEMM P·V; it materialises S and ignores the
// padding, i.e. it does at least the fused kernel's work). "pad" shapes run with real lengths,
// as the model does: self-attention packs both queries and keys to the valid tokens (lengths
// uniform in [0.4·L, L]), cross-attention has Lq queries per sample over its valid keys; the
// other shapes are the uniform-offset (padded) case. FLOPs count only work actually done (issue
// 20): the valid query rows against their valid keys (forward 4·H·Dh·Σ_b Lq_b·Lk_b, causal:
// Σ_b 4·H·Dh·Lq_b·(Lk_b + 1)/2; forward + backward 3.5× the forward), so "% peak" never
// credits padding; "padded GFLOP/s" is the old figure (the padded B·Lq·Lk shape over the same
// time), for comparison with earlier runs. Also the memory curve: peak RSS of a fresh
// process running a B 1, H 1, Lq = Lk = 1024 … 32768 forward, with the growth fitted in log-log.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { backend, kernels } from '../lib/index.js';
import { packageRoot } from '../lib/backend/index.js';
import { measure, type Row } from './harness.js';
import type { MachineLimits } from './peak.js';
import { runTorch } from './torch.js';

interface Shape { name: string; b: number; h: number; lq: number; lk: number; dh: number; causal?: boolean; pad?: boolean }

export const ATTENTION_SHAPES: Shape[] = [
  { name: 'decoder cross', b: 32, h: 8, lq: 7, lk: 375, dh: 64, pad: true },
  { name: 'decoder cross', b: 32, h: 8, lq: 7, lk: 500, dh: 64, pad: true },
  { name: 'encoder self', b: 32, h: 8, lq: 375, lk: 375, dh: 64, pad: true },
  { name: 'encoder self', b: 32, h: 8, lq: 500, lk: 500, dh: 64, pad: true },
  { name: 'CLIP text causal', b: 32, h: 8, lq: 77, lk: 77, dh: 64, causal: true },
  { name: 'long', b: 8, h: 8, lq: 1024, lk: 1024, dh: 64 },
  { name: 'MulT head dim 6', b: 32, h: 5, lq: 375, lk: 375, dh: 6, pad: true },
];

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

/** Key lengths uniform in [0.4·lk, lk], deterministic. */
function keyLengths(b: number, lk: number): Int32Array {
  const out = new Int32Array(b);
  let s = 12345;
  for (let i = 0; i < b; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = Math.round(0.4 * lk + (s / 4294967296) * 0.6 * lk);
  }
  return out;
}

/**
 * Peak RSS of a fresh process running one self-attention forward (B 1, H 1, Lq = Lk, Dh 64):
 * `aboveStartMB` = peak − RSS at start (inputs + outputs + kernel memory). Inputs and outputs
 * grow linearly in Lk; a materialised score matrix would add Lk²·4 bytes (4.3 GB at 32768).
 */
function memoryCurve(): Array<{ lk: number; aboveStartMB: number; duringCallMB: number }> {
  const entry = join(packageRoot(), 'dist', 'index.js');
  const points: Array<{ lk: number; aboveStartMB: number; duringCallMB: number }> = [];
  for (const lk of [1024, 2048, 4096, 8192, 16384, 32768]) {
    // VmHWM (peak RSS) from /proc, reset to the current RSS at start via clear_refs ("5"), so
    // the peak measured is this run's, not the process start-up's.
    const script = `
      import { readFileSync, writeFileSync } from 'node:fs';
      const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const { kernels } = await import(${JSON.stringify('file://' + entry)});
      const d = 64, lk = ${lk};
      try { writeFileSync('/proc/self/clear_refs', '5'); } catch {}
      const start = hwm();
      const q = new Float32Array(lk * d).fill(0.01), k = new Float32Array(lk * d).fill(0.02), v = new Float32Array(lk * d).fill(0.03);
      const before = hwm();
      const cu = Int32Array.of(0, lk);
      kernels.attentionForward({ q, k, v, batch: 1, heads: 1, headDim: d, cuSeqlensQ: cu, cuSeqlensK: cu });
      console.log(JSON.stringify({ start, before, after: hwm() }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) break;
    const j = JSON.parse(r.stdout) as { start: number; before: number; after: number };
    points.push({ lk, aboveStartMB: (j.after - j.start) / 1024, duringCallMB: (j.after - j.before) / 1024 });
  }
  return points;
}

export function runAttentionBench(limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  const native = backend.native() as unknown as Record<string, unknown>;
  if (typeof native.attentionForward !== 'function') {
    console.log('\nattention: this addon has no attention kernels yet (skipped).');
    return { rows, results };
  }
  // PyTorch's composition (matmul + masked softmax + matmul, autograd for the backward) first, in
  // its own process with every thread.
  const all = backend.poolThreads();
  const torch = runTorch<{ torch: string; results: Array<{ name: string; lq: number; lk: number; forwardSeconds: number; forwardBackwardSeconds: number }> }>(
    'attention.py',
    { threads: all, shapes: ATTENTION_SHAPES.map((s) => ({ ...s, keyLengths: s.pad ? Array.from(keyLengths(s.b, s.lk)) : null })) },
    all,
  );
  const torchFor = (s: Shape) => (torch.ok ? torch.data.results.find((r) => r.name === s.name && r.lq === s.lq && r.lk === s.lk) : undefined);
  for (const s of ATTENTION_SHAPES) {
    const nq = s.b * s.h * s.lq * s.dh, nk = s.b * s.h * s.lk * s.dh;
    // packed rows: real key lengths (and, for self-attention, the same query lengths)
    const kl = s.pad ? keyLengths(s.b, s.lk) : new Int32Array(s.b).fill(s.lk);
    const ql = s.pad && s.lq === s.lk ? kl : new Int32Array(s.b).fill(s.lq);
    const offsets = (lens: Int32Array): Int32Array => {
      const cu = new Int32Array(lens.length + 1);
      lens.forEach((l, b) => { cu[b + 1] = cu[b]! + l; });
      return cu;
    };
    const cuSeqlensQ = offsets(ql), cuSeqlensK = offsets(kl);
    const W = s.h * s.dh, tq = cuSeqlensQ[s.b]!, tk = cuSeqlensK[s.b]!;
    const q = filled(tq * W, 1), k = filled(tk * W, 2), v = filled(tk * W, 3), dOut = filled(tq * W, 4);
    const base = { batch: s.b, heads: s.h, headDim: s.dh, cuSeqlensQ, cuSeqlensK, causal: !!s.causal };
    const out = new Float32Array(tq * W), lse = new Float32Array(s.h * tq);
    const dq = new Float32Array(tq * W), dk = new Float32Array(tk * W), dv = new Float32Array(tk * W);
    let real = 0;
    for (let b = 0; b < s.b; b++) real += 4 * s.h * s.dh * ql[b]! * (s.causal ? (kl[b]! + 1) / 2 : kl[b]!);
    const fwd = measure(`attention fwd ${s.name}`, () => kernels.attentionForward({ ...base, q, k, v, out, lse }), { maxTime: 1.5 });
    const bwd = measure(`attention bwd ${s.name}`, () => kernels.attentionBackward({ ...base, q, k, v, out, lse, dOut, dq, dk, dv }), { maxTime: 1.5 });
    // Unfused: S = scale·Q·Kᵀ (batched GEMM), softmax, O = P·V.
    const sMat = new Float32Array(s.b * s.h * s.lq * s.lk), o2 = new Float32Array(nq);
    const qp = filled(nq, 1), kp = filled(nk, 2), vp = filled(nk, 3);
    const scale = 1 / Math.sqrt(s.dh);
    const unfused = measure(`attention unfused ${s.name}`, () => {
      kernels.gemmBatched({ a: qp, b: kp, c: sMat, batch: s.b * s.h, m: s.lq, n: s.lk, k: s.dh, transB: true, alpha: scale });
      kernels.softmax({ x: sMat, out: sMat, rows: s.b * s.h * s.lq, cols: s.lk });
      kernels.gemmBatched({ a: sMat, b: vp, c: o2, batch: s.b * s.h, m: s.lq, n: s.dh, k: s.lk });
    }, { maxTime: 1.5 });
    const t = torchFor(s);
    const flopF = 4 * s.b * s.h * s.lq * s.lk * s.dh * (s.causal ? 0.5 : 1);
    const gF = real / fwd.median / 1e9;  // valid keys only
    const gFB = (3.5 * real) / (fwd.median + bwd.median) / 1e9;
    rows.push({
      shape: s.name,
      'B×H×Lq×Lk×Dh': `${s.b}×${s.h}×${s.lq}×${s.lk}×${s.dh}`,
      'fwd ms': fwd.median * 1e3,
      'fwd % peak': (100 * gF) / limits.peakGflopsAll,
      'bwd ms': bwd.median * 1e3,
      'fwd+bwd % peak': (100 * gFB) / limits.peakGflopsAll,
      'fwd GFLOP/s': gF,
      'padded fwd GFLOP/s': flopF / fwd.median / 1e9,
      'unfused fwd ms': unfused.median * 1e3,
      'vs unfused': unfused.median / fwd.median,
      'torch fwd ms': t ? t.forwardSeconds * 1e3 : '-',
      'vs torch fwd': t ? t.forwardSeconds / fwd.median : '-',
      'vs torch fwd+bwd': t ? t.forwardBackwardSeconds / (fwd.median + bwd.median) : '-',
      'faults/call': fwd.faultsPerCall,
    });
    results.push({
      ...s, realForwardFlops: real, paddedForwardFlops: flopF, forwardSeconds: fwd.median, backwardSeconds: bwd.median, unfusedSeconds: unfused.median, forwardGflops: gF,
      forwardBackwardGflops: gFB, peakGflops: limits.peakGflopsAll,
      torchForwardSeconds: t?.forwardSeconds ?? null, torchForwardBackwardSeconds: t?.forwardBackwardSeconds ?? null,
    });
  }
  if (torch.ok) console.log(`\nPyTorch ${torch.data.torch} (matmul + masked softmax + matmul; autograd backward) ran the same shapes with ${all} threads; 'vs torch' = torch time / merclip time.`);
  else console.log(`\nPyTorch attention comparison skipped: ${torch.reason}.`);
  const curve = memoryCurve();
  if (curve.length >= 2) {
    const first = curve[0]!, last = curve[curve.length - 1]!;
    const exponent = Math.log(last.aboveStartMB / first.aboveStartMB) / Math.log(last.lk / first.lk);
    console.log('\nattention memory (B 1, H 1, Lq = Lk, Dh 64; peak RSS above process start):');
    for (const p of curve) console.log(`  Lk ${String(p.lk).padStart(5)}: ${p.aboveStartMB.toFixed(1)} MB (${p.duringCallMB.toFixed(1)} MB during the call)`);
    console.log(`  growth ≈ Lk^${exponent.toFixed(2)} (1 = linear, 2 = quadratic)`);
    results.push({ memoryCurve: curve, exponent });
  }
  return { rows, results };
}
