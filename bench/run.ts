// bench/run.ts — `npm run bench [suite…]`: measures the machine's limits, then each suite
// (gemm, ops, cosine, attention, nn, model), prints tables and writes bench/results/<suite>.json. No timing is asserted.
import { backend } from '../lib/index.js';
import { runAttentionBench } from './attention.bench.js';
import { runCosineBench } from './cosine.bench.js';
import { runGemmBench } from './gemm.bench.js';
import { printTable, type Row, writeResults } from './harness.js';
import { runModelBench } from './model.bench.js';
import { runNnBench } from './nn.bench.js';
import { runOpsBench } from './ops.bench.js';
import { measureLimits } from './peak.js';

type Suite = (limits: ReturnType<typeof measureLimits>) => { rows: Row[]; results: unknown[] } | Promise<{ rows: Row[]; results: unknown[] }>;

const SUITES: Record<string, Suite> = { gemm: runGemmBench, ops: runOpsBench, cosine: runCosineBench, attention: runAttentionBench, nn: runNnBench, model: runModelBench };

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  for (const w of wanted) {
    if (!(w in SUITES)) {
      console.error(`bench: unknown suite '${w}' (available: ${Object.keys(SUITES).join(', ')})`);
      process.exitCode = 1;
      return;
    }
  }
  const suites = wanted.length ? wanted : Object.keys(SUITES);
  const info = backend.info();
  console.log(`merclip ${info.packageVersion} bench — ${info.simdLevel}, ${info.poolThreads} threads, ${info.buildSystem} ${info.portable ? 'portable' : 'native'} build`);
  const limits = measureLimits();
  printTable('Machine limits (measured now)', [
    { measure: 'fp32 FMA peak, 1 thread', value: limits.peakGflops1, unit: 'GFLOP/s' },
    { measure: `fp32 FMA peak, ${limits.threads} threads`, value: limits.peakGflopsAll, unit: 'GFLOP/s' },
    { measure: `memory read bandwidth, ${limits.threads} threads`, value: limits.readGBs, unit: 'GB/s' },
    { measure: `STREAM triad bandwidth (read+write), ${limits.threads} threads`, value: limits.triadGBs, unit: 'GB/s' },
  ]);
  const machine = { ...limits, cpuFeatures: info.cpuFeatures, build: info.compilerFlags, date: new Date().toISOString() };
  writeResults('machine', machine);
  for (const name of suites) {
    const { rows, results } = await SUITES[name]!(limits);
    printTable(`${name}`, rows);
    const path = writeResults(name, { machine, results });
    console.log(`(written to ${path})`);
  }
}

await main();
