// test/model/idleRelease.test.ts — the predict() worker gives its idle pool buffers' pages back to
// the OS (predictWorker.ts; MERCLIP_IDLE_RELEASE_MS=0 here: after every request). Released
// buffers read as zeros when reused, so this checks that predictions after a release are the
// same as the forward pass on the main thread (nothing relied on a buffer's old contents), over
// several rounds and with samples long enough that the activations are pooled buffers.
import { afterAll, describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { packSamples, type Sample } from '../../lib/model/batch.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';

process.env.MERCLIP_IDLE_RELEASE_MS = '0'; // read by the worker when it starts (below)

const config = makeConfig('tiny', {
  width: 32,
  heads: 2,
  modalities: { text: { dim: 12, maxLength: 40 }, audio: { dim: 5, maxLength: 300 }, vision: { dim: 6, maxLength: 400 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});
const model = new MerClip(config, undefined, { seed: 9 });
afterAll(async () => {
  await model.close();
  delete process.env.MERCLIP_IDLE_RELEASE_MS;
});

describe('predict() after the worker released its idle buffers', () => {
  it('gives the same results as the forward pass, round after round', async () => {
    const rng = new Rng(2);
    const mod = (L: number, D: number): { features: Float32Array; length: number } =>
      ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(L / 2, L) });
    for (let round = 0; round < 3; round++) {
      // vision: 8 × ≥ 200 rows × width 32 ≥ 51,200 floats per activation — pooled buffers
      const samples: Sample[] = Array.from({ length: 8 }, () => ({ text: mod(40, 12), audio: mod(300, 5), vision: mod(400, 6) }));
      const [batch] = packSamples(samples, config, samples.length);
      const want = noGrad(() => tidy(() => model.forward(batch!).probs)).toArray();
      const got = await model.predict(samples);
      expect(got).toHaveLength(8);
      expectClose(Float32Array.from(got.flatMap((p) => p.probs)), Float32Array.from(want), { atol: 1e-6, rtol: 1e-6 });
    }
  });
});
