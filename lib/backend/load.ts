// lib/backend/load.ts — finds and loads the native addon, once.
//
// Tries, in order: $MERCLIP_ADDON (an explicit path), build/Release/merclip.node (node-gyp and
// cmake-js both write there), build/Debug/merclip.node. An addon whose bindingApiVersion differs
// from this package's is stale (built from older sources) and is not used. When nothing loads,
// one error lists every path tried with its reason, and the command that fixes it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './native.js';

/** Must equal kBindingApiVersion in native/binding/bindings.h. */
export const BINDING_API_VERSION = 9;

export class AddonLoadError extends Error {
  readonly attempts: ReadonlyArray<{ path: string; reason: string }>;
  constructor(message: string, attempts: Array<{ path: string; reason: string }>) {
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

let cached: NativeBinding | undefined;
let loadedFrom: string | undefined;

export function addonPath(): string | undefined {
  return loadedFrom;
}

/** Default places to look for the addon, in order. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  const candidates: string[] = [];
  if (process.env.MERCLIP_ADDON) candidates.push(process.env.MERCLIP_ADDON);
  candidates.push(join(root, 'build', 'Release', 'merclip.node'), join(root, 'build', 'Debug', 'merclip.node'));
  return candidates;
}

/**
 * Loads the first usable addon among `candidates` (missing, failing to load, or stale ones are
 * skipped with their reason); throws one AddonLoadError listing every attempt otherwise.
 */
export function loadFrom(candidates: readonly string[]): { binding: NativeBinding; path: string } {
  const require = createRequire(import.meta.url);
  const attempts: Array<{ path: string; reason: string }> = [];
  for (const path of candidates) {
    if (!existsSync(path)) {
      attempts.push({ path, reason: 'not found' });
      continue;
    }
    let mod: NativeBinding;
    try {
      mod = require(path) as NativeBinding;
    } catch (err) {
      attempts.push({ path, reason: `failed to load: ${(err as Error).message.split('\n')[0]}` });
      continue;
    }
    if (mod.bindingApiVersion !== BINDING_API_VERSION) {
      attempts.push({
        path,
        reason: `stale: binding API v${String(mod.bindingApiVersion)}, this package needs v${BINDING_API_VERSION}`,
      });
      continue;
    }
    return { binding: mod, path };
  }
  const lines = attempts.map((a) => `  - ${a.path}: ${a.reason}`).join('\n');
  throw new AddonLoadError(
    `merclip: could not load the native addon. Tried:\n${lines}\n` +
      `Fix: run \`npm run build:native\` in ${packageRoot()} (CPU addon, node-gyp; MERCLIP_PORTABLE=1 for a portable build) ` +
      'or `npm run build:cuda` (CMake + CUDA toolkit).',
    attempts,
  );
}

export function loadNative(): NativeBinding {
  if (cached !== undefined) return cached;
  const { binding, path } = loadFrom(addonCandidates());
  cached = binding;
  loadedFrom = path;
  return binding;
}
