// test/clip/vision.test.ts — the CLIP vision tower against a straightforward float64 JS
// implementation (test/helpers/clipRef.ts): forward, gradients (finite differences of the
// float64 tower), HF parameter names, the patch unfold, config checks, and a safetensors
// round trip under `vision_model.` names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  ClipVisionTransformer,
  resolveClipVisionConfig,
  unfoldPatches,
  type ClipVisionConfig,
} from '../../lib/clip/vision.js';
import { readSafetensors, writeSafetensors, type WritableTensor } from '../../lib/io/index.js';
import { fromArray, Rng, noGrad, ops, tidy } from '../../lib/tensor/index.js';
import { conv2dPatchRef, type P, unfoldRef, visionTowerRef, type VisionRefConfig } from '../helpers/clipRef.js';
import { expectClose } from '../helpers/compare.js';
import { dot } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

const CFG: ClipVisionConfig = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  image_size: 16,
  patch_size: 8,
};
const REF: VisionRefConfig = { hidden: 32, layers: 2, heads: 4, intermediate: 64, imageSize: 16, patch: 8, channels: 3, eps: 1e-5, act: 'quick_gelu' };
const B = 2;

const maxAbs = (a: ArrayLike<number>): number => Math.max(1e-12, ...Array.from(a, Math.abs));

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs(actual[i]! - expected[i]!));
    den = Math.max(den, Math.abs(expected[i]!));
  }
  return num / Math.max(den, 1e-30);
}

/** A tiny tower whose LayerNorm weights/biases are perturbed away from 1/0. */
function tinyTower(seed: number, cfg: ClipVisionConfig = CFG): ClipVisionTransformer {
  const tower = new ClipVisionTransformer(cfg, new Rng(seed));
  const rng = makeRng(seed + 1000);
  for (const [name, t] of tower.namedParameters()) {
    if (/layer_?norm/.test(name) || name.startsWith('pre_layrnorm')) for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! + 0.1 * rng.normal();
  }
  return tower;
}

function params64(tower: ClipVisionTransformer): P {
  return new Map([...tower.namedParameters()].map(([n, t]) => [n, Float64Array.from(t.data)]));
}

function pixels(seed: number, n = B, size = 16): Float32Array {
  return makeRng(seed).normalF32(n * 3 * size * size);
}

function hfNames(layers: number): string[] {
  const layer = (i: number): string[] =>
    ['self_attn.k_proj', 'self_attn.v_proj', 'self_attn.q_proj', 'self_attn.out_proj', 'layer_norm1', 'mlp.fc1', 'mlp.fc2', 'layer_norm2']
      .flatMap((m) => [`encoder.layers.${i}.${m}.weight`, `encoder.layers.${i}.${m}.bias`]);
  return [
    'embeddings.class_embedding',
    'embeddings.patch_embedding.weight',
    'embeddings.position_embedding.weight',
    'pre_layrnorm.weight',
    'pre_layrnorm.bias',
    ...Array.from({ length: layers }, (_, i) => layer(i)).flat(),
    'post_layernorm.weight',
    'post_layernorm.bias',
  ];
}

