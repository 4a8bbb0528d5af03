// lib/backend/candidates.ts — where the native addon may be, and whether a candidate fits this
// process before anything is dlopen'ed.
//
// Candidates, in order (addonCandidates):
//   1. $MERCLIP_ADDON — an explicit path; when set it is the ONLY candidate.
//   2. build/Release/merclip.node, build/Debug/merclip.node — a local build (`npx merclip build`,
//      `npm run build:native`, `npm run build:cuda`); preferred, since it may be tuned (-march=native)
//      or have CUDA.
//   3. prebuilds/<platform>-<arch>/merclip.node — the portable addon `npm pack` ships (see
//      scripts/prebuild.mjs), with prebuilds/<dir>/merclip.json holding its build facts
//      (PrebuildMeta). Prebuilds for other platforms found in the package are listed too, so the
//      error says what the package has and why none of it fits.
// A prebuilt candidate is rejected from its merclip.json alone (platform, arch, libc family,
// glibc floor, N-API version, binding API version); every candidate is also rejected when its
// dlopen fails or its bindingApiVersion differs (done by load.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Build facts of one prebuilt addon: prebuilds/<platform>-<arch>/merclip.json. */
export interface PrebuildMeta {
  platform: string;
  arch: string;
  /** The C library it links against (linux only). */
  libc?: 'glibc' | 'musl';
  /** Highest GLIBC_x.y symbol version the binary needs: the oldest glibc it runs on. */
  glibcFloor?: string | null;
  /** Highest GLIBCXX_3.4.x version it needs from the system's libstdc++. */
  glibcxxFloor?: string | null;
  napiVersion: number;
  bindingApiVersion: number;
  portable: boolean;
  [key: string]: unknown;
}

/** What the loader checks a candidate against. */
export interface Runtime {
  platform: string;
  arch: string;
  /** 'glibc' / 'musl' on linux, 'none' elsewhere, 'unknown' when it cannot be told. */
  libc: 'glibc' | 'musl' | 'none' | 'unknown';
  glibcVersion?: string | undefined;
  napiVersion: number;
  nodeVersion: string;
}

export type AddonSource = 'env' | 'local' | 'prebuilt';

export interface AddonCandidate {
  path: string;
  source: AddonSource;
  /** prebuilds/<dir> name for prebuilt candidates. */
  dir?: string;
  meta?: PrebuildMeta;
  /** Set when the candidate is rejected before loading (never dlopen'ed). */
  reject?: string;
}

function glibcFromReport(): string | undefined {
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return report?.header?.glibcVersionRuntime;
  } catch {
    return undefined;
  }
}

/** This process: platform, arch, libc (glibc version from process.report), N-API version. */
export function detectRuntime(): Runtime {
  const rt: Runtime = {
    platform: process.platform,
    arch: process.arch,
    libc: process.platform === 'linux' ? 'unknown' : 'none',
    napiVersion: Number(process.versions.napi ?? 0),
    nodeVersion: process.versions.node,
  };
  if (process.platform === 'linux') {
    const glibc = glibcFromReport();
    if (glibc) {
      rt.libc = 'glibc';
      rt.glibcVersion = glibc;
    } else if (['/lib/ld-musl-x86_64.so.1', '/lib/ld-musl-aarch64.so.1'].some((p) => existsSync(p))) {
      rt.libc = 'musl';
    }
  }
  return rt;
}

export function describeRuntime(rt: Runtime): string {
  const libc = rt.libc === 'glibc' ? `glibc ${rt.glibcVersion ?? '?'}` : rt.libc === 'musl' ? 'musl libc' : rt.libc === 'unknown' ? 'unknown libc' : '';
  return [`${rt.platform}-${rt.arch}`, libc, `Node ${rt.nodeVersion}`, `N-API ${rt.napiVersion}`].filter(Boolean).join(', ');
}

