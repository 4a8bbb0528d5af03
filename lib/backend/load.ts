// lib/backend/load.ts — finds and loads the native addon, once.
//
// The candidates and their order are in candidates.ts: $MERCLIP_ADDON (alone when set), then a
// local build (build/Release, build/Debug), then the prebuilt portable addon for this
// platform (prebuilds/<platform>-<arch>/). The first one that fits this process, dlopens and
// reports this package's bindingApiVersion is used; addonSelection() says which and why (shown by
// `merclip info`). When nothing loads, one AddonLoadError lists every candidate with its reason
// and the command that fixes it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  type AddonCandidate,
  type AddonSource,
  addonCandidatesFor,
  describeRuntime,
  lazyCandidates,
  detectRuntime,
  type Runtime,
  sourceLabel,
} from './candidates.js';
import type { NativeBinding } from './native.js';

/** Must equal kBindingApiVersion in native/binding/bindings.h. */
export const BINDING_API_VERSION = 13;

export interface AddonAttempt {
  path: string;
  source: AddonSource;
  reason: string;
}

export class AddonLoadError extends Error {
  readonly attempts: ReadonlyArray<AddonAttempt>;
  constructor(message: string, attempts: AddonAttempt[]) {
    super(message);
    this.name = 'AddonLoadError';
    this.attempts = attempts;
  }
}

/** The directory holding merclip's package.json (works from lib/ under vitest and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  const { root } = parse(dir);
  while (dir !== root) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'merclip') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
    }
    dir = dirname(dir);
  }
  throw new Error('merclip: cannot find the package root (no package.json named "merclip" above ' +
    fileURLToPath(import.meta.url) + ')');
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Which addon was loaded, and why that one. */
export interface AddonSelection {
  path: string;
  source: AddonSource;
  /** One line: what it is and why it was chosen (the candidates before it and their reasons). */
  reason: string;
  /** The candidates tried before it, with why each was passed over. */
  skipped: AddonAttempt[];
}

let cached: NativeBinding | undefined;
let selection: AddonSelection | undefined;

export function addonPath(): string | undefined {
  return selection?.path;
}

export function addonSelection(): AddonSelection | undefined {
  return selection;
}

/** The candidates for this package and process, in order (see candidates.ts). */
export function addonCandidates(): AddonCandidate[] {
  return addonCandidatesFor(packageRoot(), detectRuntime(), BINDING_API_VERSION);
}

function chosenReason(c: AddonCandidate, skipped: AddonAttempt[]): string {
  let what: string;
  if (c.source === 'env') what = 'the path in $MERCLIP_ADDON';
  else if (c.source === 'local') what = 'local build (npx merclip build / npm run build:native), preferred over the prebuilt addon';
  else {
    const m = c.meta;
    const portable = m?.arch === 'x64' ? ', portable (run-time AVX-512/AVX2 dispatch)' : m?.arch === 'arm64' ? ', portable (NEON)' : ', portable';
    what = `prebuilt for ${c.dir ?? '?'}${m?.portable ? portable : ''}` +
      `${m?.glibcFloor ? `, glibc ≥ ${m.glibcFloor}` : ''}, N-API ${m?.napiVersion ?? '?'}`;
  }
  const notes: string[] = [];
  const locals = skipped.filter((a) => a.source === 'local');
  if (c.source === 'prebuilt' && locals.length > 0 && locals.every((a) => a.reason === 'not found')) {
    notes.push('no local build in build/');
  }
  for (const a of skipped) {
    if (a.reason !== 'not found') notes.push(`passed over ${sourceLabel(a)} ${a.path}: ${a.reason}`);
  }
  return notes.length ? `${what}; ${notes.join('; ')}` : what;
}

/** The fix for a failed load: the exact command, and what it needs. */
export function fixAdvice(attempts: readonly AddonAttempt[], rt: Runtime, root: string): string {
  const lines: string[] = [];
  if (attempts.some((a) => a.source === 'env')) {
    lines.push('unset MERCLIP_ADDON, or point it at a merclip.node built from this version\'s sources;');
  }
  const musl = rt.libc === 'musl';
  lines.push(
    `build the addon for this machine from the package's sources (${musl ? 'Alpine: apk add build-base python3' : 'needs a C++17 compiler, make and Python 3'}):`,
    '  npx merclip build              (run in your project; it builds in ' + root + ')',
    '  npx merclip build --portable   (a binary for any x86-64), or --cuda (CMake + the CUDA toolkit)',
  );
  return lines.join('\n');
}

/**
 * Loads the first usable addon among `candidates` (pre-rejected, missing, failing to load, or
 * stale ones are skipped with their reason); throws one AddonLoadError listing every attempt
 * otherwise.
 */
export function loadFrom(candidates: Iterable<AddonCandidate | string>, runtime: Runtime | (() => Runtime) = detectRuntime,
  root: string = packageRoot()): { binding: NativeBinding; path: string; selection: AddonSelection } {
  const require = createRequire(import.meta.url);
  const attempts: AddonAttempt[] = [];
  for (const entry of candidates) {
    const c: AddonCandidate = typeof entry === 'string' ? { path: entry, source: 'env' } : entry;
    const { path, source } = c;
    if (c.reject !== undefined) {
      attempts.push({ path, source, reason: c.reject });
      continue;
    }
    if (!existsSync(path)) {
      attempts.push({ path, source, reason: 'not found' });
      continue;
    }
    let mod: NativeBinding;
    try {
      mod = require(path) as NativeBinding;
    } catch (err) {
      const first = (err as Error).message.split('\n')[0] ?? '';
      const runtimeTooOld = /version `GLIBC(XX)?_[0-9.]+' not found/.test(first) && c.meta
        ? ` (this system's C/C++ runtime is older than the prebuilt addon needs: glibc ≥ ${c.meta.glibcFloor ?? '?'}, libstdc++ with GLIBCXX_${c.meta.glibcxxFloor ?? '?'})`
        : '';
      attempts.push({ path, source, reason: `failed to load: ${first}${runtimeTooOld}` });
      continue;
    }
    if (mod.bindingApiVersion !== BINDING_API_VERSION) {
      attempts.push({
        path,
        source,
        reason: `stale: binding API v${String(mod.bindingApiVersion)}, this package needs v${BINDING_API_VERSION}`,
      });
      continue;
    }
    const sel: AddonSelection = { path, source, reason: chosenReason(c, attempts), skipped: attempts };
    return { binding: mod, path, selection: sel };
  }
  const rt = typeof runtime === 'function' ? runtime() : runtime;
  const lines = attempts.map((a) => `  - ${sourceLabel(a)} ${a.path}: ${a.reason}`).join('\n');
  throw new AddonLoadError(
    `merclip: could not load the native addon (this is ${describeRuntime(rt)}). Tried:\n${lines}\n` +
      `Fix: ${fixAdvice(attempts, rt, root)}`,
    attempts,
  );
}

export function loadNative(): NativeBinding {
  if (cached !== undefined) return cached;
  const root = packageRoot();
  let rt: Runtime | undefined;
  const runtime = (): Runtime => (rt ??= detectRuntime());
  const { binding, selection: sel } = loadFrom(lazyCandidates(root, runtime, BINDING_API_VERSION), runtime, root);
  cached = binding;
  selection = sel;
  return binding;
}
