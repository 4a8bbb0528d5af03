// bench/memory.bench.ts — `npm run bench -- memory`: the resident memory of a process holding the
// paper-size model, at each stage of a service's life (issue 16's memory target): after
// `new MerClip(...)`, after the first one-sample predict(), after warm-up predicts of batch 32,
// at rest 1.5 s later (the worker has given its idle buffers' pages back), and after close(). Measured in a fresh child process (RSS of this process would include every
// suite before it); each stage waits for two GC passes first. Targets: ≤ weights + 200 MiB after
// the B32 warm-up, ≤ weights + 100 MiB after close(). No timing or size is asserted: this prints.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { Row } from './harness.js';
import type { MachineLimits } from './peak.js';

const MiB = 2 ** 20;

interface Stage { stage: string; rssMiB: number }

async function probe(): Promise<void> {
  const { gatherBatch } = await import('../lib/data/batch.js');
  const { generateSynthetic } = await import('../lib/data/synth.js');
  const { makeConfig, MODALITIES } = await import('../lib/model/config.js');
  const { MerClip } = await import('../lib/model/merclip.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 2; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage().rss / MiB;
  };
  const stages: Stage[] = [{ stage: 'process start (addon loaded)', rssMiB: await settle() }];
  const config = makeConfig('paper');
  const ds = generateSynthetic({ seed: 7, sizes: { train: 32, valid: 1, test: 1 } });
  const batch = gatherBatch(ds.splits.train, Int32Array.from({ length: 32 }, (_, i) => i));
  const samples = Array.from({ length: 32 }, (_, i) => Object.fromEntries(MODALITIES.map((m) => {
    const x = batch[m];
    const lo = x.offsets[i]!, hi = x.offsets[i + 1]!;
    return [m, { features: x.rows.slice(lo * x.dim, hi * x.dim), length: hi - lo }];
  })));
  const before = await settle();
  const model = new MerClip(config, undefined, { seed: 1 });
  let weights = 0;
  for (const [, p] of model.namedParameters()) weights += p.data.byteLength;
  stages.push({ stage: 'after new MerClip(paper)', rssMiB: await settle() });
  await model.predict(samples[0]!);
  stages.push({ stage: 'after the first one-sample predict()', rssMiB: await settle() });
  for (let i = 0; i < 3; i++) await model.predict(samples);
  stages.push({ stage: 'right after 3 warm-up predicts of batch 32', rssMiB: await settle() });
  await new Promise((r) => setTimeout(r, 1500)); // the worker's idle release (predictWorker.ts, 1 s)
  stages.push({ stage: 'the same, 1.5 s later (at rest)', rssMiB: await settle() });
  await model.close();
  stages.push({ stage: 'after close()', rssMiB: await settle() });
  process.stdout.write(JSON.stringify({ stages, weightsMiB: weights / MiB, baselineMiB: before }) + '\n');
}

/** One probe in a fresh child process; `env` on top of this process's. */
function runProbe(env: NodeJS.ProcessEnv): { stages: Stage[]; weightsMiB: number; baselineMiB: number } {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', self, '--probe'], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`memory probe failed (exit ${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { stages: Stage[]; weightsMiB: number; baselineMiB: number };
}

// Two probes: glibc's default allocator settings (a library user's process), and the mmap
// threshold fixed at 128 KiB, as `merclip serve` sets it for its own process (lib/cli/serve.ts).
// An operator's own MALLOC_MMAP_THRESHOLD_ would decide the first probe too, so it is dropped.
const PROBES: { allocator: string; env: NodeJS.ProcessEnv }[] = [
  { allocator: 'glibc default', env: { MALLOC_MMAP_THRESHOLD_: undefined } },
  { allocator: 'mmap threshold 128 KiB (merclip serve)', env: { MALLOC_MMAP_THRESHOLD_: String(128 * 1024) } },
];

export function runMemoryBench(_limits: MachineLimits): { rows: Row[]; results: unknown[] } {
  const rows: Row[] = [];
  const results: unknown[] = [];
  let weightsMiB = 0;
  for (const probe of PROBES) {
    const out = runProbe(probe.env);
    weightsMiB = out.weightsMiB;
    for (const s of out.stages) {
      rows.push({
        allocator: probe.allocator,
        stage: s.stage,
        'RSS MiB': s.rssMiB,
        'above start + weights, MiB': s.rssMiB - out.stages[0]!.rssMiB - (s.stage.startsWith('process') ? 0 : out.weightsMiB),
      });
    }
    results.push({ allocator: probe.allocator, ...out });
  }
  console.log(`paper model: ${weightsMiB.toFixed(0)} MiB of fp32 weights; targets: ≤ weights + 200 MiB after the B32 warm-up, ≤ weights + 100 MiB after close() (both above the process start, which includes the probe's own ~20 MiB of samples)`);
  return { rows, results };
}

if (process.argv.includes('--probe')) await probe();
