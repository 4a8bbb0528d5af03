// The addon loader (lib/backend/load.ts, candidates.ts): the candidate order (local build, then
// the prebuilt addon for this platform), the checks made from a prebuild's merclip.json before
// anything is dlopen'ed (platform, arch, libc, glibc floor, N-API, binding API), the reason it
// gives for the addon it chose, and the one error listing every candidate and the fix — with fake
// package roots holding fake prebuilds/ and copies of the real addon.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  type AddonCandidate,
  addonCandidatesFor,
  compareVersions,
  detectRuntime,
  type PrebuildMeta,
  type Runtime,
} from '../../lib/backend/candidates.js';
import { AddonLoadError, BINDING_API_VERSION, loadFrom } from '../../lib/backend/load.js';
import { backend } from '../../lib/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'merclip-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const realAddon = backend.info().addonPath;

const HERE: Runtime = { platform: 'linux', arch: 'x64', libc: 'glibc', glibcVersion: '2.36', napiVersion: 9, nodeVersion: '20.20.2' };

function meta(over: Partial<PrebuildMeta> = {}): PrebuildMeta {
  return { platform: 'linux', arch: 'x64', libc: 'glibc', glibcFloor: '2.32', glibcxxFloor: '3.4.30', napiVersion: 8, bindingApiVersion: BINDING_API_VERSION, portable: true, ...over };
}

let n = 0;
/** A fake package root: prebuilds/<dir>/{merclip.node,merclip.json} per entry; `node: 'real'` copies the real addon. */
function fakeRoot(prebuilds: Record<string, { meta?: PrebuildMeta | string; node?: 'real' | 'junk' }>, local?: 'real'): string {
  const root = join(tmp, `root${n++}`);
  mkdirSync(root, { recursive: true });
  for (const [dir, p] of Object.entries(prebuilds)) {
    const d = join(root, 'prebuilds', dir);
    mkdirSync(d, { recursive: true });
    if (p.node === 'real') copyFileSync(realAddon, join(d, 'merclip.node'));
    if (p.node === 'junk') writeFileSync(join(d, 'merclip.node'), 'not an ELF file');
    if (p.meta !== undefined) writeFileSync(join(d, 'merclip.json'), typeof p.meta === 'string' ? p.meta : JSON.stringify(p.meta));
  }
  if (local) {
    mkdirSync(join(root, 'build', 'Release'), { recursive: true });
    copyFileSync(realAddon, join(root, 'build', 'Release', 'merclip.node'));
  }
  return root;
}

function rejects(cands: AddonCandidate[]): Array<[string, string | undefined]> {
  return cands.map((c) => [c.path.slice(c.path.indexOf('/', tmp.length + 1) + 1), c.reject]);
}

function loadError(fn: () => unknown): AddonLoadError {
  try {
    fn();
  } catch (e) {
    if (e instanceof AddonLoadError) return e;
    throw e;
  }
  throw new Error('expected an AddonLoadError');
}

