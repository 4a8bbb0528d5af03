// lib/cli/build.ts — `merclip build [--native | --portable] [--cuda]`: compiles the addon from
// the package's own sources (binding.gyp, native/) into <package>/build/Release/merclip.node,
// which the loader then prefers over the prebuilt one (lib/backend/candidates.ts).
//   --native (default)  node-gyp, -O3 -march=native: tuned to this machine
//   --portable          node-gyp, MERCLIP_PORTABLE=1: baseline x86-64 + run-time AVX-512/AVX2 dispatch
//   --cuda              cmake-js with -DMERCLIP_CUDA=ON (CMake, the CUDA toolkit, cmake-js)
// Before building it checks that the tools are on PATH and names the missing ones; afterwards it
// loads the new addon in a child process and prints what was built. Nothing is downloaded here:
// node-gyp is the one npm ships (or a node-gyp package), and the Node headers are the installed
// Node's own include/node when present (--nodedir), else node-gyp's usual cache.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';

import type { Command } from 'commander';

import { BINDING_API_VERSION, packageRoot } from '../backend/load.js';

export interface BuildOptions {
  native?: boolean;
  portable?: boolean;
  cuda?: boolean;
  jobs?: string;
  dryRun?: boolean;
}

export interface BuildPlan {
  tool: 'node-gyp' | 'cmake-js';
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  output: string;
}

/** The first executable named `name` on env.PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The tools this build needs that are not on PATH, each with what it is for. */
export function missingTools(opts: BuildOptions, env: NodeJS.ProcessEnv = process.env): string[] {
  const missing: string[] = [];
  const cxx = (env.CXX ?? '').trim().split(/\s+/)[0] || 'g++';
  if (!which(cxx, env)) {
    const alt = ['clang++', 'c++'].find((c) => c !== cxx && which(c, env));
    missing.push(`a C++17 compiler (${cxx}${env.CXX ? ', from $CXX' : ''})${alt ? ` — ${alt} is there: CXX=${alt} npx merclip build` : ''}`);
  }
  if (opts.cuda) {
    if (!which('cmake', env)) missing.push('cmake (≥ 3.18)');
    if (!which('nvcc', env) && !env.CUDACXX) missing.push('nvcc (the CUDA toolkit; or set CUDACXX)');
  } else {
    if (!which('make', env)) missing.push('make');
    const py = env.PYTHON ?? env.npm_config_python;
    if (!(py ? which(py, env) : which('python3', env) ?? which('python', env))) missing.push('Python 3 (node-gyp runs gyp with it)');
  }
  return missing;
}

function tryResolve(id: string, paths: string[]): string | undefined {
  try {
    return createRequire(join(paths[0] ?? process.cwd(), 'noop.js')).resolve(id, { paths });
  } catch {
    return undefined;
  }
}