describe('ClipVisionTransformer', () => {
  it('has exactly HF CLIPVisionTransformer parameter names and shapes', () => {
    const tower = new ClipVisionTransformer(CFG, new Rng(1));
    const named = [...tower.namedParameters()];
    expect(named.map(([n]) => n)).toEqual(hfNames(2));
    const shapes = Object.fromEntries(named.map(([n, t]) => [n, t.shape]));
    expect(shapes['embeddings.class_embedding']).toEqual([32]);
    expect(shapes['embeddings.patch_embedding.weight']).toEqual([32, 3, 8, 8]);
    expect(shapes['embeddings.position_embedding.weight']).toEqual([5, 32]);
    expect(shapes['encoder.layers.1.mlp.fc1.weight']).toEqual([64, 32]);
    expect(shapes['encoder.layers.1.mlp.fc2.weight']).toEqual([32, 64]);
    expect(shapes['post_layernorm.bias']).toEqual([32]);
    expect(tower.sequenceLength).toBe(5);
    // ViT-B/32 sizes: 87,456,000 parameters in HF's vision_model (+ visual_projection 768·512 =
    // 87,849,216, OpenAI's `visual` module)
    const big = new ClipVisionTransformer({ ...CFG, hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 1, num_attention_heads: 12, image_size: 224, patch_size: 32 }, new Rng(1));
    const perLayer = 4 * (768 * 768 + 768) + 2 * 2 * 768 + (3072 * 768 + 3072) + (768 * 3072 + 768);
    expect(big.parameterCount()).toBe(768 + 768 * 3 * 32 * 32 + 50 * 768 + 4 * 768 + perLayer);
    expect(big.parameterCount() + 11 * perLayer).toBe(87_456_000);
  });

  it('initialises as documented (seeded; class N(0, D^-0.5), patch and position N(0, 0.02))', () => {
    const cfg = { ...CFG, hidden_size: 64, num_attention_heads: 4 };
    const a = new ClipVisionTransformer(cfg, new Rng(7));
    const b = new ClipVisionTransformer(cfg, new Rng(7));
    expect(a.parameters().map((p) => p.toArray())).toEqual(b.parameters().map((p) => p.toArray()));
    const sd = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    const nonZero = (x: Float32Array): number => x.filter((v) => v !== 0).length;
    for (const p of [a.embeddings.class_embedding, a.embeddings.patch_embedding.weight, a.embeddings.position_embedding.weight]) expect(nonZero(p.data)).toBe(p.size);
    expect(sd(a.embeddings.class_embedding.data)).toBeGreaterThan(0.125 * 0.75);
    expect(sd(a.embeddings.class_embedding.data)).toBeLessThan(0.125 * 1.25);
    expect(sd(a.embeddings.patch_embedding.weight.data)).toBeCloseTo(0.02, 3);
    expect(sd(a.embeddings.position_embedding.weight.data)).toBeGreaterThan(0.02 * 0.85);
    expect(sd(a.embeddings.position_embedding.weight.data)).toBeLessThan(0.02 * 1.15);
  });

  it('forward matches the float64 tower (lastHiddenState and pooled, rel. error < 1e-4)', () => {
    const tower = tinyTower(3);
    const p = params64(tower);
    const px = pixels(4);
    tidy(() => {
      const out = noGrad(() => tower.forward(fromArray(px, [B, 3, 16, 16])));
      expect(out.lastHiddenState.shape).toEqual([B, 5, 32]);
      expect(out.pooled.shape).toEqual([B, 32]);
      const ref = visionTowerRef(px, p, B, REF);
      expect(relErr(out.lastHiddenState.data, ref.lastHiddenState)).toBeLessThan(1e-4);
      expect(relErr(out.pooled.data, ref.pooled)).toBeLessThan(1e-4);
      expectClose(out.pooled.data, ref.pooled, { rtol: 1e-4, atol: 1e-4 * maxAbs(ref.pooled), label: 'pooled' });
      // each image is processed independently: image 1 alone gives the same rows
      const one = noGrad(() => tower.forward(fromArray(px.subarray(3 * 256), [1, 3, 16, 16])));
      expectClose(one.pooled.data, out.pooled.data.subarray(32), { rtol: 1e-5, atol: 1e-6, label: 'batch independence' });
    });
  });

  it('gradients of the pooled output match finite differences of the float64 tower', () => {
    const tower = tinyTower(5);
    const p = params64(tower);
    const px = pixels(6);
    const px64 = Float64Array.from(px);
    const rng = makeRng(7);
    const w = Float32Array.from({ length: B * 32 }, () => rng.normal());
    const f = (pp: P, x: Float64Array = px64): number => dot(w, visionTowerRef(x, pp, B, REF).pooled);
    const h = 1e-6;
    tidy(() => {
      const input = fromArray(px, [B, 3, 16, 16], { requiresGrad: true });
      tower.forward(input).pooled.backward(w);
      const checks: Array<[string, number[]]> = [
        ['embeddings.patch_embedding.weight', [0, 1, 77, 191, 1000, 6143]],
        ['encoder.layers.0.self_attn.q_proj.weight', [0, 33, 500, 1023]],
        ['encoder.layers.1.mlp.fc1.weight', [0, 5, 700, 2047]],
        ['embeddings.class_embedding', [0, 17, 31]],
        ['embeddings.position_embedding.weight', [3, 40, 159]],
        ['pre_layrnorm.weight', [2, 30]],
      ];
      const named = tower.stateDict();
      for (const [name, idx] of checks) {
        const grad = named.get(name)!.grad;
        expect(grad, `${name} has a gradient`).not.toBeNull();
        const full = grad!.data;
        const scale = maxAbs(full);
        for (const i of idx) {
          const base = p.get(name)!;
          const plus = base.slice(); plus[i] = base[i]! + h;
          const minus = base.slice(); minus[i] = base[i]! - h;
          const fd = (f(new Map([...p, [name, plus]])) - f(new Map([...p, [name, minus]]))) / (2 * h);
          expect(Math.abs(full[i]! - fd), `d ${name}[${i}]: ${full[i]} vs ${fd}`).toBeLessThan(1e-3 * Math.abs(fd) + 2e-4 * scale);
        }
      }
      // and the pixels (through the unfold's backward)
      const gpx = input.grad!.data;
      const scale = maxAbs(gpx);
      for (const i of [0, 63, 64, 255, 256, 700, 1535]) {
        const plus = px64.slice(); plus[i] = px64[i]! + h;
        const minus = px64.slice(); minus[i] = px64[i]! - h;
        const fd = (f(p, plus) - f(p, minus)) / (2 * h);
        expect(Math.abs(gpx[i]! - fd), `d pixels[${i}]: ${gpx[i]} vs ${fd}`).toBeLessThan(1e-3 * Math.abs(fd) + 2e-4 * scale);
      }
    });
    tower.zeroGrad();
  });

  it('weights round-trip through safetensors under vision_model. names into a fresh tower', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'merclip-vision-'));
    try {
      const a = tinyTower(11);
      const file = join(dir, 'model.safetensors');
      const out = new Map<string, WritableTensor>();
      for (const [n, t] of a.namedParameters()) out.set(`vision_model.${n}`, { dtype: 'F32', shape: t.shape, data: t.data });
      await writeSafetensors(file, out);
      const { tensors } = await readSafetensors(file);
      expect([...tensors.keys()].sort()).toEqual(hfNames(2).map((n) => `vision_model.${n}`).sort());
      const weights = new Map<string, { shape: readonly number[]; data: ArrayLike<number> }>();
      for (const [n, t] of tensors) {
        expect(t.dtype).toBe('F32');
        weights.set(n.slice('vision_model.'.length), { shape: t.shape, data: t.data as Float32Array });
      }
      const b = new ClipVisionTransformer(CFG, new Rng(99));
      const px = pixels(12);
      tidy(() => {
        const ya = noGrad(() => a.forward(fromArray(px, [B, 3, 16, 16])));
        const before = noGrad(() => b.forward(fromArray(px, [B, 3, 16, 16])));
        expect(before.pooled.toArray()).not.toEqual(ya.pooled.toArray());
        b.loadStateDict(weights, { source: file });
        const yb = noGrad(() => b.forward(fromArray(px, [B, 3, 16, 16])));
        expect(yb.lastHiddenState.toArray()).toEqual(ya.lastHiddenState.toArray());
        expect(yb.pooled.toArray()).toEqual(ya.pooled.toArray());
      });
      // a misshaped weight is refused by name
      const bad = new Map(weights);
      bad.set('embeddings.patch_embedding.weight', { shape: [32, 3, 4, 4], data: new Float32Array(32 * 48) });
      expect(() => b.loadStateDict(bad, { source: file })).toThrow(/embeddings\.patch_embedding\.weight" has shape \[32, ?3, ?4, ?4\]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ignores pixels past the last full patch (as a stride-P Conv2d does) and matches float64 there too', () => {
    const cfg = { ...CFG, image_size: 18 }; // grid 2×2, two leftover rows and columns
    const tower = tinyTower(13, cfg);
    const p = params64(tower);
    const px = pixels(14, 1, 18);
    const px2 = px.slice();
    for (let c = 0; c < 3; c++) for (let y = 0; y < 18; y++) for (let x = 0; x < 18; x++) if (y >= 16 || x >= 16) px2[(c * 18 + y) * 18 + x] = 100;
    tidy(() => {
      const a = noGrad(() => tower.forward(fromArray(px, [1, 3, 18, 18])));
      const b2 = noGrad(() => tower.forward(fromArray(px2, [1, 3, 18, 18])));
      expect(b2.pooled.toArray()).toEqual(a.pooled.toArray());
      const ref = visionTowerRef(px, p, 1, { ...REF, imageSize: 18 });
      expect(relErr(a.pooled.data, ref.pooled)).toBeLessThan(1e-4);
    });
  });

  it('rejects pixels of the wrong shape with a clear error', () => {
    const tower = new ClipVisionTransformer(CFG, new Rng(1));
    tidy(() => {
      expect(() => tower.forward(fromArray(new Float32Array(3 * 16 * 16), [3, 16, 16]))).toThrow(/expected pixels \[B, C, H, W\], received \[3, ?16, ?16\]/);
      expect(() => tower.forward(fromArray(new Float32Array(2 * 1 * 16 * 16), [2, 1, 16, 16]))).toThrow(/expected pixels \[B, 3, 16, 16\], received \[2, ?1, ?16, ?16\]/);
      expect(() => tower.forward(fromArray(new Float32Array(3 * 32 * 32), [1, 3, 32, 32]))).toThrow(/image_size/);
    });
  });
});