describe('addon candidates', () => {
  it('order: local Release, local Debug, this platform\'s prebuild, then the other prebuilds', () => {
    const root = fakeRoot({ 'linux-arm64': { meta: meta({ arch: 'arm64' }), node: 'junk' }, 'darwin-x64': { meta: meta({ platform: 'darwin' }), node: 'junk' }, 'linux-x64': { meta: meta(), node: 'junk' } });
    const c = addonCandidatesFor(root, HERE, BINDING_API_VERSION, {});
    expect(rejects(c)).toEqual([
      ['build/Release/merclip.node', undefined],
      ['build/Debug/merclip.node', undefined],
      ['prebuilds/linux-x64/merclip.node', undefined],
      ['prebuilds/darwin-x64/merclip.node', 'built for darwin-x64, this is linux-x64'],
      ['prebuilds/linux-arm64/merclip.node', 'built for linux-arm64, this is linux-x64'],
    ]);
    expect(c.map((x) => x.source)).toEqual(['local', 'local', 'prebuilt', 'prebuilt', 'prebuilt']);
  });

  it('$MERCLIP_ADDON is the only candidate when set', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' } }, 'real');
    expect(addonCandidatesFor(root, HERE, BINDING_API_VERSION, { MERCLIP_ADDON: '/x/y.node' })).toEqual([{ path: '/x/y.node', source: 'env' }]);
  });

  it('rejects a prebuild from its merclip.json: libc, glibc floor, N-API, binding API, missing or bad facts', () => {
    const cases: Array<[Partial<Runtime>, { meta?: PrebuildMeta | string }, string]> = [
      [{ libc: 'musl', glibcVersion: undefined }, { meta: meta() }, 'built for glibc, this system uses musl libc (e.g. Alpine); no prebuilt addon for musl ships'],
      [{ glibcVersion: '2.31' }, { meta: meta() }, 'needs glibc ≥ 2.32, this system has glibc 2.31'],
      [{ glibcVersion: '2.4' }, { meta: meta({ glibcFloor: '2.17' }) }, 'needs glibc ≥ 2.17, this system has glibc 2.4'],
      [{ napiVersion: 7 }, { meta: meta() }, 'needs N-API 8, Node 20.20.2 has N-API 7'],
      [{}, { meta: meta({ bindingApiVersion: BINDING_API_VERSION - 1 }) }, `stale: built from binding API v${BINDING_API_VERSION - 1} sources, this package needs v${BINDING_API_VERSION}`],
      [{}, {}, 'its build facts (merclip.json) are missing'],
      [{}, { meta: '{"platform": "linux"}' }, 'its merclip.json lacks platform, arch, napiVersion or bindingApiVersion'],
      [{}, { meta: '{oops' }, expect.stringMatching(/^its merclip\.json is unreadable: /) as unknown as string],
    ];
    for (const [rt, p, reason] of cases) {
      const root = fakeRoot({ 'linux-x64': { ...p, node: 'junk' } });
      const c = addonCandidatesFor(root, { ...HERE, ...rt }, BINDING_API_VERSION, {});
      expect(c[2]?.reject).toEqual(reason);
    }
    // at the floor, and newer (2.36 > 2.4 numerically, not as strings): accepted
    for (const v of ['2.32', '2.36', '2.100']) {
      const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'junk' } });
      expect(addonCandidatesFor(root, { ...HERE, glibcVersion: v }, BINDING_API_VERSION, {})[2]?.reject).toBeUndefined();
    }
  });

  it('a package without a prebuild for this platform says so', () => {
    const root = fakeRoot({ 'linux-arm64': { meta: meta({ arch: 'arm64' }), node: 'junk' } });
    const c = addonCandidatesFor(root, HERE, BINDING_API_VERSION, {});
    expect(c[2]?.reject).toBe('not found (the package has no prebuilt addon for linux-x64)');
  });

  it('compareVersions is numeric per component', () => {
    expect(compareVersions('2.31', '2.32')).toBeLessThan(0);
    expect(compareVersions('2.4', '2.31')).toBeLessThan(0);
    expect(compareVersions('2.32', '2.32.0')).toBe(0);
    expect(compareVersions('3.4.30', '3.4.29')).toBeGreaterThan(0);
  });

  it('detectRuntime matches the system (getconf GNU_LIBC_VERSION, process.arch)', () => {
    const rt = detectRuntime();
    expect(rt.platform).toBe(process.platform);
    expect(rt.arch).toBe(process.arch);
    expect(rt.napiVersion).toBe(Number(process.versions.napi));
    const getconf = execFileSync('getconf', ['GNU_LIBC_VERSION'], { encoding: 'utf8' }).trim(); // "glibc 2.36"
    expect(`${rt.libc} ${rt.glibcVersion}`).toBe(getconf);
  });
});

