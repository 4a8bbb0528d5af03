// test/helpers/clipRef.ts — a straightforward float64 JS implementation of CLIP's towers' parts
// (from lib/reference), the oracle the CLIP tests compare the tensor/native code with.
//
// Weights are a Map name → Float64Array keyed by the HF names relative to the tower (e.g.
// `encoder.layers.0.self_attn.q_proj.weight`). The transformer layers come from layersRef.ts;
// this file adds unfold, the vision embeddings and the whole vision tower.

import type { Activation } from '../../lib/nn/index.js';
import { reference as R } from '../../lib/reference/index.js';
import { encoderRef, ln, type P, scoped } from './layersRef.js';

export type { P } from './layersRef.js';

function get(p: P, name: string): Float64Array {
  const v = p.get(name);
  if (!v) throw new Error(`clipRef: missing weight "${name}"`);
  return v;
}

/** Non-overlapping P×P patches of [B, C, Hh, W] → [B, gh·gw, C·P·P] (row-major grid; c, y, x inside). */
export function unfoldRef(pixels: ArrayLike<number>, B: number, C: number, Hh: number, W: number, P: number): Float64Array {
  const gh = Math.floor(Hh / P), gw = Math.floor(W / P), K = C * P * P;
  const out = new Float64Array(B * gh * gw * K);
  for (let b = 0; b < B; b++) for (let gy = 0; gy < gh; gy++) for (let gx = 0; gx < gw; gx++) {
    for (let c = 0; c < C; c++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) {
      out[((b * gh + gy) * gw + gx) * K + (c * P + y) * P + x] = pixels[((b * C + c) * Hh + gy * P + y) * W + gx * P + x]!;
    }
  }
  return out;
}

/** Direct Conv2d(C → D, kernel = stride = P, no bias) as a check on unfold + GEMM: [B, D, gh, gw]. */
export function conv2dPatchRef(pixels: ArrayLike<number>, weight: ArrayLike<number>, B: number, C: number, Hh: number, W: number, D: number, P: number): Float64Array {
  const gh = Math.floor(Hh / P), gw = Math.floor(W / P);
  const out = new Float64Array(B * D * gh * gw);
  for (let b = 0; b < B; b++) for (let o = 0; o < D; o++) for (let gy = 0; gy < gh; gy++) for (let gx = 0; gx < gw; gx++) {
    let s = 0;
    for (let c = 0; c < C; c++) for (let y = 0; y < P; y++) for (let x = 0; x < P; x++) {
      s += pixels[((b * C + c) * Hh + gy * P + y) * W + gx * P + x]! * weight[((o * C + c) * P + y) * P + x]!;
    }
    out[((b * D + o) * gh + gy) * gw + gx] = s;
  }
  return out;
}

export interface VisionRefConfig {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  imageSize: number;
  patch: number;
  channels: number;
  eps: number;
  act: Activation;
}

/** The whole HF CLIPVisionTransformer in float64 → lastHiddenState [B, 1 + nP, D], pooled [B, D]. */
export function visionTowerRef(pixels: ArrayLike<number>, p: P, B: number, cfg: VisionRefConfig): { lastHiddenState: Float64Array; pooled: Float64Array } {
  const { hidden: D, imageSize: S, patch: Pz, channels: C, eps } = cfg;
  const g = Math.floor(S / Pz), nP = g * g, L = nP + 1, K = C * Pz * Pz;
  const patches = R.gemm({ a: unfoldRef(pixels, B, C, S, S, Pz), b: get(p, 'embeddings.patch_embedding.weight'), m: B * nP, n: D, k: K, transB: true });
  const cls = get(p, 'embeddings.class_embedding');
  const pos = get(p, 'embeddings.position_embedding.weight');
  let x: Float64Array = new Float64Array(B * L * D);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) {
    const v = l === 0 ? cls[d]! : patches[(b * nP + l - 1) * D + d]!;
    x[(b * L + l) * D + d] = v + pos[l * D + d]!;
  }
  x = ln(x, p, 'pre_layrnorm', D, eps);
  for (let i = 0; i < cfg.layers; i++) x = encoderRef(x, scoped(p, `encoder.layers.${i}.`), B, L, D, cfg.heads, cfg.intermediate, cfg.act, null, false, eps);
  const first = new Float64Array(B * D);
  for (let b = 0; b < B; b++) first.set(x.subarray(b * L * D, b * L * D + D), b * D);
  return { lastHiddenState: x, pooled: ln(first, p, 'post_layernorm', D, eps) };
}

export interface TextRefConfig {
  hidden: number;
  layers: number;
  heads: number;
  intermediate: number;
  eps: number;
  act: Activation;
}

/**
 * HF CLIPTextTransformer in float64 for one token row ids [L] (causal): the hidden states after
 * final_layer_norm [L, D]. Weights relative to the tower (embeddings.…, encoder.layers.N.…).
 */
export function textTowerRef(ids: ArrayLike<number>, p: P, cfg: TextRefConfig): Float64Array {
  const D = cfg.hidden, L = ids.length;
  const tok = get(p, 'embeddings.token_embedding.weight');
  const pos = get(p, 'embeddings.position_embedding.weight');
  let h: Float64Array = new Float64Array(L * D);
  for (let l = 0; l < L; l++) for (let d = 0; d < D; d++) h[l * D + d] = tok[ids[l]! * D + d]! + pos[l * D + d]!;
  for (let i = 0; i < cfg.layers; i++) h = encoderRef(h, scoped(p, `encoder.layers.${i}.`), 1, L, D, cfg.heads, cfg.intermediate, cfg.act, null, true, cfg.eps);
  return ln(h, p, 'final_layer_norm', D, cfg.eps);
}

/** x [N, nIn] · Wᵀ (W [nOut, nIn], no bias) in float64. */
export function projectRef(x: Float64Array, w: Float64Array, nIn: number, nOut: number): Float64Array {
  return R.gemm({ a: x, b: w, m: x.length / nIn, n: nOut, k: nIn, transB: true });
}
