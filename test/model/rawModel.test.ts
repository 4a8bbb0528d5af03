// test/model/rawModel.test.ts — raw inputs, the model's side: clear errors (raw input for a
// features modality, wrong-dim features, bad image files, too many frames, bad configs, a CLIP
// checkpoint of another architecture); save → load keeps the sources and tower weights (a
// loaded model predicts on raw inputs with the same numbers); a train step moves the model but
// not its frozen towers, and a tower with frozen false trains.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RgbFrame } from '../../lib/clip/image.js';
import type { Clip } from '../../lib/clip/model.js';
import { readSafetensors } from '../../lib/io/index.js';
import { packSamples, type Sample } from '../../lib/model/batch.js';
import { configFromClip } from '../../lib/model/clipWeights.js';
import { type MerClipConfig, validateConfig, withClipSources } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { AdamW } from '../../lib/nn/index.js';
import { Rng } from '../../lib/tensor/index.js';
import { TINY_BASE, writeTinyClip } from '../helpers/tinyClip.js';

const BASE = TINY_BASE;

let dir = '';
let clip: Clip;
let config: MerClipConfig;
let model: MerClip;
const models: MerClip[] = [];
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'merclip-raw-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  ({ dir, clip } = await writeTinyClip(2));
  dirs.push(dir);
  config = configFromClip(clip, BASE, { text: true, vision: { maxLength: 4 } });
  model = await MerClip.fromClip(config, dir, { seed: 1 });
  models.push(model);
});
afterAll(async () => {
  for (const m of models) await m.close();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const rng = new Rng(3);
const frame = (w = 33, h = 35): RgbFrame => ({ data: Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255)), width: w, height: h, channels: 3 });