describe('addon loader', () => {
  const dir = mkdtempSync(join(tmp, 'files-'));
  const missing = join(dir, 'nope.node');
  const broken = join(dir, 'broken.cjs');
  const stale = join(dir, 'stale.cjs');
  writeFileSync(broken, 'throw new Error("boom: cannot open shared object")\n');
  writeFileSync(stale, `module.exports = { bindingApiVersion: ${BINDING_API_VERSION - 1} };\n`);

  it('prefers a local build over the prebuilt addon, and says so', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' } }, 'real');
    const { path, selection } = loadFrom(addonCandidatesFor(root, HERE, BINDING_API_VERSION, {}), HERE, root);
    expect(path).toBe(join(root, 'build', 'Release', 'merclip.node'));
    expect(selection.source).toBe('local');
    expect(selection.reason).toMatch(/^local build .*preferred over the prebuilt addon$/);
  });

  it('loads the prebuilt addon when there is no local build; the reason names its facts', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' }, 'linux-arm64': { meta: meta({ arch: 'arm64' }), node: 'junk' } });
    const { binding, path, selection } = loadFrom(addonCandidatesFor(root, HERE, BINDING_API_VERSION, {}), HERE, root);
    expect(path).toBe(join(root, 'prebuilds', 'linux-x64', 'merclip.node'));
    expect(binding.bindingApiVersion).toBe(BINDING_API_VERSION);
    expect(selection.source).toBe('prebuilt');
    expect(selection.reason).toBe('prebuilt for linux-x64, portable (run-time AVX-512/AVX2 dispatch), glibc ≥ 2.32, N-API 8; no local build in build/');
    expect(selection.skipped.map((a) => a.reason)).toEqual(['not found', 'not found']);
  });

  it('passes over a stale or broken local build for the prebuilt one, naming why', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' } });
    const prebuilt = addonCandidatesFor(root, HERE, BINDING_API_VERSION, {}).filter((c) => c.source === 'prebuilt');
    const { selection } = loadFrom([{ path: stale, source: 'local' }, { path: broken, source: 'local' }, ...prebuilt], HERE, root);
    expect(selection.source).toBe('prebuilt');
    expect(selection.reason).toContain(`passed over local build ${stale}: stale: binding API v${BINDING_API_VERSION - 1}, this package needs v${BINDING_API_VERSION}`);
    expect(selection.reason).toContain(`passed over local build ${broken}: failed to load: boom: cannot open shared object`);
  });

  it('nothing fits: one error listing each candidate with its reason, this runtime, and the command that fixes it', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' }, 'linux-arm64': { meta: meta({ arch: 'arm64' }), node: 'junk' } });
    const old: Runtime = { ...HERE, glibcVersion: '2.31' };
    const e = loadError(() => loadFrom(addonCandidatesFor(root, old, BINDING_API_VERSION, {}), old, root));
    expect(e.attempts.map((a) => a.reason)).toEqual([
      'not found',
      'not found',
      'needs glibc ≥ 2.32, this system has glibc 2.31',
      'built for linux-arm64, this is linux-x64',
    ]);
    const lines = e.message.split('\n');
    expect(lines[0]).toBe('merclip: could not load the native addon (this is linux-x64, glibc 2.31, Node 20.20.2, N-API 9). Tried:');
    expect(lines[1]).toBe(`  - local build ${join(root, 'build', 'Release', 'merclip.node')}: not found`);
    expect(lines[3]).toBe(`  - prebuilt ${join(root, 'prebuilds', 'linux-x64', 'merclip.node')}: needs glibc ≥ 2.32, this system has glibc 2.31`);
    expect(lines[4]).toBe(`  - prebuilt ${join(root, 'prebuilds', 'linux-arm64', 'merclip.node')}: built for linux-arm64, this is linux-x64`);
    expect(e.message).toContain('needs a C++17 compiler, make and Python 3');
    expect(e.message).toContain(`  npx merclip build              (run in your project; it builds in ${root})`);
  });

  it('musl: the fix names the Alpine packages', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'real' } });
    const musl: Runtime = { ...HERE, libc: 'musl', glibcVersion: undefined };
    const e = loadError(() => loadFrom(addonCandidatesFor(root, musl, BINDING_API_VERSION, {}), musl, root));
    expect(e.message).toContain('this is linux-x64, musl libc');
    expect(e.message).toContain('built for glibc, this system uses musl libc');
    expect(e.message).toContain('apk add build-base python3');
  });

  it('missing, broken and stale files each get their reason; $MERCLIP_ADDON gets its own fix', () => {
    const e = loadError(() => loadFrom([missing, broken, stale]));
    expect(e.attempts.map((a) => a.path)).toEqual([missing, broken, stale]);
    expect(e.message).toContain(`$MERCLIP_ADDON ${missing}: not found`);
    expect(e.message).toMatch(/broken\.cjs: failed to load: boom: cannot open shared object/);
    expect(e.message).toMatch(new RegExp(`stale\\.cjs: stale: binding API v${BINDING_API_VERSION - 1}, this package needs v${BINDING_API_VERSION}`));
    expect(e.message).toContain('unset MERCLIP_ADDON');
    expect(e.message).toContain('npx merclip build');
  });

  it('a prebuild whose libstdc++ symbols the system lacks: the dlopen error plus what the prebuild needs', () => {
    const old = join(dir, 'oldcxx.cjs');
    writeFileSync(old, "throw new Error(\"/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.30' not found (required by merclip.node)\")\n");
    const e = loadError(() => loadFrom([{ path: old, source: 'prebuilt', dir: 'linux-x64', meta: meta() }], HERE, tmp));
    expect(e.attempts[0]?.reason).toBe("failed to load: /lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.30' not found (required by merclip.node)" +
      " (this system's C/C++ runtime is older than the prebuilt addon needs: glibc ≥ 2.32, libstdc++ with GLIBCXX_3.4.30)");
  });

  it('a junk merclip.node that passes the facts check fails at dlopen with the loader\'s message', () => {
    const root = fakeRoot({ 'linux-x64': { meta: meta(), node: 'junk' } });
    const e = loadError(() => loadFrom(addonCandidatesFor(root, HERE, BINDING_API_VERSION, {}), HERE, root));
    expect(e.attempts[2]?.reason).toMatch(/^failed to load: .*(invalid ELF header|file too short)/);
  });
});
