// test/helpers/tinyClip.ts — a tiny random CLIP in the Hugging Face layout on disk (config.json,
// model.safetensors, and the real vocab.json + merges.txt from assets/clip), the float64 views
// of its weights, and the MER-CLIP configs built from it, for the raw-input tests.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Clip, parseClipConfig } from '../../lib/clip/model.js';
import { makeConfig } from '../../lib/model/config.js';
import { Rng } from '../../lib/tensor/index.js';
import type { P } from './layersRef.js';
import { scoped } from './layersRef.js';
import type { TextRefConfig, VisionRefConfig } from './clipRef.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const vocabDir = join(repoRoot, 'assets', 'clip');

export const TINY_CLIP = parseClipConfig({
  projection_dim: 12,
  text_config: { vocab_size: 49408, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 77 },
  vision_config: { hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, image_size: 32, patch_size: 8 },
});

/** The small MER-CLIP the raw-input tests build on (features sources; the tests switch them). */
export const TINY_BASE = makeConfig('tiny', {
  width: 16,
  heads: 1,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
});

export const TEXT_REF: TextRefConfig = { hidden: 16, layers: 2, heads: 2, intermediate: 32, eps: 1e-5, act: 'quick_gelu' };
export const VISION_REF: VisionRefConfig = { hidden: 16, layers: 2, heads: 2, intermediate: 32, imageSize: 32, patch: 8, channels: 3, eps: 1e-5, act: 'quick_gelu' };

/** A seeded random CLIP (every weight perturbed, LayerNorms included) saved in HF layout; returns its directory and the model. */
export async function writeTinyClip(seed = 1): Promise<{ dir: string; clip: Clip }> {
  const clip = new Clip(TINY_CLIP, { seed });
  const rng = new Rng(seed + 100);
  for (const p of clip.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! + 0.05 * rng.normal();
  const dir = mkdtempSync(join(tmpdir(), 'merclip-tinyclip-'));
  await clip.save(dir);
  copyFileSync(join(vocabDir, 'vocab.json'), join(dir, 'vocab.json'));
  copyFileSync(join(vocabDir, 'merges.txt'), join(dir, 'merges.txt'));
  return { dir, clip };
}

/** A module's weights in float64 under `prefix` (stripped). */
export function weights64(named: Iterable<[string, { data: Float32Array }]>, prefix = ''): P {
  const all: P = new Map([...named].map(([n, t]) => [n, Float64Array.from(t.data)]));
  return prefix ? scoped(all, prefix) : all;
}
