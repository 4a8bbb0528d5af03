#!/usr/bin/env node
// scripts/prebuild.mjs — builds the portable addon(s) that ship in the package (`prepack` runs it):
//   prebuilds/<platform>-<arch>/merclip.node   portable build (MERCLIP_PORTABLE=1: baseline ISA for
//                                              the generic code; on x86-64 the AVX-512 / AVX2
//                                              kernels are compiled per file and picked by CPUID)
//   prebuilds/<platform>-<arch>/merclip.json   its build facts, which lib/backend/candidates.ts
//                                              checks before loading it (PrebuildMeta)
// Each arch builds with node-gyp in its own staging directory, .prebuild/<platform>-<arch>/ (a
// copy of binding.gyp and native/; files are rewritten only when their content changed, so a
// second `npm pack` recompiles nothing), never in build/, which stays the developer's build.
// linux-arm64 is cross-compiled when aarch64-linux-gnu-g++ is on PATH (host x64). prebuilds/ is
// emptied first: an arch that is not built this time does not ship a stale binary.
// MERCLIP_PREBUILD_ARCHS=x64 (comma list) limits the archs; -j/--jobs N passes to node-gyp.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const platform = process.platform;
const args = process.argv.slice(2);
const jIdx = args.findIndex((a) => a === '-j' || a === '--jobs');
const jobs = jIdx >= 0 ? args[jIdx + 1] : String(Math.max(1, cpus().length));

