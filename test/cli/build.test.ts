// `merclip build` (lib/cli/build.ts): the tool check against a controlled PATH (fake executables),
// the node-gyp / cmake-js command it plans for each flag, and the real bin script without a
// compiler on PATH (a clear list of what is missing, non-zero exit, nothing built). The build
// itself (node-gyp, ~1 min) is exercised by `npm install` / `npm pack` in CI, not here.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/load.js';
import { missingTools, planBuild, which } from '../../lib/cli/build.js';

const tmp = mkdtempSync(join(tmpdir(), 'merclip-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function binDir(name: string, tools: string[]): string {
  const d = join(tmp, name);
  mkdirSync(d, { recursive: true });
  for (const t of tools) {
    writeFileSync(join(d, t), '#!/bin/sh\nexit 0\n');
    chmodSync(join(d, t), 0o755);
  }
  return d;
}

describe('merclip build: tools', () => {
  it('which() finds executables on PATH only', () => {
    const d = binDir('which', ['g++']);
    writeFileSync(join(d, 'make'), 'not executable');
    expect(which('g++', { PATH: d })).toBe(join(d, 'g++'));
    expect(which('make', { PATH: d })).toBeUndefined();
    expect(which('g++', { PATH: '' })).toBeUndefined();
  });

  it('names each missing tool; none when all are there', () => {
    const empty = binDir('empty', []);
    expect(missingTools({}, { PATH: empty })).toEqual(['a C++17 compiler (g++)', 'make', 'Python 3 (node-gyp runs gyp with it)']);
    expect(missingTools({}, { PATH: binDir('all', ['g++', 'make', 'python3']) })).toEqual([]);
    expect(missingTools({}, { PATH: binDir('py', ['g++', 'make', 'python']) })).toEqual([]);
    // only clang++: the message says how to use it
    expect(missingTools({}, { PATH: binDir('clang', ['clang++', 'make', 'python3']) })).toEqual(['a C++17 compiler (g++) — clang++ is there: CXX=clang++ npx merclip build']);
    expect(missingTools({}, { PATH: binDir('clang2', ['clang++', 'make', 'python3']), CXX: 'clang++ -stdlib=libc++' })).toEqual([]);
    expect(missingTools({ cuda: true }, { PATH: binDir('cuda', ['g++']) })).toEqual(['cmake (≥ 3.18)', 'nvcc (the CUDA toolkit; or set CUDACXX)']);
  });
});

describe('merclip build: plan', () => {
  const root = packageRoot();
  it('--native (default) and --portable run node-gyp rebuild with MERCLIP_PORTABLE 0 / 1', () => {
    const native = planBuild({}, root);
    expect(native.tool).toBe('node-gyp');
    expect(native.command).toBe(process.execPath);
    expect(native.args[0]).toMatch(/node-gyp\.js$/);
    expect(native.args.slice(1, 4)).toEqual(['rebuild', '-j', 'max']);
    expect(native.env).toEqual({ MERCLIP_PORTABLE: '0' });
    expect(native.cwd).toBe(root);
    expect(native.output).toBe(join(root, 'build', 'Release', 'merclip.node'));
    const portable = planBuild({ portable: true, jobs: '3' }, root);
    expect(portable.env).toEqual({ MERCLIP_PORTABLE: '1' });
    expect(portable.args.slice(1, 4)).toEqual(['rebuild', '-j', '3']);
    expect(() => planBuild({ native: true, portable: true }, root)).toThrow('--native and --portable exclude each other');
  });

  it('--cuda runs cmake-js with MERCLIP_CUDA=ON and no C++ tests', () => {
    const p = planBuild({ cuda: true }, root);
    expect(p.tool).toBe('cmake-js');
    expect(p.args.slice(-4)).toEqual(['rebuild', '--CDMERCLIP_CUDA=ON', '--CDMERCLIP_TESTS=OFF', '--CDMERCLIP_PORTABLE=OFF']);
  });

  it('--dry-run prints the command and builds nothing', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'merclip.js'), 'build', '--portable', '--dry-run'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^would run in .*:\n {2}MERCLIP_PORTABLE=1 \S+ \S+node-gyp\.js rebuild -j max/);
  });
});

describe('merclip build: no compiler', () => {
  it('the bin script lists what is missing and exits non-zero, with node alone on PATH', () => {
    const d = binDir('nodeonly', []);
    symlinkSync(process.execPath, join(d, 'node'));
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: d };
    delete env.CXX;
    const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'merclip.js'), 'build'], { encoding: 'utf8', env });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('merclip: build: cannot compile the addon, missing on PATH:');
    expect(r.stderr).toContain('- a C++17 compiler (g++)');
    expect(r.stderr).toContain('- make');
    expect(r.stderr).toContain('apt-get install g++ make python3');
  });
});
