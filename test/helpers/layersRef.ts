// test/helpers/layersRef.ts — float64 implementations of the transformer layers, built from
// lib/reference: the oracle the nn layers and the CLIP towers are tested against. Parameters come
// as a map from PyTorch-style names (relative to the layer) to float64 arrays.
import type { Activation } from '../../lib/nn/index.js';
import { reference as R } from '../../lib/reference/index.js';

export type P = Map<string, Float64Array>;

// ---- float64 building blocks ---------------------------------------------------------------

export function lin(x: Float64Array, p: P, name: string, nIn: number, nOut: number): Float64Array {
  return R.gemm({ a: x, b: p.get(`${name}.weight`)!, bias: p.get(`${name}.bias`), m: x.length / nIn, n: nOut, k: nIn, transB: true });
}
export function ln(x: Float64Array, p: P, name: string, d: number, eps = 1e-5): Float64Array {
  return R.layerNormForward({ x, weight: p.get(`${name}.weight`)!, bias: p.get(`${name}.bias`)!, rows: x.length / d, dim: d, eps }).out;
}
export function addv(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((v, i) => v + b[i]!);
}
/** Rows [B·L, D] → the first lengths[b] rows of each sample, packed (lengths null: all). */
export function validRows(x: Float64Array, B: number, L: number, D: number, lengths: Int32Array | null): Float64Array {
  if (!lengths) return x;
  const out = new Float64Array(lengths.reduce((s, l) => s + l, 0) * D);
  let o = 0;
  for (let b = 0; b < B; b++) {
    out.set(x.subarray(b * L * D, (b * L + lengths[b]!) * D), o);
    o += lengths[b]! * D;
  }
  return out;
}
/** [B + 1] offsets of samples with these lengths. */
export function offsets(lengths: ArrayLike<number>): Int32Array {
  const cu = new Int32Array(lengths.length + 1);
  for (let b = 0; b < lengths.length; b++) cu[b + 1] = cu[b]! + lengths[b]!;
  return cu;
}
/**
 * Multi-head attention in float64: queries xq [B·Lq, d] (every row), keys / values from xkv
 * [B·Lk, d] — only the first keyLengths[b] rows of sample b (key padding) — in the packed layout
 * of reference.attentionForward.
 */
export function mha(xq: Float64Array, xkv: Float64Array, p: P, name: string, B: number, Lq: number, Lk: number, d: number, H: number, keyLengths: Int32Array | null, causal = false): Float64Array {
  const dh = d / H;
  const src = validRows(xkv, B, Lk, d, keyLengths);
  const q = lin(xq, p, `${name}.q_proj`, d, d);
  const k = lin(src, p, `${name}.k_proj`, d, d);
  const v = lin(src, p, `${name}.v_proj`, d, d);
  const cuSeqlensQ = offsets(new Array<number>(B).fill(Lq));
  const cuSeqlensK = offsets(keyLengths ?? new Array<number>(B).fill(Lk));
  const o = R.attentionForward({ q, k, v, batch: B, heads: H, headDim: dh, cuSeqlensQ, cuSeqlensK, causal }).out;
  return lin(o, p, `${name}.out_proj`, d, d);
}
export function mlp(x: Float64Array, p: P, name: string, d: number, hidden: number, act: Activation): Float64Array {
  const approximate = act === 'gelu' ? 'none' : act === 'gelu_tanh' ? 'tanh' : 'quick';
  return lin(R.geluForward({ x: lin(x, p, `${name}.fc1`, d, hidden), approximate }), p, `${name}.fc2`, hidden, d);
}

// ---- the two layers in float64 ---------------------------------------------------------------

export function encoderRef(x: Float64Array, p: P, B: number, L: number, d: number, H: number, hidden: number, act: Activation, keyLengths: Int32Array | null, causal: boolean, eps = 1e-5): Float64Array {
  const a = ln(x, p, 'layer_norm1', d, eps);
  const h = addv(x, mha(a, a, p, 'self_attn', B, L, L, d, H, keyLengths, causal));
  return addv(h, mlp(ln(h, p, 'layer_norm2', d, eps), p, 'mlp', d, hidden, act));
}

export function decoderRef(q: Float64Array, mems: Float64Array[], lens: Int32Array[], p: P, B: number, C: number, Ls: number[], d: number, H: number, hidden: number): Float64Array {
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


/** The parameters under `prefix` (e.g. "encoder.layers.0."), with the prefix stripped. */
export function scoped(p: P, prefix: string): P {
  return new Map([...p].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}