describe('unfoldPatches', () => {
  it('unfold + GEMM equals a direct Conv2d (kernel = stride = P, no bias)', () => {
    const rng = makeRng(21);
    const [Bn, C, H, W, D, Pz] = [2, 3, 12, 8, 5, 4];
    const px = rng.normalF32(Bn * C * H * W);
    const wt = rng.normalF32(D * C * Pz * Pz);
    tidy(() => {
      const u = unfoldPatches(fromArray(px, [Bn, C, H, W]), Pz);
      expect(u.shape).toEqual([Bn, 6, C * Pz * Pz]);
      expectClose(u.data, unfoldRef(px, Bn, C, H, W, Pz), { rtol: 0, atol: 0, label: 'unfold' });
      const y = ops.linear(u, fromArray(wt, [D, C, Pz, Pz]).reshape([D, C * Pz * Pz])); // [B, nP, D]
      const conv = conv2dPatchRef(px, wt, Bn, C, H, W, D, Pz); // [B, D, gh, gw]
      const asConv = new Float64Array(conv.length);
      for (let b = 0; b < Bn; b++) for (let n = 0; n < 6; n++) for (let d = 0; d < D; d++) asConv[(b * D + d) * 6 + n] = y.data[(b * 6 + n) * D + d]!;
      expectClose(asConv, conv, { rtol: 1e-5, atol: 1e-5, label: 'conv' });
    });
  });

  it('backward scatters each patch element back to its pixel (and accumulates)', () => {
    const rng = makeRng(22);
    const [Bn, C, H, W, Pz] = [1, 2, 5, 6, 2]; // leftover row: y = 4
    const px = rng.normalF32(Bn * C * H * W);
    tidy(() => {
      const x = fromArray(px, [Bn, C, H, W], { requiresGrad: true });
      const u = unfoldPatches(x, Pz);
      const g = rng.normalF32(u.size);
      u.backward(g);
      // expected: fold(g) — the transpose of the unfold, zero for unused pixels
      const expected = new Float64Array(px.length);
      const K = C * Pz * Pz;
      for (let gy = 0; gy < 2; gy++) for (let gx = 0; gx < 3; gx++) for (let c = 0; c < C; c++) for (let y = 0; y < Pz; y++) for (let xx = 0; xx < Pz; xx++) {
        expected[(c * H + gy * Pz + y) * W + gx * Pz + xx]! += g[(gy * 3 + gx) * K + (c * Pz + y) * Pz + xx]!;
      }
      expectClose(x.grad!.data, expected, { rtol: 0, atol: 0, label: 'fold' });
      const u2 = unfoldPatches(x, Pz);
      u2.backward(g);
      expectClose(x.grad!.data, expected.map((v) => 2 * v), { rtol: 1e-7, atol: 0, label: 'accumulated' });
    });
  });

  it('records nothing when the pixels do not require grad, and checks its arguments', () => {
    tidy(() => {
      const u = unfoldPatches(fromArray(new Float32Array(16), [1, 1, 4, 4]), 2);
      expect(u.requiresGrad).toBe(false);
      expect(u.node).toBeNull();
      expect(() => unfoldPatches(fromArray(new Float32Array(16), [1, 4, 4]), 2)).toThrow(/expected pixels \[B, C, H, W\]/);
      expect(() => unfoldPatches(fromArray(new Float32Array(16), [1, 1, 4, 4]), 0)).toThrow(/positive integer/);
      expect(() => unfoldPatches(fromArray(new Float32Array(16), [1, 1, 4, 4]), 5)).toThrow(/smaller than one 5×5 patch/);
    });
  });
});

