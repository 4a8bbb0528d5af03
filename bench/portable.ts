// bench/portable.ts — `npm run bench:portable [suite…] [--simd LEVEL[,LEVEL…]] [--rounds N]
// [--interleaved]`:
// the portable addon (the prebuilt one the package ships: baseline x86-64 generic code, per-file
// AVX2 / AVX-512 kernels picked at run time) against the native one (build/Release, -march=native)
// on every row of the chosen suites, at each SIMD level. Issue 20's bar: portable within 5 % of
// native on every row.
//
// The portable addon is (re)built by scripts/prebuild.mjs (incremental: a second run recompiles
// nothing) for this machine's arch only, and loaded through $MERCLIP_ADDON. Each (level, build)
// runs bench/run.ts in a child with PyTorch off (MERCLIP_BENCH_PYTHON points nowhere), writing
// bench/results/<suite>.<level>.<build>.json; the builds alternate for `--rounds` rounds (default
// 2) and each row's time is the median over its rounds' medians, so a slow minute of a shared
// machine does not land on one build only. Rows are matched on every field that describes the
// work (name, shape, threads …), not on their position. No timing is asserted: this prints.
// --interleaved instead loads both addons into one process per level and alternates them call
// by call (bench/portableAB.ts): the comparison that holds on a host whose speed drifts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { printTable, type Row } from './harness.js';

const root = join(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const take = (name: string): string | undefined => {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
  argv.splice(i, a.includes('=') ? 1 : 2);
  return v;
};
const levels = (take('simd') ?? '').split(',').filter(Boolean);
const rounds = Number(take('rounds') ?? '2');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, received ${rounds}`);
// --compare-only: no runs, the comparison of the result files an earlier run left
const compareOnly = argv.includes('--compare-only');
if (compareOnly) argv.splice(argv.indexOf('--compare-only'), 1);
// --interleaved: both addons in one process, call by call (bench/portableAB.ts), per level
const interleaved = argv.includes('--interleaved');
if (interleaved) argv.splice(argv.indexOf('--interleaved'), 1);
const suites = argv.length ? argv : ['gemm', 'ops', 'cosine', 'attention'];

const arch = `${process.platform}-${process.arch}`;
const portableAddon = join(root, 'prebuilds', arch, 'merclip.node');
if (!compareOnly) {
  console.log(`== building the portable addon for ${arch} (scripts/prebuild.mjs, incremental)`);
  const pre = spawnSync(process.execPath, [join(root, 'scripts', 'prebuild.mjs')], {
    stdio: 'inherit',
    env: { ...process.env, MERCLIP_PREBUILD_ARCHS: process.arch },
  });
  if (pre.status !== 0 || !existsSync(portableAddon)) throw new Error(`the portable build failed (exit ${pre.status}); ${portableAddon} is missing`);
}

/** A child's environment: PyTorch off, the level set, the addon the lib loads (native: unset). */
function childEnv(level: string | undefined, addon: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, MERCLIP_BENCH_PYTHON: '/nonexistent/python3' };
  if (level) env.MERCLIP_SIMD = level;
  if (addon) env.MERCLIP_ADDON = addon;
  else delete env.MERCLIP_ADDON;
  return env;
}

if (interleaved) {
  for (const level of levels.length ? levels : [undefined]) {
    const env = childEnv(level, undefined);
    console.log(`\n== native and portable interleaved in one process, level ${level ?? '(best)'}`);
    const r = spawnSync(process.execPath, [...process.execArgv, join(root, 'bench', 'portableAB.ts'), '--portable', portableAddon, ...suites], { stdio: 'inherit', env });
    if (r.status !== 0) throw new Error(`bench/portableAB.ts failed at ${level ?? 'the best level'} (exit ${r.status ?? r.signal})`);
  }
  process.exit(0);
}

const builds = { native: undefined, portable: portableAddon } as const;
type Build = keyof typeof builds;

function runOnce(level: string | undefined, build: Build, round: number): void {
  const suffix = `${level ?? 'best'}.${build}.r${round}`;
  const env = childEnv(level, builds[build]);
  console.log(`\n== ${build} build, level ${level ?? '(best)'}, round ${round + 1}/${rounds}`);
  const r = spawnSync(process.execPath, [...process.execArgv, join(root, 'bench', 'run.ts'), ...suites, `--results-suffix=${suffix}`], { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`bench/run.ts failed for the ${build} build at ${level ?? 'the best level'} (exit ${r.status ?? r.signal})`);
}

/** Fields that are measurements (or derived from them), not a description of the work. */
const MEASURED = /median|seconds|gflops|gbs|rme|samples|faults|torch|peak|speedup|fraction|ratio|bandwidth|^ms/i;
type Result = Record<string, unknown>;
function keyOf(r: Result): string {
  return Object.keys(r).filter((k) => !MEASURED.test(k) && typeof r[k] !== 'object').sort().map((k) => `${k}=${String(r[k])}`).join(' ');
}
/**
 * The timed phases of a result: its median (gemm, cosine, ops: one time per row), or the
 * attention suite's forward and backward times (one comparison row each).
 */
function timesOf(r: Result): [phase: string, seconds: number][] {
  if (typeof r.forwardSeconds === 'number') {
    const out: [string, number][] = [['fwd', r.forwardSeconds]];
    if (typeof r.backwardSeconds === 'number') out.push(['bwd', r.backwardSeconds]);
    return out;
  }
  const v = r.medianSeconds ?? Object.entries(r).find(([k, x]) => /median/i.test(k) && !/torch/i.test(k) && typeof x === 'number')?.[1];
  return typeof v === 'number' ? [['', v]] : [];
}
function load(suite: string, suffix: string): Result[] {
  const path = join(root, 'bench', 'results', `${suite}.${suffix}.json`);
  return (JSON.parse(readFileSync(path, 'utf8')) as { results: Result[] }).results;
}
const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

let worst = 0;
for (const level of levels.length ? levels : [undefined]) {
  for (let round = 0; round < rounds; round++) {
    // alternate which build goes first, so drift over time does not favour one
    const order: Build[] = round % 2 === 0 ? ['native', 'portable'] : ['portable', 'native'];
    if (!compareOnly) for (const b of order) runOnce(level, b, round);
  }
  const rows: Row[] = [];
  for (const suite of suites) {
    const times = new Map<string, Record<Build, number[]>>();
    for (let round = 0; round < rounds; round++) {
      for (const b of Object.keys(builds) as Build[]) {
        for (const r of load(suite, `${level ?? 'best'}.${b}.r${round}`)) {
          for (const [phase, t] of timesOf(r)) {
            const k = phase ? `${keyOf(r)} ${phase}` : keyOf(r);
            const e = times.get(k) ?? { native: [], portable: [] };
            e[b].push(t);
            times.set(k, e);
          }
        }
      }
    }
    for (const [k, e] of times) {
      if (!e.native.length || !e.portable.length) continue;
      const n = median(e.native), p = median(e.portable);
      worst = Math.max(worst, p / n);
      rows.push({ suite, row: k.replace(/name=/, ''), 'native ms': n * 1e3, 'portable ms': p * 1e3, 'portable / native': p / n, 'within 5 %': p / n <= 1.05 ? 'yes' : 'NO' });
    }
  }
  printTable(`portable vs native, level ${level ?? '(best)'}, medians over ${rounds} alternating rounds (time ratio: > 1 = portable slower)`, rows);
}
console.log(`\nslowest portable row: ${worst.toFixed(3)}× the native time`);
