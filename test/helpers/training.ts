// test/helpers/training.ts — what the training tests share: temp directories removed after the
// file's tests, and a small MER-CLIP config (width 16, a one-layer CLIP tower) sized to a
// synthetic set's feature shapes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import type { DataSplit } from '../../lib/data/batch.js';
import { makeConfig, type MerClipConfig } from '../../lib/model/config.js';

/** A function making fresh temp directories (prefix `merclip-<name>-`), all removed after the file's tests. */
export function tempDirs(name: string): () => string {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  return () => {
    const d = mkdtempSync(join(tmpdir(), `merclip-${name}-`));
    dirs.push(d);
    return d;
  };
}

/** The tiny preset shrunk to width 16, 2 heads and a one-layer CLIP tower, for `split`'s shapes. */
export function smallConfig(split: DataSplit, overrides: Partial<MerClipConfig> = {}): MerClipConfig {
  return makeConfig('tiny', {
    width: 16,
    heads: 2,
    modalities: {
      text: { dim: split.text.dim, maxLength: split.text.length },
      audio: { dim: split.audio.dim, maxLength: split.audio.length },
      vision: { dim: split.vision.dim, maxLength: split.vision.length },
    },
    clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
    ...overrides,
  });
}
