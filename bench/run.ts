// bench/run.ts — `npm run bench [suite…] [--simd LEVEL[,LEVEL…]]`: measures the machine's limits,
// then each suite (gemm, ops, cosine, attention, nn, model, clip, audio, serve, distributed, memory), prints tables and writes
// bench/results/<suite>.json. No timing is asserted.
//
// Every figure is taken at one SIMD level: the CPU's best, capped by MERCLIP_SIMD, and the FMA
// peak that '% of peak' divides by is measured at that same level (bench/peak.ts). The level is
// read when the addon loads, so `--simd avx2,avx512` re-runs this script once per level in a
// child process with MERCLIP_SIMD set; each child prints its own tables (with its own peak) and
// writes bench/results/<suite>.<level>.json. Levels the CPU lacks are reported as skipped.
import { spawnSync } from 'node:child_process';

import { backend } from '../lib/index.js';
import { runAttentionBench } from './attention.bench.js';
import { runAudioBench } from './audio.bench.js';
import { runClipBench } from './clip.bench.js';
import { runCosineBench } from './cosine.bench.js';
import { runDistributedBench } from './distributed.bench.js';
import { runGemmBench } from './gemm.bench.js';
import { printTable, type Row, writeResults } from './harness.js';
import { runMemoryBench } from './memory.bench.js';
import { runModelBench } from './model.bench.js';
import { runNnBench } from './nn.bench.js';
import { runOpsBench } from './ops.bench.js';
import { runServeBench } from './serve.bench.js';
import { measureLimits } from './peak.js';

type Suite = (limits: ReturnType<typeof measureLimits>) => { rows: Row[]; results: unknown[] } | Promise<{ rows: Row[]; results: unknown[] }>;

const SUITES: Record<string, Suite> = { gemm: runGemmBench, ops: runOpsBench, cosine: runCosineBench, attention: runAttentionBench, nn: runNnBench, model: runModelBench, clip: runClipBench, audio: runAudioBench, serve: runServeBench, distributed: runDistributedBench, memory: runMemoryBench };
const LEVELS = ['scalar', 'avx2', 'avx512', 'neon'] as const;
type Level = (typeof LEVELS)[number];

interface Args { suites: string[]; simd: Level[] | null; resultsSuffix: string; rest: string[] }

/** Splits argv into suite names, `--simd a,b` / `--simd=a,b`, the internal `--results-suffix=`, and other flags. */
function parseArgs(argv: string[]): Args | string {
  const out: Args = { suites: [], simd: null, resultsSuffix: '', rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--simd' || a.startsWith('--simd=')) {
      const v = a === '--simd' ? argv[++i] : a.slice('--simd='.length);
      if (!v) return '--simd needs a comma-separated list of levels (scalar, avx2, avx512)';
      const levels = v.split(',').map((s) => s.trim()).filter(Boolean);
      for (const l of levels) if (!(LEVELS as readonly string[]).includes(l)) return `--simd: unknown level '${l}' (available: ${LEVELS.join(', ')})`;
      out.simd = levels as Level[];
    } else if (a.startsWith('--results-suffix=')) {
      out.resultsSuffix = a.slice('--results-suffix='.length);
    } else if (a.startsWith('-')) {
      out.rest.push(a);
    } else {
      if (!(a in SUITES)) return `unknown suite '${a}' (available: ${Object.keys(SUITES).join(', ')})`;
      out.suites.push(a);
    }
  }
  return out;
}

/** `--simd`: this script once per level, in a child with MERCLIP_SIMD set (the level is fixed at load). */
function runPerLevel(args: Args): number {
  const max = backend.info().maxSimdLevel;
  let status = 0;
  for (const level of args.simd!) {
    if (!backend.availableSimdLevels().includes(level)) {
      console.log(`\n=== SIMD level ${level}: skipped (this CPU / build has ${backend.availableSimdLevels().join(", ")}; best ${max}) ===`);
      continue;
    }
    console.log(`\n=== SIMD level ${level} (MERCLIP_SIMD=${level}) ===`);
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...args.suites, ...args.rest, `--results-suffix=${level}`], {
      stdio: 'inherit',
      env: { ...process.env, MERCLIP_SIMD: level },
    });
    if (r.status !== 0) {
      console.error(`bench: the ${level} run failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
      status = 1;
    }
  }
  return status;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    console.error(`bench: ${args}`);
    process.exitCode = 1;
    return;
  }
  if (args.simd) {
    process.exitCode = runPerLevel(args);
    return;
  }
  const suites = args.suites.length ? args.suites : Object.keys(SUITES);
  const info = backend.info();
  const wanted = process.env.MERCLIP_SIMD;
  if (wanted && wanted !== info.simdLevel) console.log(`note: MERCLIP_SIMD=${wanted} but the kernels run at ${info.simdLevel}`);
  console.log(`merclip ${info.packageVersion} bench — ${info.simdLevel} kernels (best on this CPU: ${info.maxSimdLevel}), ${info.poolThreads} threads, ${info.buildSystem} ${info.portable ? 'portable' : 'native'} build`);
  const limits = measureLimits();
  printTable(`Machine limits (measured now; FMA peak at the ${limits.simd} level)`, [
    { measure: `fp32 FMA peak (${limits.simd}), 1 thread`, value: limits.peakGflops1, unit: 'GFLOP/s' },
    { measure: `fp32 FMA peak (${limits.simd}), ${limits.threads} threads`, value: limits.peakGflopsAll, unit: 'GFLOP/s' },
    { measure: `memory read bandwidth, ${limits.threads} threads`, value: limits.readGBs, unit: 'GB/s' },
    { measure: `STREAM triad bandwidth (read+write), ${limits.threads} threads`, value: limits.triadGBs, unit: 'GB/s' },
  ]);
  const suffix = args.resultsSuffix ? `.${args.resultsSuffix}` : '';
  const machine = { ...limits, cpuFeatures: info.cpuFeatures, build: info.compilerFlags, date: new Date().toISOString() };
  writeResults(`machine${suffix}`, machine);
  for (const name of suites) {
    const { rows, results } = await SUITES[name]!(limits);
    printTable(`${name} (${limits.simd}; % of peak against the ${limits.simd} FMA peak)`, rows);
    const path = writeResults(`${name}${suffix}`, { machine, results });
    console.log(`(written to ${path})`);
  }
}

await main();
