// config.dropout acts in training only: MerClip.forward with a dropout generator drops (the same
// masks for the same generator state), without one it is the inference forward; train() draws
// each step's masks from (seed, step), so a run stopped and resumed ends with bit-identical
// weights to an uninterrupted one even with dropout on.
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { gatherBatch } from '../../lib/data/batch.js';
import { generateSynthetic } from '../../lib/data/synth.js';
import { readSafetensors } from '../../lib/io/index.js';
import { MerClip } from '../../lib/model/merclip.js';
import { noGrad, Rng } from '../../lib/tensor/index.js';
import { train } from '../../lib/train/index.js';
import { smallConfig, tempDirs } from '../helpers/training.js';

const tmp = tempDirs('dropout');

const data = generateSynthetic({ seed: 6, sizes: { train: 48, valid: 16, test: 8 }, text: { length: 5, dim: 6 }, audio: { length: 6, dim: 5 }, vision: { length: 7, dim: 4 } }).splits;
const config = smallConfig(data.train, { dropout: 0.3 });

describe('dropout', () => {
  it('drops only with a generator, reproducibly', () => {
    const model = new MerClip(config, undefined, { seed: 1 });
    const batch = gatherBatch(data.train, Int32Array.from({ length: 8 }, (_, i) => i));
    const run = (rng?: Rng): Float32Array => noGrad(() => Float32Array.from(model.forward(batch, undefined, undefined, rng ? { dropoutRng: rng } : {}).logits.data));
    const plain = run();
    expect(run()).toEqual(plain);
    const a = run(new Rng(5));
    expect(run(new Rng(5))).toEqual(a);
    expect(a).not.toEqual(plain);
    expect(run(new Rng(6))).not.toEqual(a);
    // p = 0: a generator changes nothing
    const off = new MerClip({ ...config, dropout: 0 }, undefined, { seed: 1 });
    const b = noGrad(() => Float32Array.from(off.forward(batch).logits.data));
    expect(noGrad(() => Float32Array.from(off.forward(batch, undefined, undefined, { dropoutRng: new Rng(5) }).logits.data))).toEqual(b);
  });

  it('a run stopped and resumed equals an uninterrupted one, bit for bit', async () => {
    const opts = { model: config, epochs: 2, batchSize: 8, seed: 4, checkpointEvery: 2, patience: 0 };
    const full = tmp();
    await train(data, { ...opts, outDir: full });
    const cut = tmp();
    await train(data, { ...opts, outDir: cut, maxStepsThisRun: 4 });
    await train(data, { ...opts, outDir: cut, resume: true });
    const a = (await readSafetensors(join(full, 'checkpoint.safetensors'))).tensors;
    const b = (await readSafetensors(join(cut, 'checkpoint.safetensors'))).tensors;
    const bytes = (t: { data: ArrayBufferView }): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    for (const [k, t] of a) expect(bytes(b.get(k)!).equals(bytes(t)), k).toBe(true);
    // and dropout mattered: the same run without it ends elsewhere
    const none = tmp();
    await train(data, { ...opts, model: { ...config, dropout: 0 }, outDir: none });
    const c = (await readSafetensors(join(none, 'checkpoint.safetensors'))).tensors;
    expect(bytes(c.get('model.output_proj.weight')!).equals(bytes(a.get('model.output_proj.weight')!))).toBe(false);
  });
});