function log(s) {
  process.stdout.write(`[prebuild] ${s}\n`);
}
function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}
function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (exit ${r.status ?? r.signal})`);
}
function capture(cmd, argv, opts = {}) {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], ...opts }).trim();
  } catch {
    return undefined;
  }
}

/** Copies src → dst (files and folders), writing a file only when its bytes differ. */
function syncTree(src, dst) {
  if (statSync(src).isDirectory()) {
    mkdirSync(dst, { recursive: true });
    for (const name of readdirSync(src)) syncTree(join(src, name), join(dst, name));
    return;
  }
  const data = readFileSync(src);
  if (existsSync(dst) && readFileSync(dst).equals(data)) return;
  mkdirSync(dirname(dst), { recursive: true });
  writeFileSync(dst, data);
}

function nodeGyp() {
  const env = process.env.npm_config_node_gyp;
  if (env && existsSync(env)) return env;
  try {
    return createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // not a dependency: use npm's own copy
  }
  const npmGyp = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(npmGyp)) return npmGyp;
  throw new Error('node-gyp not found (run this through npm: npm pack / npm run prebuilds)');
}

function nodeDirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

/** Highest GLIBC_x.y / GLIBCXX_3.4.z the binary's version needs list names (readelf -V). */
function symbolFloors(file) {
  const text = capture('readelf', ['-V', '--wide', file]);
  if (text === undefined) return { glibcFloor: null, glibcxxFloor: null, note: 'readelf not found: floors unknown' };
  const max = (re) => {
    let best = null;
    for (const m of text.matchAll(re)) {
      const v = m[1];
      if (best === null || cmp(v, best) > 0) best = v;
    }
    return best;
  };
  return {
    glibcFloor: max(/Name: GLIBC_([0-9.]+)/g),
    glibcxxFloor: max(/Name: GLIBCXX_([0-9.]+)/g),
    needed: [...(capture('readelf', ['-d', file]) ?? '').matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]),
  };
}
function cmp(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

function gitCommit() {
  const head = capture('git', ['rev-parse', 'HEAD'], { cwd: root });
  if (!head) return null;
  const dirty = capture('git', ['status', '--porcelain', '--', 'native', 'binding.gyp'], { cwd: root });
  return dirty ? `${head}-dirty` : head;
}

const napiVersion = Number(/NAPI_VERSION=(\d+)/.exec(readFileSync(join(root, 'binding.gyp'), 'utf8'))?.[1]);
const bindingApiVersion = Number(/kBindingApiVersion\s*=\s*(\d+)/.exec(readFileSync(join(root, 'native', 'binding', 'bindings.h'), 'utf8'))?.[1]);
if (!napiVersion || !bindingApiVersion) throw new Error('cannot read NAPI_VERSION (binding.gyp) or kBindingApiVersion (bindings.h)');

function targets() {
  const wanted = process.env.MERCLIP_PREBUILD_ARCHS?.split(',').map((s) => s.trim()).filter(Boolean);
  const list = [{ arch: process.arch, cross: null }];
  if (platform === 'linux' && process.arch === 'x64') {
    if (which('aarch64-linux-gnu-g++')) {
      list.push({ arch: 'arm64', cross: { prefix: 'aarch64-linux-gnu-', gypArch: 'arm64', defines: ['-Dmerclip_x86=0', '-Dmerclip_arm64=1'] } });
    } else if (!wanted || wanted.includes('arm64')) {
      log('aarch64-linux-gnu-g++ not on PATH: no linux-arm64 prebuild this time (apt-get install g++-aarch64-linux-gnu)');
    }
  }
  return wanted ? list.filter((t) => wanted.includes(t.arch)) : list;
}

function build(t) {
  const name = `${platform}-${t.arch}`;
  const stage = join(root, '.prebuild', name);
  syncTree(join(root, 'binding.gyp'), join(stage, 'binding.gyp'));
  syncTree(join(root, 'native'), join(stage, 'native'));
  const env = { ...process.env, MERCLIP_PORTABLE: '1' };
  const common = [...nodeDirArgs()];
  let cxx = process.env.CXX || 'g++';
  if (t.cross) {
    cxx = `${t.cross.prefix}g++`;
    Object.assign(env, { CC: `${t.cross.prefix}gcc`, CXX: cxx, LINK: cxx, AR: `${t.cross.prefix}ar` });
    common.push(`--arch=${t.cross.gypArch}`);
  }
  const gyp = nodeGyp();
  log(`${name}: node-gyp in ${relative(root, stage)} (portable${t.cross ? `, cross ${t.cross.prefix}g++` : ''})`);
  run(process.execPath, [gyp, 'configure', ...common, ...(t.cross ? ['--', ...t.cross.defines] : [])], { cwd: stage, env });
  run(process.execPath, [gyp, 'build', '-j', jobs, ...common], { cwd: stage, env });
  const built = join(stage, 'build', 'Release', 'merclip.node');
  const outDir = join(root, 'prebuilds', name);
  mkdirSync(outDir, { recursive: true });
  const dest = join(outDir, 'merclip.node');
  const strip = which(`${t.cross ? t.cross.prefix : ''}strip`);
  if (strip) run(strip, ['--strip-unneeded', '-o', dest, built]);
  else copyFileSync(built, dest);

  const meta = {
    platform,
    arch: t.arch,
    ...(platform === 'linux' ? { libc: 'glibc' } : {}),
    ...(platform === 'linux' ? symbolFloors(dest) : {}),
    napiVersion,
    bindingApiVersion,
    portable: true,
    buildSystem: 'node-gyp',
    compiler: capture(cxx, ['--version'])?.split('\n')[0] ?? cxx,
    builtWithNode: process.versions.node,
    builtWithNodeAbi: process.versions.modules,
    gitCommit: gitCommit(),
    packageVersion: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version,
    tested: 'not loaded by this script',
  };
  if (!t.cross) {
    // the host build is loaded once: it must be portable and speak this package's binding API
    const probe = `const m = require(${JSON.stringify(dest)}); process.stdout.write(JSON.stringify({ v: m.bindingApiVersion, info: m.info() }));`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${dest} does not load: ${r.stderr}`);
    const p = JSON.parse(r.stdout);
    if (p.v !== bindingApiVersion || p.info.portable !== true) {
      throw new Error(`${dest}: binding API v${p.v} (want ${bindingApiVersion}), portable ${p.info.portable} (want true)`);
    }
    meta.compilerFlags = p.info.compilerFlags;
    meta.tested = `loaded by node ${process.versions.node} (max SIMD here: ${p.info.maxSimdLevel})`;
  }
  writeFileSync(join(outDir, 'merclip.json'), JSON.stringify(meta, null, 2) + '\n');
  log(`${name}: ${relative(root, dest)} (${(statSync(dest).size / 1e6).toFixed(2)} MB, glibc ≥ ${meta.glibcFloor ?? '?'}, GLIBCXX ${meta.glibcxxFloor ?? '?'}, N-API ${napiVersion})`);
}

rmSync(join(root, 'prebuilds'), { recursive: true, force: true });
for (const t of targets()) build(t);
