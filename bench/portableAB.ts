// bench/portableAB.ts — the portable addon against the native one in ONE process, call by call
// (`npm run bench:portable -- --interleaved [suite…] --simd avx2,avx512` runs it once per level,
// MERCLIP_SIMD set before the addons load). Both addons are loaded: the lib's binding object
// (backend.native(), what every kernel wrapper calls) has its functions pointed at one addon or
// the other before each block of calls, and the bench harness's measure() alternates them
// (harness.ts, setAlternator): rounds of native / portable blocks, the order swapped every round.
// So the suites' own rows (gemm, ops, cosine, attention) run unchanged and a slow minute of a
// shared host lands on both builds — separate processes minutes apart could not tell 5 % on a
// host whose own FMA peak moves by 15 % between runs. The thread-count and level setters reach
// both addons. PyTorch is not run (the parent sets MERCLIP_BENCH_PYTHON to nowhere). Prints;
// asserts nothing.
//
// Usage (normally through bench/portable.ts): tsx bench/portableAB.ts --portable PATH [suite…];
// tsx bench/portableAB.ts --other PATH [suite…] compares this checkout's native addon with any
// other build of the same binding API (an earlier commit's, say) the same way.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

import { backend } from '../lib/index.js';
import { runAttentionBench } from './attention.bench.js';
import { runCosineBench } from './cosine.bench.js';
import { runGemmBench } from './gemm.bench.js';
import { median, printTable, type Row, setAlternator, writeResults } from './harness.js';
import { runOpsBench } from './ops.bench.js';
import { measureLimits } from './peak.js';

const SUITES = { gemm: runGemmBench, ops: runOpsBench, cosine: runCosineBench, attention: runAttentionBench } as const;
type SuiteName = keyof typeof SUITES;

const argv = process.argv.slice(2);
// --portable PATH: the portable prebuild (checked to be one); --other PATH: any other addon of
// the same binding API, e.g. a native build of an earlier commit (an A/B of a change).
const flag = argv.includes('--portable') ? '--portable' : '--other';
const at = argv.indexOf(flag);
const portablePath = at >= 0 ? argv[at + 1] : undefined;
if (!portablePath) throw new Error('portableAB: --portable PATH (the portable merclip.node) or --other PATH is required');
argv.splice(at, 2);
const label = flag === '--portable' ? 'portable' : 'other';
for (const s of argv) if (!(s in SUITES)) throw new Error(`portableAB: unknown suite '${s}' (available: ${Object.keys(SUITES).join(', ')})`);
const suites = (argv.length ? argv : Object.keys(SUITES)) as SuiteName[];

type Fn = (...args: unknown[]) => unknown;
const binding = backend.native() as unknown as Record<string, unknown>;
const portable = createRequire(import.meta.url)(resolve(portablePath)) as Record<string, unknown>;
const names = Object.keys(binding).filter((k) => typeof binding[k] === 'function');
const native: Record<string, Fn> = Object.fromEntries(names.map((k) => [k, binding[k] as Fn]));
for (const k of names) if (typeof portable[k] !== 'function') throw new Error(`portableAB: the portable addon has no '${k}' (a different binding API?)`);
const info = (native.info!() as { simdLevel: string; portable: boolean; bindingApiVersion?: number });
const pinfo = ((portable.info as Fn)() as { simdLevel: string; portable: boolean; bindingApiVersion?: number });
if (label === 'portable' && (info.portable || !pinfo.portable)) throw new Error(`portableAB: expected a native lib addon and a portable one (portable flags: ${info.portable} / ${pinfo.portable})`);
if (info.simdLevel !== pinfo.simdLevel) throw new Error(`portableAB: the addons run at different levels (${info.simdLevel} / ${pinfo.simdLevel})`);

// Setters (thread count, SIMD level) change both addons' state, whichever is selected.
const both = (k: string): Fn => {
  const n = native[k]!, p = portable[k] as Fn;
  return (...a: unknown[]) => {
    p(...a);
    return n(...a);
  };
};
const impls = [{ ...native }, Object.fromEntries(names.map((k) => [k, portable[k] as Fn]))];
for (const impl of impls) for (const k of names) if (/^set/.test(k)) impl[k] = both(k);
const series = new Map<string, [number[], number[]]>();
const select = (i: 0 | 1): void => {
  const impl = impls[i]!;
  for (const k of names) binding[k] = impl[k];
};
select(0); // from here on the setters reach both addons
setAlternator({
  select,
  record(name, s) {
    let key = name;
    for (let i = 2; series.has(key); i++) key = `${name} #${i}`;  // e.g. two 'decoder cross' rows
    series.set(key, s);
  },
});

console.log(`merclip ${label} vs native, in one process: ${info.simdLevel} kernels, ${backend.poolThreads()} threads; ${label} addon ${portablePath}`);
const limits = measureLimits();
const rows: Row[] = [];
let worst = 0;
for (const suite of suites) {
  series.clear();
  SUITES[suite](limits);
  for (const [name, [n, p]] of series) {
    // the ratio: the median over rounds of portable / native within the round (the two blocks
    // ran back to back), with the middle half of those ratios as its spread
    const ratios = n.map((t, r) => p[r]! / t).sort((x, y) => x - y);
    const ratio = median(ratios);
    const q = (f: number): number => ratios[Math.min(ratios.length - 1, Math.floor(f * ratios.length))]!;
    worst = Math.max(worst, ratio);
    rows.push({ suite, row: name, rounds: n.length, 'native ms': median(n) * 1e3, [`${label} ms`]: median(p) * 1e3, [`${label} / native`]: ratio, 'middle half': `${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)}`, 'within 5 %': ratio <= 1.05 ? 'yes' : 'NO' });
  }
}
printTable(`${label} vs native at ${info.simdLevel}, interleaved block by block in one process (median of the per-round time ratios; > 1 = ${label} slower)`, rows);
console.log(`\nslowest ${label} row at ${info.simdLevel}: ${worst.toFixed(3)}× the native time`);
const path = writeResults(`${label}-ab.${info.simdLevel}`, { level: info.simdLevel, date: new Date().toISOString(), rows });
console.log(`(written to ${path})`);