/** node-gyp's JS entry: the one npm runs scripts with, a node-gyp package, or npm's bundled copy. */
export function findNodeGyp(root: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.npm_config_node_gyp;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const pkg = tryResolve('node-gyp/bin/node-gyp.js', [root, process.cwd()]);
  if (pkg) return pkg;
  const guesses: string[] = [];
  if (env.npm_execpath) guesses.push(join(dirname(env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = join(dirname(realpathSync(process.execPath)), '..');
  guesses.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const npmBin = which('npm', env);
  if (npmBin) {
    try {
      guesses.push(join(dirname(realpathSync(npmBin)), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
    } catch {
      // dangling npm link
    }
  }
  return guesses.find((g) => existsSync(g));
}

/** The installed Node's headers (prefix/include/node), so node-gyp needs no download. */
export function localNodeDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.npm_config_nodedir) return undefined; // node-gyp reads it from the environment itself
  const prefix = join(dirname(realpathSync(process.execPath)), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

export function planBuild(opts: BuildOptions, root: string, env: NodeJS.ProcessEnv = process.env): BuildPlan {
  if (opts.native && opts.portable) throw new Error('build: --native and --portable exclude each other');
  const output = join(root, 'build', 'Release', 'merclip.node');
  const jobs = opts.jobs ?? 'max';
  if (opts.cuda) {
    const cmakeJsScript = tryResolve('cmake-js/bin/cmake-js', [root, process.cwd()]);
    const cmakeJsBin = cmakeJsScript ? undefined : which('cmake-js', env);
    if (!cmakeJsScript && !cmakeJsBin) {
      throw new Error('build --cuda: cmake-js is not installed; add it to your project (`npm install --save-dev cmake-js`) and run `npx merclip build --cuda` again');
    }
    const args = ['rebuild', '--CDMERCLIP_CUDA=ON', '--CDMERCLIP_TESTS=OFF', `--CDMERCLIP_PORTABLE=${opts.portable ? 'ON' : 'OFF'}`];
    return {
      tool: 'cmake-js',
      command: cmakeJsScript ? process.execPath : (cmakeJsBin as string),
      args: cmakeJsScript ? [cmakeJsScript, ...args] : args,
      cwd: root,
      env: { MERCLIP_PORTABLE: opts.portable ? '1' : '0' },
      output,
    };
  }
  const gyp = findNodeGyp(root, env);
  if (!gyp) {
    throw new Error('build: node-gyp not found (npm ships it; or `npm install --save-dev node-gyp` in your project)');
  }
  const nodedir = localNodeDir(env);
  return {
    tool: 'node-gyp',
    command: process.execPath,
    args: [gyp, 'rebuild', '-j', jobs, ...(nodedir ? [`--nodedir=${nodedir}`] : [])],
    cwd: root,
    env: { MERCLIP_PORTABLE: opts.portable ? '1' : '0' },
    output,
  };
}

/** Loads a built addon in a child process; returns its info() or throws what went wrong. */
function probe(path: string): { portable: boolean; compilerFlags: string; maxSimdLevel: string; buildSystem: string; cuda: { compiled: boolean } } {
  const code = `const m = require(${JSON.stringify(path)}); if (m.bindingApiVersion !== ${BINDING_API_VERSION}) throw new Error('binding API v' + m.bindingApiVersion + ', expected v${BINDING_API_VERSION}'); process.stdout.write(JSON.stringify(m.info()));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build: ${path} was built but does not load: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(r.stdout) as ReturnType<typeof probe>;
}

export function registerBuild(program: Command, out: (s: string) => void): void {
  program
    .command('build')
    .description('compile the addon from the package sources (node-gyp; --cuda: cmake-js); the loader then prefers it over the prebuilt one')
    .option('--native', 'tune to this machine: -march=native (default)')
    .option('--portable', 'baseline x86-64 with run-time AVX-512/AVX2 dispatch (what the prebuilt addon is)')
    .option('--cuda', 'build with the CUDA kernels via cmake-js (needs CMake, nvcc and cmake-js)')
    .option('-j, --jobs <n>', 'parallel compile jobs (default: all cores)')
    .option('--dry-run', 'print the command without running it')
    .action((opts: BuildOptions) => {
      const root = packageRoot();
      const plan = planBuild(opts, root);
      const kind = `${opts.portable ? 'portable' : 'native'}${opts.cuda ? ' + CUDA' : ''}`;
      const shown = `${Object.entries(plan.env).map(([k, v]) => `${k}=${v}`).join(' ')} ${plan.command} ${plan.args.join(' ')}`;
      if (opts.dryRun) {
        out(`would run in ${plan.cwd}:\n  ${shown}\noutput: ${plan.output}\n`);
        return;
      }
      const missing = missingTools(opts);
      if (missing.length) {
        throw new Error(`build: cannot compile the addon, missing on PATH:\n${missing.map((m) => `- ${m}`).join('\n')}\n` +
          'Install them (Debian/Ubuntu: apt-get install g++ make python3; Alpine: apk add build-base python3; ' +
          'Fedora/RHEL: dnf install gcc-c++ make python3) and run `npx merclip build` again. ' +
          'Without a compiler, the prebuilt addon in prebuilds/ is used where it fits (see `npx merclip info`).');
      }
      out(`building the ${kind} addon with ${plan.tool} in ${root}\n  ${shown}\n`);
      const r = spawnSync(plan.command, plan.args, { cwd: plan.cwd, stdio: 'inherit', env: { ...process.env, ...plan.env } });
      if (r.error) throw new Error(`build: could not start ${plan.tool}: ${r.error.message}`);
      if (r.status !== 0) {
        throw new Error(`build: ${plan.tool} failed (exit ${r.status ?? r.signal}); its output is above. ` +
          (plan.tool === 'node-gyp' && !plan.args.some((a) => a.startsWith('--nodedir'))
            ? 'If it failed fetching Node headers (offline), pass them: npm_config_nodedir=/path/to/node-prefix npx merclip build'
            : ''));
      }
      const info = probe(plan.output);
      out(`built ${plan.output} (${info.buildSystem}, ${info.portable ? 'portable' : 'native'}, best SIMD ${info.maxSimdLevel}` +
        `${info.cuda.compiled ? ', CUDA compiled in' : ''}); merclip now loads it in preference to the prebuilt addon\n`);
    });
}
