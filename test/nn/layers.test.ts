// test/nn/layers.test.ts — the encoder and decoder layers, forward and backward, against a
// straightforward float64 JS implementation of the same layer (built from lib/reference);
// gradients of every parameter and input against central finite differences of that float64
// layer. Also: PyTorch-style names, seeded initialisation, loadStateDict checks.
import { describe, expect, it } from 'vitest';

import {
  CrossModalDecoderLayer,
  type Module,
  TransformerEncoderLayer,
  type Activation,
} from '../../lib/nn/index.js';
import { reference as R } from '../../lib/reference/index.js';
import { fromArray, Rng, type Tensor, tidy } from '../../lib/tensor/index.js';
import { expectClose } from '../helpers/compare.js';
import { dot, finiteDiffGrad } from '../helpers/finiteDiff.js';
import { makeRng } from '../helpers/seed.js';

type P = Map<string, Float64Array>;

// ---- float64 building blocks ---------------------------------------------------------------

function lin(x: Float64Array, p: P, name: string, nIn: number, nOut: number): Float64Array {
  return R.gemm({ a: x, b: p.get(`${name}.weight`)!, bias: p.get(`${name}.bias`), m: x.length / nIn, n: nOut, k: nIn, transB: true });
}
function ln(x: Float64Array, p: P, name: string, d: number): Float64Array {
  return R.layerNormForward({ x, weight: p.get(`${name}.weight`)!, bias: p.get(`${name}.bias`)!, rows: x.length / d, dim: d, eps: 1e-5 }).out;
}
function addv(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
function heads(x: Float64Array, B: number, L: number, H: number, dh: number, inverse = false): Float64Array {
  const out = new Float64Array(x.length);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let d = 0; d < dh; d++) {
    const blhd = ((b * L + l) * H + h) * dh + d;
    const bhld = ((b * H + h) * L + l) * dh + d;
    if (inverse) out[blhd] = x[bhld]!;
    else out[bhld] = x[blhd]!;
  }
  return out;
}
function mha(xq: Float64Array, xkv: Float64Array, p: P, name: string, B: number, Lq: number, Lk: number, d: number, H: number, keyLengths: Int32Array | null, causal = false): Float64Array {
  const dh = d / H;
  const q = heads(lin(xq, p, `${name}.q_proj`, d, d), B, Lq, H, dh);
  const k = heads(lin(xkv, p, `${name}.k_proj`, d, d), B, Lk, H, dh);
  const v = heads(lin(xkv, p, `${name}.v_proj`, d, d), B, Lk, H, dh);
  const o = R.attentionForward({ q, k, v, batch: B, heads: H, lq: Lq, lk: Lk, headDim: dh, keyLengths, causal }).out;
  return lin(heads(o, B, Lq, H, dh, true), p, `${name}.out_proj`, d, d);
}
function mlp(x: Float64Array, p: P, name: string, d: number, hidden: number, act: Activation): Float64Array {
  const approximate = act === 'gelu' ? 'none' : act === 'gelu_tanh' ? 'tanh' : 'quick';
  return lin(R.geluForward({ x: lin(x, p, `${name}.fc1`, d, hidden), approximate }), p, `${name}.fc2`, hidden, d);
}

// ---- the two layers in float64 ---------------------------------------------------------------

function encoderRef(x: Float64Array, p: P, B: number, L: number, d: number, H: number, hidden: number, act: Activation, keyLengths: Int32Array | null, causal: boolean): Float64Array {
  const a = ln(x, p, 'layer_norm1', d);
  const h = addv(x, mha(a, a, p, 'self_attn', B, L, L, d, H, keyLengths, causal));
  return addv(h, mlp(ln(h, p, 'layer_norm2', d), p, 'mlp', d, hidden, act));
}

