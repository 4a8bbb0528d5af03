// lib/backend/index.ts — backend selection and controls over the loaded addon.
import { addonPath, addonSelection, loadNative, packageVersion } from './load.js';
import type { NativeBinding, NativeInfo, SimdLevelName } from './native.js';

export type { NativeBinding, NativeInfo, SimdLevelName, GeluApproximate } from './native.js';
export { AddonLoadError, BINDING_API_VERSION, packageRoot, packageVersion } from './load.js';
export type { AddonSource } from './candidates.js';

const SIMD_LEVELS: readonly SimdLevelName[] = ['scalar', 'avx2', 'avx512', 'neon'];

export interface BackendInfo extends NativeInfo {
  packageVersion: string;
  nodeVersion: string;
  nodeAbi: string;
  napiVersion: string;
  addonPath: string;
  /** Where the loaded addon came from: a local build, the prebuilt one, or $MERCLIP_ADDON. */
  addonSource: 'local' | 'prebuilt' | 'env';
  /** Why that addon was chosen (what it is; the candidates passed over and why). */
  addonReason: string;
}

export const backend = {
  /** The raw addon (validates its own arguments; every output must be passed in). */
  native(): NativeBinding {
    return loadNative();
  },
  info(): BackendInfo {
    const native = loadNative();
    return {
      ...native.info(),
      packageVersion: packageVersion(),
      nodeVersion: process.versions.node,
      nodeAbi: process.versions.modules,
      napiVersion: process.versions.napi ?? 'unknown',
      addonPath: addonPath() ?? '',
      addonSource: addonSelection()?.source ?? 'local',
      addonReason: addonSelection()?.reason ?? '',
    };
  },
  getSimdLevel(): SimdLevelName {
    return loadNative().getSimdLevel();
  },
  /** Best level this CPU and build support. */
  maxSimdLevel(): SimdLevelName {
    return loadNative().info().maxSimdLevel;
  },
  /** Levels the kernels can be switched to on this machine, lowest first. */
  availableSimdLevels(): SimdLevelName[] {
    const max = this.maxSimdLevel();
    if (max === 'neon') return ['scalar', 'neon']; // AArch64: the x86 levels do not exist there
    return SIMD_LEVELS.slice(0, SIMD_LEVELS.indexOf(max) + 1);
  },
  /** Sets the dispatch level; returns the level in effect (clamped to the machine). */
  setSimdLevel(level: SimdLevelName): SimdLevelName {
    return loadNative().setSimdLevel(level);
  },
  getNumThreads(): number {
    return loadNative().getNumThreads();
  },
  /** Threads the kernels use, 1 … pool size (MERCLIP_NUM_THREADS or the core count). */
  setNumThreads(n: number): number {
    return loadNative().setNumThreads(n);
  },
  poolThreads(): number {
    return loadNative().info().poolThreads;
  },
};
