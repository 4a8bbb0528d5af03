// bench/paperStep.ts — the paper-size MER-CLIP training setup both bench/model.bench.ts and
// bench/profile.ts time: the `paper` preset (seed 1), one synthetic MOSI-shaped batch of 32
// (seed 7), AdamW (lr 1e-4) and a step = forward + loss + backward + clipping at 1 + update.
import { gatherBatch } from '../lib/data/batch.js';
import { generateSynthetic } from '../lib/data/synth.js';
import { makeConfig } from '../lib/model/config.js';
import { MerClip } from '../lib/model/merclip.js';
import { AdamW, clipGradNorm } from '../lib/nn/index.js';
import { tidy } from '../lib/tensor/index.js';

export const B = 32;

/** The synthetic split the bench batch comes from (seed 7; its first B samples). */
export function paperBatchSplit() {
  return generateSynthetic({ seed: 7, sizes: { train: B, valid: 1, test: 1 } }).splits.train;
}

export function paperTrainingSetup() {
  const config = makeConfig('paper');
  const model = new MerClip(config, undefined, { seed: 1 });
  const batch = gatherBatch(paperBatchSplit(), Int32Array.from({ length: B }, (_, i) => i));
  const params = model.trainableParameters();
  const opt = new AdamW(params, { lr: 1e-4 });
  const step = (): void => {
    tidy(() => {
      const out = model.forward(batch);
      model.loss(out, batch.labels).loss.backward();
    });
    clipGradNorm(params, 1);
    opt.step();
    opt.zeroGrad();
  };
  return { config, model, batch, step };
}