function decoderRef(q: Float64Array, mems: Float64Array[], lens: Int32Array[], p: P, B: number, C: number, Ls: number[], d: number, H: number, hidden: number): Float64Array {
  const a = ln(q, p, 'self_attn_layer_norm', d);
  let x = addv(q, mha(a, a, p, 'self_attn', B, C, C, d, H, null));
  mems.forEach((m, i) => {
    const c = mha(ln(x, p, `cross_attn_layer_norm.${i}`, d), m, p, `cross_attn.${i}`, B, C, Ls[i]!, d, H, lens[i]!);
    // a sample whose modality has length 0 skips the step
    for (let b = 0; b < B; b++) if (lens[i]![b] === 0) c.fill(0, b * C * d, (b + 1) * C * d);
    x = addv(x, c);
  });
  return addv(x, mlp(ln(x, p, 'final_layer_norm', d), p, 'mlp', d, hidden, 'gelu'));
}

// ---- harness ---------------------------------------------------------------------------------

/** Runs the layer on the tape, backward with weights w, and checks output and every gradient. */
function checkLayer(
  layer: Module,
  inputs: Array<{ shape: number[] }>,
  run: (xs: Tensor[]) => Tensor,
  ref: (xs: Float64Array[], p: P) => Float64Array,
  seed: number,
): void {
  const rng = makeRng(seed);
  // perturb LayerNorm weights/biases away from 1/0 so their gradients are exercised generally
  for (const [, t] of layer.namedParameters()) for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! + 0.1 * rng.normal();
  const params: P = new Map([...layer.namedParameters()].map(([n, t]) => [n, Float64Array.from(t.data)]));
  const xs64 = inputs.map((inp) => Float64Array.from(Float32Array.from({ length: inp.shape.reduce((a, b) => a * b, 1) }, () => rng.normal())));
  tidy(() => {
    const xs = inputs.map((inp, i) => fromArray(xs64[i]!, inp.shape, { requiresGrad: true }));
    const y = run(xs);
    const expected = ref(xs64, params);
    const scaleOf = (a: ArrayLike<number>): number => Math.max(1e-12, ...Array.from(a, Math.abs));
    expectClose(y.data, expected, { rtol: 1e-4, atol: 1e-4 * scaleOf(expected), label: 'forward' });
    const w = Float32Array.from({ length: y.size }, () => rng.normal());
    y.backward(w);
    // Tolerance: 1e-4 relative, with an absolute floor of 1e-4 × the largest gradient of the
    // tensor or of the layer's input (some gradients are exactly 0 in exact arithmetic — the key
    // bias cancels in the softmax — and fp32 leaves ~1e-7 there).
    const fdInputs = xs64.map((x, i) => finiteDiffGrad((xi) => dot(w, ref(xs64.map((v, j) => (j === i ? xi : v)), params)), x.slice()));
    const floor = scaleOf(fdInputs[0]!);
    fdInputs.forEach((fd, i) => {
      expectClose(xs[i]!.grad!.data, fd, { rtol: 1e-4, atol: 1e-4 * Math.max(scaleOf(fd), floor), label: `d input ${i}` });
    });
    for (const [name, t] of layer.namedParameters()) {
      const fd = finiteDiffGrad((pv) => dot(w, ref(xs64, new Map([...params, [name, pv]]))), params.get(name)!.slice());
      expect(t.grad, `${name} has a gradient`).not.toBeNull();
      expectClose(t.grad!.data, fd, { rtol: 1e-4, atol: 1e-4 * Math.max(scaleOf(fd), floor), label: `d ${name}` });
    }
  });
  layer.zeroGrad();
}

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
  it('matches the float64 layer with per-modality padding and a sample lacking a modality', () => {
    const layer = new CrossModalDecoderLayer(d, H, 2, new Rng(5), { ffnDim: hidden });
    const lens = [Int32Array.from([4, 2, 1]), Int32Array.from([6, 0, 3])]; // sample 1 lacks modality 1
    checkLayer(layer, [{ shape: [B, C, d] }, { shape: [B, Ls[0]!, d] }, { shape: [B, Ls[1]!, d] }],
      ([q, m0, m1]) => layer.forward(q!, [{ features: m0!, lengths: lens[0]! }, { features: m1!, lengths: lens[1]! }]),
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
