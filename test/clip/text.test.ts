// test/clip/text.test.ts — the CLIP text tower against a float64 implementation of HF's
// CLIPTextTransformer; end-of-text pooling in both HF conventions; causality (cutting a batch to
// its longest prompt changes no pooled output); the label encoder and its cache.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { DEFAULT_TEMPLATE, LabelEncoder } from '../../lib/clip/labels.js';
import { ClipTextTransformer, type ClipTextConfig } from '../../lib/clip/text.js';
import { ClipTokenizer } from '../../lib/clip/tokenizer.js';
import { Linear, Module } from '../../lib/nn/index.js';
import { reference as R } from '../../lib/reference/index.js';
import { noGrad, Rng, tidy } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';
import { encoderRef, type P, scoped } from '../helpers/layersRef.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const clipDir = resolve(repoRoot, '../shared/data/clip');

const tiny: Partial<ClipTextConfig> = {
  vocab_size: 50, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2,
  max_position_embeddings: 12, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5, eos_token_id: 2,
};

/** float64 CLIPTextTransformer: embeddings + positions, causal layers, final LN, pooled rows. */
function textRef(tower: ClipTextTransformer, ids: Int32Array, B: number, L: number, eosPos: Int32Array): { last: Float64Array; pooled: Float64Array } {
  const c = tower.config;
  const D = c.hidden_size;
  const p: P = new Map([...tower.namedParameters()].map(([n, t]) => [n, Float64Array.from(t.data)]));
  const tok = p.get('embeddings.token_embedding.weight')!;
  const pos = p.get('embeddings.position_embedding.weight')!;
  let h: Float64Array = new Float64Array(B * L * D);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) {
    h[(b * L + l) * D + d] = tok[ids[b * L + l]! * D + d]! + pos[l * D + d]!;
  }
  for (let i = 0; i < c.num_hidden_layers; i++) {
    h = encoderRef(h, scoped(p, `encoder.layers.${i}.`), B, L, D, c.num_attention_heads, c.intermediate_size, 'quick_gelu', null, true);
  }
  const last = R.layerNormForward({ x: h, weight: p.get('final_layer_norm.weight')!, bias: p.get('final_layer_norm.bias')!, rows: B * L, dim: D, eps: 1e-5 }).out;
  const pooled = new Float64Array(B * D);
  for (let b = 0; b < B; b++) pooled.set(last.subarray((b * L + eosPos[b]!) * D, (b * L + eosPos[b]! + 1) * D), b * D);
  return { last, pooled };
}

function perturb(m: Module, seed: number): void {
  const rng = new Rng(seed);
  for (const p of m.parameters()) for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! + 0.05 * rng.normal();
}

describe('ClipTextTransformer', () => {
  it('matches the float64 tower (causal layers, quick-GELU, pooling at the highest id)', () => {
    const tower = new ClipTextTransformer(tiny, new Rng(1));
    perturb(tower, 2);
    const B = 3, L = 7;
    // rows: start 49 … end = the row's highest id (eos id 2 convention: argmax), then padding 0
    const ids = Int32Array.from([
      48, 5, 9, 49, 0, 0, 0,
      48, 3, 49, 0, 0, 0, 0,
      48, 7, 7, 7, 7, 7, 49,
    ]);
    const eos = tower.eosPositions(ids, B, L);
    expect(Array.from(eos)).toEqual([3, 2, 6]);
    tidy(() => {
      const out = tower.forward(ids, B, L);
      const ref = textRef(tower, ids, B, L, eos);
      expectClose(out.lastHiddenState.data, ref.last, { rtol: 1e-4, atol: 1e-4, label: 'last hidden state' });
      expectClose(out.pooled.data, ref.pooled, { rtol: 1e-4, atol: 1e-4, label: 'pooled' });
    });
  });

  it('pools at the first eos id when eos_token_id is not the legacy 2, and says so when a row lacks it', () => {
    const tower = new ClipTextTransformer({ ...tiny, eos_token_id: 40 }, new Rng(1));
    const ids = Int32Array.from([1, 40, 45, 40, 3, 8]);
    expect(Array.from(tower.eosPositions(ids, 2, 3))).toEqual([1, 0]);
    expect(() => tower.eosPositions(Int32Array.from([1, 2, 3]), 1, 3)).toThrow(/row 0 has no end-of-text token \(id 40\)/);
  });

  it('is causal: cutting padding after the end token changes no pooled output', () => {
    const tower = new ClipTextTransformer(tiny, new Rng(3));
    const short = Int32Array.from([48, 4, 49, 48, 6, 49]);
    const long = new Int32Array(2 * 12);
    long.set([48, 4, 49], 0);
    long.set([48, 6, 49], 12);
    const [a, b] = noGrad(() => tidy(() => [tower.forward(short, 2, 3).pooled.toArray(), tower.forward(long, 2, 12).pooled.toArray()]));
    expectClose(a!, b!, { rtol: 1e-6, atol: 1e-6, label: 'pooled, cut vs padded' });
  });

  it('pooled() (last layer on the end-of-text rows only) equals forward().pooled, values and gradients', () => {
    const tower = new ClipTextTransformer(tiny, new Rng(6));
    perturb(tower, 7);
    const ids = Int32Array.from([48, 5, 9, 49, 0, 0, 0, 48, 3, 49, 0, 0, 0, 0, 48, 7, 7, 7, 7, 7, 49]);
    const w = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i));
    const run = (fast: boolean): { y: number[]; g: number[][] } => tidy(() => {
      const y = fast ? tower.pooled(ids, 3, 7) : tower.forward(ids, 3, 7).pooled;
      const yv = y.toArray();
      y.backward(w);
      const g = tower.parameters().map((p) => p.grad!.toArray());
      tower.zeroGrad();
      return { y: yv, g };
    });
    const full = run(false);
    const fast = run(true);
    expectClose(fast.y, full.y, { rtol: 1e-5, atol: 1e-6, label: 'pooled' });
    fast.g.forEach((g, i) => expectClose(g, full.g[i]!, { rtol: 1e-4, atol: 1e-6, label: `param ${i}` }));
  });

  it('pooledShared() (a shared prefix computed once) equals forward().pooled, values and gradients', () => {
    const tower = new ClipTextTransformer(tiny, new Rng(8));
    perturb(tower, 9);
    // three prompts sharing "48 5 9", different suffixes and end positions, padding after
    const ids = Int32Array.from([48, 5, 9, 12, 49, 0, 0, 48, 5, 9, 49, 0, 0, 0, 48, 5, 9, 7, 7, 30, 49]);
    const w = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.cos(i));
    const run = (fast: boolean, x: Int32Array): { y: number[]; g: number[][] } => tidy(() => {
      const y = fast ? tower.pooledShared(x, 3, 7) : tower.forward(x, 3, 7).pooled;
      const yv = y.toArray();
      y.backward(w);
      const g = tower.parameters().map((p) => p.grad!.toArray());
      tower.zeroGrad();
      return { y: yv, g };
    });
    for (const x of [ids, Int32Array.from(ids, (v, i) => (i === 7 ? 47 : v))]) { // shared prefix; none shared
      const full = run(false, x);
      const fast = run(true, x);
      expectClose(fast.y, full.y, { rtol: 1e-5, atol: 1e-6, label: 'pooled' });
      // The shared prefix runs its Linear layers on fewer rows (<= 8), where the GEMM may take
      // its dot-product form (another fp32 summation order than the 21 rows of the full
      // forward): gradients with cancellation then differ by a few 1e-6 absolute.
      fast.g.forEach((g, i) => expectClose(g, full.g[i]!, { rtol: 1e-4, atol: 1e-5, label: `param ${i}` }));
    }
  });

  it('rejects ids that do not fit', () => {
    const tower = new ClipTextTransformer(tiny, new Rng(1));
    expect(() => tower.forward(new Int32Array(13), 1, 13)).toThrow(/sequence length 13 exceeds max_position_embeddings 12/);
    expect(() => tower.forward(new Int32Array(5), 2, 3)).toThrow(/ids has 5 entries, expected batch·length = 2·3/);
    expect(() => tower.forward(Int32Array.from([1, 50, 2]), 1, 3)).toThrow(/ids\[1\] = 50 is outside \[0, 50\)/);
  });
});

