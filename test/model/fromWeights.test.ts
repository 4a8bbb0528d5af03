// test/model/fromWeights.test.ts — what the predict() worker builds: MerClip.fromWeights makes a
// model whose parameters ARE the given arrays (no copy, nothing initialised: nn's unbound()
// registers parameters without values, reading one before it is bound throws), and it computes
// what the original model computes; an unbound construction draws nothing from its Rng.
import { describe, expect, it } from 'vitest';

import { CLIP_TEXT_DEFAULTS } from '../../lib/clip/text.js';
import { packSamples } from '../../lib/model/batch.js';
import { makeConfig } from '../../lib/model/config.js';
import { MerClip } from '../../lib/model/merclip.js';
import { bindParameters, LayerNorm, Linear, unbound } from '../../lib/nn/index.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';

const config = makeConfig('tiny', {
  width: 16,
  heads: 2,
  modalities: { text: { dim: 12, maxLength: 20 }, audio: { dim: 5, maxLength: 30 }, vision: { dim: 6, maxLength: 40 } },
  clip: { text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 }, projection_dim: 16 },
});

describe('unbound construction', () => {
  it('registers parameters without values and draws nothing; bindParameters gives them the arrays themselves', () => {
    const rng = new Rng(3);
    const before = rng.state();
    const lin = unbound(() => new Linear(4, 3, rng));
    const ln = unbound(() => new LayerNorm(3));
    expect(rng.state()).toEqual(before);
    expect(() => lin.weight.data).toThrow(/parameter without values yet/);
    expect(lin.weight.shape).toEqual([3, 4]);
    const w = new Map([['weight', new Float32Array(12).fill(0.5)], ['bias', new Float32Array(3).fill(-1)]]);
    bindParameters(lin, w);
    expect(lin.weight.data).toBe(w.get('weight'));
    expect(lin.bias!.data).toBe(w.get('bias'));
    expect(() => bindParameters(ln, new Map([['weight', new Float32Array(3)]]))).toThrow(/^bindParameters: no array of 3 floats for "bias"$/);
  });

  it('MerClip.fromWeights shares every weight and gives the original model\'s outputs', () => {
    const model = new MerClip(config, undefined, { seed: 4 });
    const weights = model.sharedWeights();
    const copy = MerClip.fromWeights(config, weights);
    for (const [name, p] of copy.namedParameters()) expect(p.data, name).toBe(weights.get(name));
    const rng = new Rng(5);
    const mod = (L: number, D: number) => ({ features: rng.fillNormal(new Float32Array(L * D)), length: rng.int(1, L) });
    const [batch] = packSamples([0, 1, 2].map(() => ({ text: mod(20, 12), audio: mod(30, 5), vision: mod(40, 6) })), config);
    const run = (m: MerClip): number[] => noGrad(() => tidy(() => m.forward(batch!).logits.toArray()));
    expect(run(copy)).toEqual(run(model));
  });
});
