// test/clip/model.test.ts — a tiny random CLIP saved in the Hugging Face layout and loaded back
// (Clip.save / Clip.fromPretrained): HF names, legacy position_ids ignored, text-only
// checkpoints, the tokenizer picked up, and clear errors for broken directories.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { Clip, parseClipConfig } from '../../lib/clip/model.js';
import { readSafetensors, writeSafetensors, type WritableTensor } from '../../lib/io/index.js';
import { fromArray, noGrad, tidy } from '../../lib/tensor/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const clipDir = resolve(repoRoot, '../shared/data/clip');
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'merclip-clip-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const config = parseClipConfig({
  projection_dim: 16,
  text_config: { vocab_size: 49408, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 77 },
  vision_config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, image_size: 16, patch_size: 8 },
});

function outputs(clip: Clip): { text: number[]; image: number[] } {
  return noGrad(() => tidy(() => {
    const ids = Int32Array.from([49406, 320, 1125, 49407, 49406, 2368, 49407, 0]);
    const pixels = fromArray(Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.sin(i)), [2, 3, 16, 16]);
    return { text: clip.encodeText(ids, 2, 4).toArray(), image: clip.encodeImage(pixels).toArray() };
  }));
}

describe('Clip in the Hugging Face layout', () => {
  it('saves and loads back bit-identically, ignoring legacy position_ids and reading the tokenizer', async () => {
    const a = new Clip(config, { seed: 1 });
    const dir = tmp();
    await a.save(dir);
    // add the legacy buffers HF checkpoints carry
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    const w = new Map<string, WritableTensor>([...tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.data as Float32Array }]));
    w.set('text_model.embeddings.position_ids', { dtype: 'I64', shape: [1, 77], data: BigInt64Array.from({ length: 77 }, (_, i) => BigInt(i)) });
    await writeSafetensors(join(dir, 'model.safetensors'), w);
    copyFileSync(join(clipDir, 'vocab.json'), join(dir, 'vocab.json'));
    copyFileSync(join(clipDir, 'merges.txt'), join(dir, 'merges.txt'));

    const b = await Clip.fromPretrained(dir);
    expect(b.vision_model).not.toBeNull();
    expect(b.tokenizer?.encode('a photo of a cat')).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
    expect(outputs(b)).toEqual(outputs(a));
    expect([...b.namedParameters()].map(([n]) => n)).toEqual(expect.arrayContaining([
      'text_model.embeddings.token_embedding.weight',
      'text_model.encoder.layers.1.self_attn.q_proj.weight',
      'text_model.final_layer_norm.weight',
      'text_projection.weight',
      'vision_model.embeddings.class_embedding',
      'vision_model.pre_layrnorm.weight',
      'vision_model.post_layernorm.bias',
      'visual_projection.weight',
      'logit_scale',
    ]));
    expect(b.text_projection.bias).toBeNull();
  });

  it('loads a text-only checkpoint as a text-only model', async () => {
    const dir = tmp();
    const textOnly = new Clip(config, { seed: 2, vision: false });
    await textOnly.save(dir);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, vision_config: config.vision_config }));
    const b = await Clip.fromPretrained(dir);
    expect(b.vision_model).toBeNull();
    expect(() => b.encodeImage(fromArray([0], [1]))).toThrow(/no vision tower/);
    const ids = Int32Array.from([49406, 320, 49407]);
    const same = noGrad(() => tidy(() => [b.encodeText(ids, 1, 3).toArray(), textOnly.encodeText(ids, 1, 3).toArray()]));
    expect(same[0]).toEqual(same[1]);
  });

  it('names the file and the problem when a directory is broken', async () => {
    const dir = tmp();
    await expect(Clip.fromPretrained(dir)).rejects.toThrow(/config\.json: not found/);
    await new Clip(config, { seed: 3 }).save(dir);
    // a weight of the wrong shape
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    const w = new Map<string, WritableTensor>([...tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.data as Float32Array }]));
    w.set('text_projection.weight', { dtype: 'F32', shape: [16, 31], data: new Float32Array(16 * 31) });
    await writeSafetensors(join(dir, 'model.safetensors'), w);
    await expect(Clip.fromPretrained(dir)).rejects.toThrow(/model\.safetensors: cannot load weights: weight "text_projection.weight" has shape \[16, 31\], the model expects \[16, 32\]/);
    writeFileSync(join(dir, 'config.json'), '{"text_config": {"hidden_size": -4}}');
    await expect(Clip.fromPretrained(dir)).rejects.toThrow(/config\.json: text_config\.hidden_size must be a positive integer, received -4/);
    writeFileSync(join(dir, 'config.json'), '{ not json');
    await expect(Clip.fromPretrained(dir)).rejects.toThrow(/config\.json: not valid JSON/);
  });
});
