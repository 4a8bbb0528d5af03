// test/nn/layers.test.ts — the encoder and decoder layers, forward and backward, against a
// straightforward float64 JS implementation of the same layer (built from lib/reference);
// gradients of every parameter and input against central finite differences of that float64
// layer (the harness: test/helpers/layerCheck.ts). Also: PyTorch-style names, seeded
// initialisation, loadStateDict checks.
import { describe, expect, it } from 'vitest';

import {
  CrossModalDecoderLayer,
  TransformerEncoderLayer,
} from '../../lib/nn/index.js';
import { fromArray, Rng, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';
import { checkLayer } from '../helpers/layerCheck.js';
import { decoderRef, encoderRef } from '../helpers/layersRef.js';
import { packDense } from '../helpers/packed.js';
import { makeRng } from '../helpers/seed.js';

describe('TransformerEncoderLayer', () => {
  const B = 2, L = 5, d = 8, H = 2, hidden = 16;
  for (const [act, causal] of [['gelu', false], ['quick_gelu', true]] as const) {
    it(`matches the float64 layer, forward and backward (${act}, ${causal ? 'causal' : 'key padding'})`, () => {
      const layer = new TransformerEncoderLayer(d, H, new Rng(11), { ffnDim: hidden, activation: act });
      const keyLengths = causal ? null : Int32Array.from([5, 3]);
      checkLayer(layer, [{ shape: [B, L, d] }],
        ([x]) => layer.forward(x!, { keyLengths, causal }),
        ([x], p) => encoderRef(x!, p, B, L, d, H, hidden, act, keyLengths, causal), 21);
    });
  }
  it('names its parameters as Hugging Face CLIP does', () => {
    const layer = new TransformerEncoderLayer(8, 2, new Rng(1));
    expect([...layer.namedParameters()].map(([n, t]) => `${n} [${t.shape.join(',')}]`)).toEqual([
      'self_attn.k_proj.weight [8,8]', 'self_attn.k_proj.bias [8]',
      'self_attn.v_proj.weight [8,8]', 'self_attn.v_proj.bias [8]',
      'self_attn.q_proj.weight [8,8]', 'self_attn.q_proj.bias [8]',
      'self_attn.out_proj.weight [8,8]', 'self_attn.out_proj.bias [8]',
      'layer_norm1.weight [8]', 'layer_norm1.bias [8]',
      'mlp.fc1.weight [32,8]', 'mlp.fc1.bias [32]',
      'mlp.fc2.weight [8,32]', 'mlp.fc2.bias [8]',
      'layer_norm2.weight [8]', 'layer_norm2.bias [8]',
    ]);
  });
});

describe('CrossModalDecoderLayer', () => {
  const B = 3, C = 3, d = 8, H = 2, hidden = 16, Ls = [4, 6];
  it('matches the float64 layer with packed memories and a sample lacking a modality', () => {
    const layer = new CrossModalDecoderLayer(d, H, 2, new Rng(5), { ffnDim: hidden });
    const lens = [Int32Array.from([4, 2, 1]), Int32Array.from([6, 0, 3])]; // sample 1 lacks modality 1
    checkLayer(layer, [{ shape: [B, C, d] }, { shape: [B, Ls[0]!, d] }, { shape: [B, Ls[1]!, d] }],
      ([q, m0, m1]) => layer.forward(q!, [packDense(m0!, lens[0]!), packDense(m1!, lens[1]!)]),
      ([q, m0, m1], p) => decoderRef(q!, [m0!, m1!], lens, p, B, C, Ls, d, H, hidden), 33);
  });
  it('names cross-attention per modality position, PyTorch style', () => {
    const layer = new CrossModalDecoderLayer(8, 2, 3, new Rng(1));
    const names = [...layer.namedParameters()].map(([n]) => n);
    expect(names).toContain('cross_attn.1.q_proj.weight');
    expect(names).toContain('cross_attn_layer_norm.2.bias');
    expect(names).toContain('final_layer_norm.weight');
    expect(names.filter((n) => n.startsWith('cross_attn.')).length).toBe(3 * 8);
  });
});

describe('initialisation and weights', () => {
  it('the same seed gives bit-identical weights, another seed different ones', () => {
    const flat = (seed: number): Float32Array => {
      const layer = new CrossModalDecoderLayer(16, 4, 2, new Rng(seed));
      return Float32Array.from(layer.parameters().flatMap((p) => Array.from(p.data)));
    };
    const a = flat(42);
    expect(Buffer.from(flat(42).buffer).equals(Buffer.from(a.buffer))).toBe(true);
    expect(Buffer.from(flat(43).buffer).equals(Buffer.from(a.buffer))).toBe(false);
  });
  it('Linear init follows PyTorch: U(±1/√in)', () => {
    const layer = new TransformerEncoderLayer(64, 4, new Rng(3));
    const w = layer.mlp.fc2.weight.data; // in = 256
    const bound = 1 / Math.sqrt(256);
    expect(Math.max(...Array.from(w, Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...Array.from(w, Math.abs))).toBeGreaterThan(0.99 * bound);
    const meanSq = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(meanSq).toBeCloseTo(bound * bound / 3, 4);
  });
  it('loadStateDict copies by name and refuses missing, misshaped or unexpected weights (changing nothing)', () => {
    const a = new TransformerEncoderLayer(8, 2, new Rng(1));
    const b = new TransformerEncoderLayer(8, 2, new Rng(2));
    b.loadStateDict(a.stateDict());
    expect(b.parameters().map((p) => p.toArray())).toEqual(a.parameters().map((p) => p.toArray()));
    const before = b.parameters().map((p) => p.toArray());
    const bad = new Map(a.stateDict() as Map<string, { shape: readonly number[]; data: ArrayLike<number> }>);
    bad.delete('mlp.fc1.bias');
    bad.set('layer_norm1.weight', { shape: [9], data: new Float32Array(9) });
    bad.set('extra.weight', { shape: [1], data: new Float32Array(1) });
    bad.set('self_attn.q_proj.weight', { shape: [8, 8], data: new Float32Array(64).fill(7) });
    expect(() => b.loadStateDict(bad, { source: 'ckpt.safetensors' })).toThrow(
      /ckpt\.safetensors: cannot load weights: .*weight "layer_norm1.weight" has shape \[9\], the model expects \[8\].*missing weight "mlp.fc1.bias" \[32\].*unexpected weight "extra.weight"/,
    );
    expect(b.parameters().map((p) => p.toArray())).toEqual(before);
  });
});

describe('packed sequences (valid tokens only) give the dense layers\' results', () => {
  const B = 3, L = 6, d = 8, H = 2;
  const lengths = Int32Array.from([6, 2, 4]);
  /** Σ w ∘ y over the valid positions only (what a model that ignores padding sees). */
  const maskedWeights = (rng: ReturnType<typeof makeRng>): Float32Array => {
    const w = new Float32Array(B * L * d);
    lengths.forEach((l, b) => { for (let i = 0; i < l * d; i++) w[b * L * d + i] = rng.normal(); });
    return w;
  };
  it('TransformerEncoderLayer: outputs and every gradient match', () => {
    const layer = new TransformerEncoderLayer(d, H, new Rng(3), { ffnDim: 16 });
    const rng = makeRng(4);
    const xv = rng.normalF32(B * L * d);
    const w = maskedWeights(rng);
    const run = (packed: boolean): { y: number[]; dx: number[]; grads: number[][] } => tidy(() => {
      const x = fromArray(xv, [B, L, d], { requiresGrad: true });
      // both compared on the valid rows: the packed output, the dense one's valid rows
      const y: Tensor = packed
        ? layer.forward(packDense(x, lengths).rows, { queryLayout: packDense(x, lengths).layout })
        : packDense(layer.forward(x, { keyLengths: lengths }), lengths).rows;
      const wp = Float32Array.from(Array.from(lengths).flatMap((l, b) => Array.from(w.subarray(b * L * d, (b * L + l) * d))));
      const yv = Array.from(y.data);
      y.backward(wp);
      const out = { y: yv, dx: x.grad!.toArray(), grads: layer.parameters().map((p) => p.grad!.toArray()) };
      layer.zeroGrad();
      return out;
    });
    const dense = run(false);
    const packed = run(true);
    expectClose(packed.y, dense.y, { rtol: 1e-5, atol: 1e-6, label: 'output' });
    expectClose(packed.dx, dense.dx, { rtol: 1e-4, atol: 1e-5, label: 'dx' });
    packed.grads.forEach((g, i) => expectClose(g, dense.grads[i]!, { rtol: 1e-4, atol: 1e-5, label: `param ${i}` }));
  });
});