/** Compares dotted versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Why a prebuilt addon with these build facts cannot run here, or undefined when it may. */
export function prebuildMismatch(meta: PrebuildMeta, rt: Runtime, bindingApiVersion: number): string | undefined {
  if (meta.platform !== rt.platform || meta.arch !== rt.arch) {
    return `built for ${meta.platform}-${meta.arch}, this is ${rt.platform}-${rt.arch}`;
  }
  if (rt.platform === 'linux' && meta.libc) {
    if (rt.libc === 'musl' && meta.libc === 'glibc') {
      return 'built for glibc, this system uses musl libc (e.g. Alpine); no prebuilt addon for musl ships';
    }
    if (rt.libc === 'glibc' && meta.libc === 'musl') return 'built for musl libc, this system uses glibc';
    if (meta.libc === 'glibc' && rt.libc === 'glibc' && meta.glibcFloor && rt.glibcVersion &&
        compareVersions(rt.glibcVersion, meta.glibcFloor) < 0) {
      return `needs glibc ≥ ${meta.glibcFloor}, this system has glibc ${rt.glibcVersion}`;
    }
  }
  if (meta.napiVersion > rt.napiVersion) {
    return `needs N-API ${meta.napiVersion}, Node ${rt.nodeVersion} has N-API ${rt.napiVersion}`;
  }
  if (meta.bindingApiVersion !== bindingApiVersion) {
    return `stale: built from binding API v${meta.bindingApiVersion} sources, this package needs v${bindingApiVersion}`;
  }
  return undefined;
}

function readMeta(file: string): PrebuildMeta | string {
  if (!existsSync(file)) return 'its build facts (merclip.json) are missing';
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<PrebuildMeta>;
    if (typeof m.platform !== 'string' || typeof m.arch !== 'string' || typeof m.napiVersion !== 'number' ||
        typeof m.bindingApiVersion !== 'number') {
      return 'its merclip.json lacks platform, arch, napiVersion or bindingApiVersion';
    }
    return m as PrebuildMeta;
  } catch (err) {
    return `its merclip.json is unreadable: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** The prebuilt candidates under root/prebuilds: this platform's directory first, then the others. */
export function prebuiltCandidates(root: string, rt: Runtime, bindingApiVersion: number): AddonCandidate[] {
  const base = join(root, 'prebuilds');
  const own = `${rt.platform}-${rt.arch}`;
  let dirs: string[] = [];
  try {
    dirs = readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    // no prebuilds/ (a source checkout before npm pack)
  }
  const ordered = [own, ...dirs.filter((d) => d !== own)];
  const out: AddonCandidate[] = [];
  for (const dir of ordered) {
    const path = join(base, dir, 'merclip.node');
    if (dir !== own && !dirs.includes(dir)) continue;
    if (!existsSync(path)) {
      out.push({ path, source: 'prebuilt', dir, reject: dir === own ? `not found (the package has no prebuilt addon for ${own})` : 'not found' });
      continue;
    }
    const meta = readMeta(join(base, dir, 'merclip.json'));
    if (typeof meta === 'string') {
      out.push({ path, source: 'prebuilt', dir, reject: meta });
      continue;
    }
    const c: AddonCandidate = { path, source: 'prebuilt', dir, meta };
    const why = prebuildMismatch(meta, rt, bindingApiVersion);
    if (why) c.reject = why;
    out.push(c);
  }
  return out;
}

/** Every candidate, in the order they are tried (see the header). */
export function addonCandidatesFor(root: string, rt: Runtime, bindingApiVersion: number,
  env: NodeJS.ProcessEnv = process.env): AddonCandidate[] {
  return [...lazyCandidates(root, () => rt, bindingApiVersion, env)];
}

export function localCandidates(root: string): AddonCandidate[] {
  return [
    { path: join(root, 'build', 'Release', 'merclip.node'), source: 'local' },
    { path: join(root, 'build', 'Debug', 'merclip.node'), source: 'local' },
  ];
}

/**
 * The same candidates, made as they are reached: the runtime (process.report, tens of ms) is
 * only asked for when the local builds did not load and the prebuilt ones are looked at.
 */
export function* lazyCandidates(root: string, rt: () => Runtime, bindingApiVersion: number,
  env: NodeJS.ProcessEnv = process.env): Generator<AddonCandidate> {
  if (env.MERCLIP_ADDON) {
    yield { path: env.MERCLIP_ADDON, source: 'env' };
    return;
  }
  yield* localCandidates(root);
  yield* prebuiltCandidates(root, rt(), bindingApiVersion);
}

export function sourceLabel(c: AddonCandidate): string {
  if (c.source === 'env') return '$MERCLIP_ADDON';
  if (c.source === 'local') return 'local build';
  return `prebuilt ${c.dir ?? ''}`.trim();
}