describe('raw input errors', () => {
  it('rejects raw inputs for a features modality, wrong-dim features, too many frames, bad frames', async () => {
    const plain = new MerClip(BASE);
    models.push(plain);
    await expect(plain.predict({ text: 'hello' })).rejects.toThrow(RangeError);
    await expect(plain.predict({ text: 'hello' })).rejects.toThrow(/sample 0 text: a string needs modalities\.text\.source "clip" \(this model reads text as features \[L, 12\]\)/);
    await expect(plain.predict({ vision: { frames: [frame()] } })).rejects.toThrow(/sample 0 vision: frames needs modalities\.vision\.source "clip"/);
    await expect(plain.predict({ audio: 'speech.wav' })).rejects.toThrow(/sample 0 audio: raw audio \(a \.wav path, WAV bytes or \{ waveform, sampleRate \}\) needs modalities\.audio\.source "logmel"; this model's audio source is "features" \(give it features of dim 5\)/);
    await expect(plain.predict({ audio: { waveform: new Float32Array(800), sampleRate: 8000 } })).rejects.toThrow(/sample 0 audio: raw audio .* needs modalities\.audio\.source "logmel"/);
    await expect(model.predict({ vision: 'a cat' as never })).rejects.toThrow(/sample 0 vision: a string is not a vision input \(\{ frames \} or features\)/);
    await expect(model.predict({ text: { frames: [frame()] } as never })).rejects.toThrow(/sample 0 text: frames are not a text input \(a transcript string or features\)/);
    // a 'clip' modality takes features of its dim only
    await expect(model.predict({ text: new Float32Array(7) })).rejects.toThrow(/sample 0 text: 7 values are not a whole number of rows of 16 features/);
    await expect(model.predict({ vision: { features: [[1, 2, 3]] } })).rejects.toThrow(/sample 0 vision: row 0 must hold 12 numbers/);
    await expect(model.predict({ vision: { frames: [frame(), frame(), frame(), frame(), frame()] } })).rejects.toThrow(/sample 0 vision: 5 frames exceed the model's maxLength 4/);
    await expect(model.predict({ vision: { frames: [{ data: new Uint8Array(10), width: 4, height: 4, channels: 3 }] } })).rejects.toThrow(/sample 0 vision frame 0: data has 10 values, a 4×4 RGB image needs 48/);
    await expect(model.predict({ vision: { frames: [frame()], fps: -1 } })).rejects.toThrow(/fps must be a positive number/);
    await expect(model.predict({ vision: { frames: [42 as never] } })).rejects.toThrow(/sample 0 vision frame 0: expected an RgbFrame/);
  });

  it('names the image file that is missing, a directory, not an image or corrupt', async () => {
    const d = tmp();
    const notImage = join(d, 'notes.png');
    writeFileSync(notImage, 'this is text, not a PNG');
    const truncated = join(d, 'cut.png');
    const sharp = (await import('sharp')).default;
    const png = await sharp(Buffer.from(frame(8, 8).data), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer();
    writeFileSync(truncated, png.subarray(0, 40));
    const cases: Array<[string, RegExp]> = [
      [join(d, 'missing.jpg'), /sample 0 vision frame 1 \(.*missing\.jpg\): no such file/],
      [d, /sample 0 vision frame 1 \(.*\): not a file/],
      [notImage, /sample 0 vision frame 1 \(.*notes\.png\): not an image, or an unsupported format/],
      [truncated, /sample 0 vision frame 1 \(.*cut\.png\): cannot be decoded/],
    ];
    for (const [file, re] of cases) await expect(model.predict({ vision: { frames: [frame(), file] } })).rejects.toThrow(re);
    await expect(model.predict({ vision: { frames: [new Uint8Array([1, 2, 3])] } })).rejects.toThrow(/sample 0 vision frame 0 \(3 encoded bytes\): not an image/);
  });

  it('validates clip sources with messages naming the field', () => {
    const bad = (patch: (c: MerClipConfig) => void): (() => void) => () => {
      const c = JSON.parse(JSON.stringify(config)) as MerClipConfig;
      patch(c);
      validateConfig(c);
    };
    expect(bad((c) => (c.modalities.text.dim = 12))).toThrow(/modalities\.text\.dim must equal the CLIP text tower's hidden_size 16 \(source "clip"\), received 12/);
    expect(bad((c) => (c.modalities.text.maxLength = 78))).toThrow(/modalities\.text\.maxLength 78 exceeds the CLIP text tower's context length 77/);
    expect(bad((c) => (c.modalities.vision.dim = 16))).toThrow(/modalities\.vision\.dim must equal the vision tower's projection_dim 12/);
    expect(bad((c) => (c.modalities.audio.source = 'clip'))).toThrow(/modalities\.audio\.source "clip" is for text and vision/);
    expect(bad((c) => (c.modalities.audio.source = 'mfcc' as never))).toThrow(/modalities\.audio\.source must be "features", "clip" or "logmel", received "mfcc"/);
    expect(bad((c) => (c.modalities.audio.source = 'logmel'))).toThrow(/modalities\.audio\.dim must be 80 \(the log-mel bins\) with source "logmel", received 5/);
    expect(bad((c) => (c.modalities.vision = { dim: 80, maxLength: 10, source: 'logmel' }))).toThrow(/modalities\.vision\.source "logmel" is for audio/);
    expect(bad((c) => (c.modalities.vision.clip = {} as never))).toThrow(/modalities\.vision\.clip\.vision_config is required/);
    expect(bad((c) => ((c.modalities.vision.clip as { embedding: string }).embedding = 'cls'))).toThrow(/modalities\.vision\.clip\.embedding must be "projected" or "pooled"/);
    expect(bad((c) => ((c.modalities.vision.clip as { vision_config: { patch_size: number } }).vision_config.patch_size = 64))).toThrow(/modalities\.vision\.clip\.vision_config is invalid: .*patch_size 64 is larger than image_size 32/);
    expect(bad((c) => (c.modalities.text.clip = { tower: 'label', frozen: false }))).toThrow(/modalities\.text\.clip\.frozen is false, but tower "label" shares the label encoder's weights and freezeLabelEncoder is true/);
    expect(bad((c) => (c.modalities.text.clip = { tower: 'mine' as never }))).toThrow(/modalities\.text\.clip\.tower must be "label" or "own"/);
    expect(bad((c) => (c.modalities.audio.clip = {}))).toThrow(/modalities\.audio\.clip is only read with source "clip"/);
    expect(() => withClipSources(BASE, { text: true })).not.toThrow(); // dims filled in: valid
  });

  it('rejects a CLIP checkpoint of another architecture, naming the field, before copying anything', async () => {
    const other = JSON.parse(JSON.stringify(config)) as MerClipConfig;
    other.clip.text_config.num_hidden_layers = 3;
    const m = new MerClip(validateConfig(other));
    models.push(m);
    const before = Float32Array.from(m.label_encoder.text_projection.weight.data);
    expect(() => m.loadClip(clip)).toThrow(/text_config\.num_hidden_layers is 2 in the CLIP checkpoint, 3 in the model's clip\.text_config/);
    expect(m.label_encoder.text_projection.weight.data).toEqual(before);
    const v = JSON.parse(JSON.stringify(config)) as MerClipConfig;
    (v.modalities.vision.clip as { vision_config: { image_size: number } }).vision_config.image_size = 48;
    await expect(MerClip.fromClip(validateConfig(v), dir)).rejects.toThrow(/vision_config\.image_size is 32 in the CLIP checkpoint, 48 in the model's modalities\.vision\.clip\.vision_config/);
  });
});

describe('raw-input models: save, load, train', () => {
  const samples: Sample[] = [
    { text: 'so happy today', vision: { frames: [frame(), frame(40, 32)] } },
    { text: 'not great', audio: { features: new Float32Array(5 * 3).fill(0.5) } },
    { vision: { frames: [frame(36, 36)] } },
  ];

  it('save → load keeps the sources and the tower weights: the loaded model predicts raw inputs identically', async () => {
    const d = tmp();
    await model.save(d);
    const saved = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as MerClipConfig;
    expect(saved.modalities.text.source).toBe('clip');
    expect(saved.modalities.vision.source).toBe('clip');
    const { tensors } = await readSafetensors(join(d, 'model.safetensors'));
    expect([...tensors.keys()]).toEqual(expect.arrayContaining(['vision_tower.vision_model.embeddings.patch_embedding.weight', 'vision_tower.visual_projection.weight', 'label_encoder.text_model.final_layer_norm.weight']));
    expect(tensors.get('vision_tower.visual_projection.weight')!.data).toEqual(clip.visual_projection!.weight.data);
    const loaded = await MerClip.load(d);
    models.push(loaded);
    expect(await loaded.predict(samples)).toEqual(await model.predict(samples));
  });

  it('a train step on raw inputs moves the model, not its frozen towers (no grads reach them)', () => {
    const m = new MerClip(config, model.labels.tokenizer, { seed: 5 });
    m.loadClip(clip);
    const [batch] = packSamples(samples, config, samples.length, { tokenizer: m.labels.tokenizer });
    const towerParams = [...m.vision_tower!.parameters(), ...m.label_encoder.parameters()];
    const towerBefore = towerParams.map((p) => Float32Array.from(p.data));
    const encBefore = Float32Array.from(m.encoders.get('text')!.input_proj.weight.data);
    const visBefore = Float32Array.from(m.encoders.get('vision')!.input_proj.weight.data);
    const opt = new AdamW(m.parameters(), { lr: 1e-2 }); // every parameter: a frozen one would move if it got a grad
    const { loss } = m.loss(m.forward(batch!), Float32Array.of(1.5, -2, 0.3));
    loss.backward();
    expect(towerParams.every((p) => p.grad === null)).toBe(true);
    opt.step();
    towerParams.forEach((p, i) => expect(p.data).toEqual(towerBefore[i]));
    expect(m.encoders.get('text')!.input_proj.weight.data).not.toEqual(encBefore);
    expect(m.encoders.get('vision')!.input_proj.weight.data).not.toEqual(visBefore);
  });

  it('with frozen false the towers train (grads reach text tower "own" and the vision tower)', () => {
    const c = configFromClip(clip, BASE, { text: { tower: 'own', frozen: false }, vision: { maxLength: 4, frozen: false } });
    const m = new MerClip(c, model.labels.tokenizer, { seed: 5 });
    m.loadClip(clip);
    const [batch] = packSamples(samples, c, samples.length, { tokenizer: m.labels.tokenizer });
    const ownQ = m.text_tower!.text_model.encoder.layers.at(0).self_attn.q_proj.weight;
    const patch = m.vision_tower!.vision_model.embeddings.patch_embedding.weight;
    const label = m.label_encoder.text_model.encoder.layers.at(0).self_attn.q_proj.weight;
    const before = [ownQ, patch, label].map((p) => Float32Array.from(p.data));
    const opt = new AdamW(m.parameters(), { lr: 1e-2 });
    m.loss(m.forward(batch!), Float32Array.of(1.5, -2, 0.3)).loss.backward();
    opt.step();
    expect(ownQ.data).not.toEqual(before[0]);
    expect(patch.data).not.toEqual(before[1]);
    expect(label.data).toEqual(before[2]); // the label encoder stays frozen
  });
});
