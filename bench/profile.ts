// bench/profile.ts — where a paper-size MER-CLIP training step spends its time, per native op
// (`npx tsx bench/profile.ts [steps] [--torch]`): every binding function is wrapped with a timer, one
// warm-up step runs, then the given number of steps (default 1) are timed; GEMMs are grouped by
// transposition and shape class, with their GFLOP/s. The rest of the step is the TypeScript
// layer (the "JS/other" line). Prints only; nothing is asserted.
// `--one`: instead, the inference forward of ONE sample (lengths 49/370/478: what predict() of a
// single sample runs), timed in process CPU time rather than wall time — with MERCLIP_NUM_THREADS=1
// that is the work itself, unaffected by other processes on the machine — against the 1-thread
// FMA peak measured here (issue 16's latency analysis).
import { loadNative } from '../lib/backend/load.js';
import { backend } from '../lib/index.js';
import { gatherBatch } from '../lib/data/batch.js';
import { noGrad, tidy } from '../lib/tensor/index.js';
import { B, paperBatchSplit, paperTrainingSetup } from './paperStep.js';
import { runTorch } from './torch.js';

const steps = Number(process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 1);
const withTorch = process.argv.includes('--torch');
const one = process.argv.includes('--one');
// ms of wall time, or with --one of process CPU time (user + system)
const clock = one ? (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : (): number => performance.now();
const native = loadNative() as unknown as Record<string, (...a: unknown[]) => unknown>;
const times = new Map<string, { ms: number; calls: number; flops: number }>();
let on = false;
const size = (n: number): string => (n > 1000 ? '>1k' : String(n));
for (const name of Object.keys(native)) {
  const f = native[name];
  if (typeof f !== 'function') continue;
  native[name] = (...args: unknown[]) => {
    const t0 = clock();
    const r = f.apply(native, args);
    if (on) {
      const o = args[0] as Record<string, number | boolean>;
      const key = name === 'gemm' ? `gemm ${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'} m${size(o.m as number)} n${size(o.n as number)} k${size(o.k as number)}` : name;
      const e = times.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      e.ms += clock() - t0;
      e.calls++;
      if (name === 'gemm') e.flops += 2 * (o.m as number) * (o.n as number) * (o.k as number);
      if (name === 'attentionForward' || name === 'attentionBackward') {
        // packed layout: Σ_b Lq_b·Lk_b (query, key) pairs per head
        const cq = args[0] as { cuSeqlensQ: Int32Array; cuSeqlensK: Int32Array };
        let pairs = 0;
        for (let b = 0; b + 1 < cq.cuSeqlensQ.length; b++) pairs += (cq.cuSeqlensQ[b + 1]! - cq.cuSeqlensQ[b]!) * (cq.cuSeqlensK[b + 1]! - cq.cuSeqlensK[b]!);
        e.flops += 4 * pairs * (o.heads as number) * (o.headDim as number) * (name === 'attentionBackward' ? 2.5 : 1);
      }
      times.set(key, e);
    }
    return r;
  };
}

const { model, batch, step: trainStep } = paperTrainingSetup();
let step = trainStep;
let peak = 0;
if (one) {
  const single = gatherBatch(paperBatchSplit(), Int32Array.from([0]));
  const e = model.labels.encode(model.config.labels);
  step = () => noGrad(() => tidy(() => void model.forward(single, model.labelSet, e).probs.data[0]));
  peak = loadNative().measurePeakFlops({ threads: backend.getNumThreads(), seconds: 0.5 });
  console.log(`one sample: lengths ${single.text.maxLength}/${single.audio.maxLength}/${single.vision.maxLength}; ${backend.getNumThreads()} thread(s), FMA peak ${peak.toFixed(1)} GFLOP/s (${backend.getSimdLevel()}); times are process CPU time`);
}
for (let i = 0; i < (one ? 3 : 1); i++) step();
on = true;
const t0 = clock();
for (let i = 0; i < steps; i++) step();
const total = (clock() - t0) / steps;
let nativeMs = 0, gemmFlops = 0;
for (const e of times.values()) nativeMs += e.ms / steps;
for (const [k, e] of times) if (k.startsWith('gemm ')) gemmFlops += e.flops / steps;
if (one) console.log(`MER-CLIP paper-size forward of one sample: ${total.toFixed(1)} ms; native ${nativeMs.toFixed(1)} ms; JS/other ${(total - nativeMs).toFixed(1)} ms; its GEMMs alone would take ${(gemmFlops / peak / 1e6).toFixed(1)} ms at the peak`);
else console.log(`MER-CLIP paper-size training step (batch ${B}, longest lengths ${batch.text.maxLength}/${batch.audio.maxLength}/${batch.vision.maxLength}): ${total.toFixed(0)} ms; native ${nativeMs.toFixed(0)} ms; JS/other ${(total - nativeMs).toFixed(0)} ms`);
for (const [k, e] of [...times].sort((a, b) => b[1].ms - a[1].ms)) {
  const ms = e.ms / steps;
  if (ms < (one ? 0.1 : 1)) continue;
  const rate = e.flops ? `  ${(e.flops / e.ms / 1e6).toFixed(1)} GFLOP/s${peak ? ` (${((100 * e.flops) / e.ms / 1e6 / peak).toFixed(0)} % of peak)` : ''}` : '';
  console.log(`${k.padEnd(34)} ${ms.toFixed(one ? 2 : 0).padStart(7)} ms ${String(e.calls / steps).padStart(5)} calls${rate}`);
}

// --torch: PyTorch's per-op profile (torch.profiler, self CPU time) of one step of the same model
// on the same shapes and lengths (bench/torch/merclip_torch.py), for comparison.
if (withTorch) {
  const threads = backend.getNumThreads();
  const r = runTorch<{ trainStepSeconds: number; profile: Array<{ op: string; selfMs: number; calls: number }> }>('merclip_torch.py', {
    threads, batch: B, gradClip: 1, text: [batch.text.maxLength, 768], audio: [batch.audio.maxLength, 5], vision: [batch.vision.maxLength, 20],
    width: 512, heads: 8, enc: 1, dec: 2, C: 7, profile: true, minTime: 1, minReps: 2, maxReps: 3, warmup: 1,
    lengths: { text: Array.from(batch.text.lengths), audio: Array.from(batch.audio.lengths), vision: Array.from(batch.vision.lengths) },
  }, threads, 1_200_000, ['--bench']);
  if (!r.ok) console.log(`PyTorch profile skipped: ${r.reason}`);
  else {
    console.log(`\nPyTorch (same model and batch): ${(r.data.trainStepSeconds * 1e3).toFixed(0)} ms per step (median); one profiled step, self CPU time per op:`);
    for (const e of r.data.profile) console.log(`${e.op.padEnd(34)} ${e.selfMs.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(5)} calls`);
  }
}
