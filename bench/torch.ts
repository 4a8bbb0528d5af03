// bench/torch.ts — runs a PyTorch script from bench/torch/ beside our kernels, in its strongest
// configuration on this machine (SPEC §7): Debian's python3-torch (/usr/bin/python3), all cores,
// OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for that command alone (they force OpenBLAS onto
// slower kernels), GLIBC_TUNABLES=glibc.malloc.hugetlb=1. Never installs anything: when
// `import torch` fails, the comparison is reported as skipped with the command that enables it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON = process.env.MERCLIP_BENCH_PYTHON ?? '/usr/bin/python3';
const HERE = join(dirname(fileURLToPath(import.meta.url)), 'torch');

export type TorchRun<T> = { ok: true; data: T } | { ok: false; reason: string };

/** OpenBLAS core type whose kernels use the given SIMD level (for a level below the CPU's best). */
const OPENBLAS_CORETYPE: Record<string, string> = { avx2: 'Haswell' };

/**
 * The OpenBLAS core type to pin (`--openblas-coretype`, bench/torch/timing.py) when the kernels
 * run at `level` below the CPU's best `best` (MERCLIP_SIMD=avx2 on an AVX-512 CPU): PyTorch then
 * runs OpenBLAS's kernels of that level too, the comparison an AVX2-only CPU would give.
 * Undefined at the best level, or for a level OpenBLAS has no core type for.
 */
export function cappedOpenblasCoretype(level: string, best: string): string | undefined {
  return level !== best ? OPENBLAS_CORETYPE[level] : undefined;
}

function torchEnv(threads?: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' };
  if (threads !== undefined) {
    // OpenBLAS and OpenMP keep their own pools; torch.set_num_threads alone does not limit them.
    env.OPENBLAS_NUM_THREADS = String(threads);
    env.OMP_NUM_THREADS = String(threads);
    env.MKL_NUM_THREADS = String(threads);
  }
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

export function torchAvailable(): TorchRun<string> {
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found` };
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: torchEnv() });
  if (r.status !== 0) {
    return {
      ok: false,
      reason: `\`import torch\` failed in ${PYTHON}; enable the comparison with \`sudo apt-get install python3-torch libopenblas0-pthread\``,
    };
  }
  return { ok: true, data: r.stdout.trim() };
}

/**
 * Runs bench/torch/<script> with `input` as JSON on stdin, limited to `threads` threads (every
 * pool PyTorch may use); parses its JSON stdout.
 */
export function runTorch<T>(script: string, input: unknown, threads: number, timeoutMs = 600_000, args: string[] = []): TorchRun<T> {
  const avail = torchAvailable();
  if (!avail.ok) return avail;
  const r = spawnSync(PYTHON, [join(HERE, script), ...args], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    env: torchEnv(threads),
    timeout: timeoutMs,
    maxBuffer: 16 << 20,
  });
  if (r.status !== 0) return { ok: false, reason: `${script} failed: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}` };
  try {
    return { ok: true, data: JSON.parse(r.stdout) as T };
  } catch {
    return { ok: false, reason: `${script} printed no JSON` };
  }
}
