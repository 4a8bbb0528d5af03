// `merclip info` through the real bin script (as `npx merclip info` runs it).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { backend, packageRoot } from '../../lib/backend/index.js';
import { Clip, parseClipConfig } from '../../lib/clip/model.js';

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
    expect(info.addonPath).toBe(here.addonPath);
    expect(info.addonSource).toBe(here.addonSource);
    expect(String(info.addonReason)).toBe(here.addonReason);
    expect(here.addonReason.length).toBeGreaterThan(0);
  });

  it('the text form names each fact', () => {
    const out = execFileSync(process.execPath, [bin, 'info'], { encoding: 'utf8' });
    for (const key of ['merclip', 'node', 'addon', 'addon source', 'build', 'flags', 'simd', 'threads', 'cuda']) {
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

  it('--clip DIR loads a Hugging Face CLIP directory and reports its config and parameter count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merclip-info-'));
    try {
      const clip = new Clip(parseClipConfig({ projection_dim: 8, text_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 } }));
      await clip.save(dir);
      const info = JSON.parse(execFileSync(process.execPath, [bin, 'info', '--json', '--clip', dir], { encoding: 'utf8' })) as { clip: { parameters: number; config: { text_config: { hidden_size: number } } } };
      expect(info.clip.parameters).toBe(clip.parameterCount());
      expect(info.clip.config.text_config.hidden_size).toBe(16);
      const text = execFileSync(process.execPath, [bin, 'info', '--clip', dir], { encoding: 'utf8' });
      expect(text).toMatch(/text\s+width 16, 1 layers, 2 heads, vocab 49408/);
      expect(text).toMatch(/vision\s+none \(text-only checkpoint\)/);
      expect(text).toContain(`parameters ${clip.parameterCount().toLocaleString('en-US')}`);
      const bad = spawnSync(process.execPath, [bin, 'info', '--clip', join(dir, 'missing')], { encoding: 'utf8' });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/config\.json: not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
