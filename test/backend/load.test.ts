// The addon loader: a missing, broken or stale addon gives one error that lists every path
// tried with its reason and the command that fixes it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { AddonLoadError, BINDING_API_VERSION, loadFrom } from '../../lib/backend/load.js';
import { backend } from '../../lib/index.js';

describe('addon loader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'merclip-load-'));
  const missing = join(dir, 'nope.node');
  const broken = join(dir, 'broken.cjs');
  const stale = join(dir, 'stale.cjs');
  writeFileSync(broken, 'throw new Error("boom: cannot open shared object")\n');
  writeFileSync(stale, `module.exports = { bindingApiVersion: ${BINDING_API_VERSION - 1} };\n`);

  it('lists every attempt with its reason and the fix', () => {
    let err: unknown;
    try {
      loadFrom([missing, broken, stale]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AddonLoadError);
    const e = err as AddonLoadError;
    expect(e.attempts.map((a) => a.path)).toEqual([missing, broken, stale]);
    expect(e.message).toContain(`${missing}: not found`);
    expect(e.message).toMatch(/broken\.cjs: failed to load: boom: cannot open shared object/);
    expect(e.message).toMatch(new RegExp(`stale\\.cjs: stale: binding API v${BINDING_API_VERSION - 1}, this package needs v${BINDING_API_VERSION}`));
    expect(e.message).toContain('npm run build');
    expect(e.message).toContain('npm run build:cuda');
  });

  it('skips bad candidates and loads the first usable one', () => {
    const real = backend.info().addonPath;
    const { binding, path } = loadFrom([missing, stale, real]);
    expect(path).toBe(real);
    expect(binding.bindingApiVersion).toBe(BINDING_API_VERSION);
  });
});