describe('resolveClipVisionConfig', () => {
  it('fills the optional fields and, on request, HF defaults; ignores extra fields', () => {
    expect(resolveClipVisionConfig(CFG)).toEqual({ ...CFG, num_channels: 3, layer_norm_eps: 1e-5, hidden_act: 'quick_gelu' });
    const hf = resolveClipVisionConfig({ projection_dim: 512, dropout: 0 }, { hfDefaults: true });
    expect(hf).toEqual({
      hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12,
      image_size: 224, patch_size: 32, num_channels: 3, layer_norm_eps: 1e-5, hidden_act: 'quick_gelu',
    });
  });
  it('names the bad field', () => {
    expect(() => resolveClipVisionConfig({ ...CFG, hidden_size: undefined })).toThrow(/missing field "hidden_size"/);
    expect(() => resolveClipVisionConfig({ ...CFG, patch_size: 2.5 })).toThrow(/"patch_size" to be a positive integer/);
    expect(() => resolveClipVisionConfig({ ...CFG, num_attention_heads: 5 })).toThrow(/not divisible by num_attention_heads 5/);
    expect(() => resolveClipVisionConfig({ ...CFG, hidden_act: 'relu' })).toThrow(/unknown activation "relu"/);
    expect(() => resolveClipVisionConfig({ ...CFG, layer_norm_eps: -1 })).toThrow(/layer_norm_eps/);
    expect(() => resolveClipVisionConfig({ ...CFG, patch_size: 32 })).toThrow(/larger than image_size/);
    expect(() => resolveClipVisionConfig(null, { source: 'config.json' })).toThrow(/config\.json: CLIP vision config: expected an object/);
    expect(() => new ClipVisionTransformer({ ...CFG, num_hidden_layers: 0 }, new Rng(1))).toThrow(/num_hidden_layers/);
  });
});
