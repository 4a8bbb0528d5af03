// merclip train --clip DIR [--clip-inputs text,vision] through the real bin script: the label
// encoder (and the vision tower) take the HF CLIP directory's weights, the saved model carries
// the 'clip' sources and predicts raw transcripts and frames; a data/tower dim mismatch is one
// clear line and a non-zero exit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import type { Clip } from '../../lib/clip/model.js';
import { writeDatasetSync } from '../../lib/data/file.js';
import { generateSynthetic } from '../../lib/data/synth.js';
import { MerClip } from '../../lib/model/merclip.js';
import { writeTinyClip } from '../helpers/tinyClip.js';

const bin = join(packageRoot(), 'bin', 'merclip.js');
const dir = mkdtempSync(join(tmpdir(), 'merclip-cliclip-'));
const data = join(dir, 'data.safetensors');
const wrongDim = join(dir, 'wrong.safetensors');
let clipDir = '';
let clip: Clip;
afterAll(() => [dir, clipDir].forEach((d) => rmSync(d, { recursive: true, force: true })));

beforeAll(async () => {
  ({ dir: clipDir, clip } = await writeTinyClip(4));
  const sizes = { train: 48, valid: 16, test: 16 };
  // text as the tiny CLIP text tower's hidden states (16), vision as its projected embeddings (12)
  writeDatasetSync(data, generateSynthetic({ seed: 2, sizes, text: { length: 9, dim: 16 }, audio: { length: 8, dim: 5 }, vision: { length: 4, dim: 12 } }).splits, { source: 'test' });
  writeDatasetSync(wrongDim, generateSynthetic({ seed: 2, sizes, text: { length: 9, dim: 8 }, audio: { length: 8, dim: 5 }, vision: { length: 4, dim: 12 } }).splits, { source: 'test' });
});

const run = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('merclip train --clip', () => {
  it('trains with the CLIP weights; the saved model predicts raw transcripts and frames', async () => {
    const t = run(['train', '--data', data, '--clip', clipDir, '--clip-inputs', 'text,vision', '--epochs', '1', '--batch-size', '16', '--out', 'run', '--quiet', '--json']);
    expect(t.stderr).toBe('');
    expect(t.status).toBe(0);
    const { runs } = JSON.parse(t.stdout) as { runs: Array<{ modelDir: string }> };
    const model = await MerClip.load(runs[0]!.modelDir);
    try {
      expect(model.config.modalities.text).toMatchObject({ source: 'clip', dim: 16, maxLength: 50 }) // the preset's (≤ 77);
      expect(model.config.modalities.vision).toMatchObject({ source: 'clip', dim: 12, maxLength: 500 });
      // frozen label encoder and vision tower: still the checkpoint's weights after training
      expect(model.label_encoder.text_projection.weight.data).toEqual(clip.text_projection.weight.data);
      expect(model.vision_tower!.vision_model.embeddings.patch_embedding.weight.data).toEqual(clip.vision_model!.embeddings.patch_embedding.weight.data);
      const frame = { data: new Uint8Array(40 * 30 * 3).fill(128), width: 40, height: 30, channels: 3 as const };
      const p = await model.predict({ text: 'that was great', vision: { frames: [frame, frame] } });
      expect(p.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    } finally {
      await model.close();
    }
  });

  it('rejects data whose features do not match the CLIP tower, in one line', () => {
    const t = run(['train', '--data', wrongDim, '--clip', clipDir, '--clip-inputs', 'text', '--epochs', '1', '--out', 'bad', '--quiet']);
    expect(t.status).not.toBe(0);
    expect(t.stderr).toMatch(/--clip-inputs text: the data's text features have dim 8, the CLIP text tower gives 16 \(extract them with merclip extract --clip /);
  });
});
