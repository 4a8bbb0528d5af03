// `merclip info` through the real bin script (as `npx merclip info` runs it).
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { backend, packageRoot } from '../../lib/backend/index.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');

describe('merclip info', () => {
  it('--json reports version, ABI, build, SIMD, threads and CUDA matching the loaded addon', () => {
    const out = execFileSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8' });
    const info = JSON.parse(out) as Record<string, unknown>;
    const here = backend.info();
    expect(info.packageVersion).toBe(here.packageVersion);
    expect(info.nodeAbi).toBe(process.versions.modules);
    expect(info.buildSystem).toBe(here.buildSystem);
    expect(info.portable).toBe(here.portable);
    expect(String(info.compilerFlags)).toMatch(/-O3/);
    expect(info.maxSimdLevel).toBe(here.maxSimdLevel);
    expect(info.poolThreads).toBe(here.poolThreads);
    expect(info.cuda).toMatchObject({ compiled: here.cuda.compiled, deviceCount: here.cuda.deviceCount });
  });

  it('the text form names each fact', () => {
    const out = execFileSync(process.execPath, [bin, 'info'], { encoding: 'utf8' });
    for (const key of ['merclip', 'node', 'addon', 'build', 'flags', 'simd', 'threads', 'cuda']) {
      expect(out).toMatch(new RegExp(`^${key}\\s`, 'm'));
    }
    expect(out).toContain(`ABI ${process.versions.modules}`);
  });

  it('MERCLIP_NUM_THREADS and MERCLIP_SIMD are honoured', () => {
    const out = execFileSync(process.execPath, [bin, 'info', '--json'], {
      encoding: 'utf8',
      env: { ...process.env, MERCLIP_NUM_THREADS: '1', MERCLIP_SIMD: 'scalar' },
    });
    const info = JSON.parse(out) as { poolThreads: number; simdLevel: string };
    expect(info.poolThreads).toBe(1);
    expect(info.simdLevel).toBe('scalar');
  });

  it('an unknown command is one error line and a non-zero exit', () => {
    const r = spawnSync(process.execPath, [bin, 'frobnicate'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
