// A model saved by the code before the packed-sequence redesign (issue 15; commit a690a41, see
// test/fixtures/model-v1/make_fixture.mts) loads with today's code and gives the logits that code
// computed, within 1e-6 relative: the layout changes inside the model must not change what a
// saved model predicts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/backend/index.js';
import { gatherBatch } from '../../lib/data/batch.js';
import { generateSynthetic, type SyntheticOptions } from '../../lib/data/synth.js';
import { loadModel } from '../../lib/model/merclip.js';
import { noGrad } from '../../lib/tensor/index.js';

const dir = join(packageRoot(), 'test', 'fixtures', 'model-v1');

describe('a model saved before the redesign', () => {
  it('loads and gives the same logits', async () => {
    const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as { data: Omit<SyntheticOptions, 'seed'> & { seed: number }; zeroAudioLengthOf: number; logits: number[] };
    const model = await loadModel(dir);
    const split = generateSynthetic(expected.data).splits.test;
    split.audio.lengths[expected.zeroAudioLengthOf] = 0; // that sample lacks audio
    const batch = gatherBatch(split, Int32Array.from({ length: split.count }, (_, i) => i));
    const logits = noGrad(() => Array.from(model.forward(batch).logits.data));
    expect(logits).toHaveLength(expected.logits.length);
    let worst = 0;
    logits.forEach((v, i) => {
      const want = expected.logits[i]!;
      worst = Math.max(worst, Math.abs(v - want) / Math.max(Math.abs(want), 1e-3));
    });
    expect(worst).toBeLessThanOrEqual(1e-6);
    await model.close();
  });
});