class TextOnly extends Module {
  readonly text_model: ClipTextTransformer;
  readonly text_projection: Linear;
  weightsVersion = 0;
  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.text_model = this.addModule('text_model', new ClipTextTransformer({ ...tiny, vocab_size: 49408, max_position_embeddings: 77 }, rng));
    this.text_projection = this.addModule('text_projection', new Linear(16, 8, rng, { bias: false }));
  }
}

describe('LabelEncoder', () => {
  const tokenizer = ClipTokenizer.fromDir(clipDir);
  const labels = ['highly negative', 'negative', 'weakly negative', 'neutral', 'weakly positive', 'positive', 'highly positive'];

  it('embeds each prompt as the pooled output × text_projection, same as padding to 77', () => {
    const clip = new TextOnly(4);
    const enc = new LabelEncoder(clip, tokenizer);
    expect(enc.template).toBe(DEFAULT_TEMPLATE);
    const { ids, length } = enc.tokenize(labels);
    // start, "a person feeling", "weak" "ly" "negative", end
    expect(length).toBe(8);
    expect(length).toBe(Math.max(...labels.map((l) => tokenizer.encode(`a person feeling ${l}`).length)));
    expect(Array.from(ids.subarray(0, length))).toEqual([...tokenizer.encode('a person feeling highly negative'), 0]); // padded with 0
    const e = enc.encode(labels);
    expect(e.shape).toEqual([7, 8]);
    const padded = tokenizer.encodeBatch(labels.map((l) => `a person feeling ${l}`), { contextLength: 77 });
    const full = noGrad(() => tidy(() => clip.text_projection.forward(clip.text_model.forward(padded, 7, 77).pooled).toArray()));
    expectClose(e.data, full, { rtol: 1e-5, atol: 1e-6, label: 'label embeddings' });
  });

  it('caches per (labels, template, weights) when frozen; recomputes on the tape when fine-tuned', () => {
    const clip = new TextOnly(5);
    const enc = new LabelEncoder(clip, tokenizer, 'a {label} face');
    const a = enc.encode(['happy', 'sad']);
    expect(enc.encode(['happy', 'sad'])).toBe(a);
    expect(enc.encode(['sad', 'happy'])).not.toBe(a);
    const b = enc.encode(['sad', 'happy']);
    clip.weightsVersion++;
    expect(enc.encode(['sad', 'happy'])).not.toBe(b);
    expect(a.requiresGrad).toBe(false);
    const tuned = new LabelEncoder(clip, tokenizer, 'a {label} face', { frozen: false });
    tidy(() => {
      const e = tuned.encode(['happy', 'sad']);
      expect(e.requiresGrad).toBe(true);
    });
    expect(() => new LabelEncoder(clip, tokenizer, 'no placeholder')).toThrow(/no \{label\} placeholder/);
    expect(() => enc.encode([])).toThrow(/at least one label/);
  });
});
