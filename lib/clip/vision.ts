// lib/clip/vision.ts — CLIP's vision tower (Hugging Face CLIPVisionTransformer semantics and
// weight names).
//
//   pixels [B, C, H, W]
//     → patch embedding: Conv2d(C → D, kernel P, stride P, no bias), done as a GEMM over
//       unfolded patches: unfold → [B, nP, C·P·P] (patches row-major over the grid, each patch
//       flattened c, y, x — the Conv2d weight layout [D, C, P, P]) · Wᵀ with W viewed [D, C·P·P]
//     → [CLS] + patches → [B, 1 + nP, D], + position embeddings
//     → pre_layrnorm (HF's spelling) → encoder (pre-LN layers, quick-GELU, no mask)
//     → lastHiddenState [B, 1 + nP, D]  (NOT post-layernormed, as HF)
//     → pooled = post_layernorm(lastHiddenState[:, 0]) [B, D]
//
// Parameter names (the Clip class registers this module as `vision_model`):
//   embeddings.class_embedding [D]
//   embeddings.patch_embedding.weight [D, C, P, P]
//   embeddings.position_embedding.weight [nP + 1, D]
//   pre_layrnorm.{weight,bias} [D]
//   encoder.layers.N.{self_attn.{k,v,q,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}.…
//   post_layernorm.{weight,bias} [D]
// `visual_projection` belongs to the Clip class, not to this tower.
//
// Initialisation (seeded, in registration order): class_embedding ~ N(0, D^-0.5),
// patch_embedding ~ N(0, 0.02), position_embedding ~ N(0, 0.02) (HF's _init_weights with
// initializer_range 0.02, factor 1); the encoder layers keep lib/nn's PyTorch defaults
// (Linear U(±1/√in), LayerNorm 1/0) — HF's own per-projection normal init is not reproduced,
// since a real model is always loaded from a checkpoint.
//
// The patch unfold is a differentiable op (forward copy, backward scatter-add), so gradients
// reach the pixels when they require grad (e.g. for saliency); normally they do not and the
// op records nothing.

import { LayerNorm, Module, ModuleList, TransformerEncoderLayer, activationOf, normalInit, type Activation } from '../nn/index.js';
import { empty, fmtShape, type Rng, isGradEnabled, ops, pool, type Tensor } from '../tensor/index.js';
import { handGrad } from '../tensor/tensor.js';

/** HF CLIPVisionConfig fields (config.json's `vision_config`), snake_case as HF writes them. */
export interface ClipVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  image_size: number;
  patch_size: number;
  /** Default 3. */
  num_channels?: number;
  /** Default 1e-5. */
  layer_norm_eps?: number;
  /** Default 'quick_gelu' (also gelu, gelu_new, gelu_pytorch_tanh; see nn.activationOf). */
  hidden_act?: string;
}

export type ResolvedClipVisionConfig = Required<ClipVisionConfig>;

/** HF CLIPVisionConfig's defaults (ViT-B/32), used for fields a config.json leaves out. */
export const CLIP_VISION_DEFAULTS: Readonly<ResolvedClipVisionConfig> = Object.freeze({
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  image_size: 224,
  patch_size: 32,
  num_channels: 3,
  layer_norm_eps: 1e-5,
  hidden_act: 'quick_gelu',
});

const INT_FIELDS = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'image_size', 'patch_size', 'num_channels'] as const;

/**
 * Validates a vision config and fills the optional fields (num_channels 3, layer_norm_eps 1e-5,
 * hidden_act quick_gelu). With `{ hfDefaults: true }` every missing field takes HF's
 * CLIPVisionConfig default (for a config.json's `vision_config`, which may omit fields). Extra
 * fields (projection_dim, dropout, …) are ignored. Throws a RangeError naming the field.
 */
export function resolveClipVisionConfig(raw: unknown, opts: { hfDefaults?: boolean; source?: string } = {}): ResolvedClipVisionConfig {
  const where = `${opts.source ? `${opts.source}: ` : ''}CLIP vision config`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RangeError(`${where}: expected an object, received ${raw === null ? 'null' : typeof raw}`);
  const r = raw as Record<string, unknown>;
  const pick = <K extends keyof ResolvedClipVisionConfig>(k: K, optional: boolean): ResolvedClipVisionConfig[K] => {
    const v = r[k];
    if (v === undefined || v === null) {
      if (optional || opts.hfDefaults) return CLIP_VISION_DEFAULTS[k];
      throw new RangeError(`${where}: missing field "${k}"`);
    }
    return v as ResolvedClipVisionConfig[K];
  };
  const cfg: ResolvedClipVisionConfig = {
    hidden_size: pick('hidden_size', false),
    intermediate_size: pick('intermediate_size', false),
    num_hidden_layers: pick('num_hidden_layers', false),
    num_attention_heads: pick('num_attention_heads', false),
    image_size: pick('image_size', false),
    patch_size: pick('patch_size', false),
    num_channels: pick('num_channels', true),
    layer_norm_eps: pick('layer_norm_eps', true),
    hidden_act: pick('hidden_act', true),
  };
  for (const k of INT_FIELDS) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${where}: expected "${k}" to be a positive integer, received ${JSON.stringify(v)}`);
  }
  if (typeof cfg.layer_norm_eps !== 'number' || !(cfg.layer_norm_eps > 0) || !Number.isFinite(cfg.layer_norm_eps)) {
    throw new RangeError(`${where}: expected "layer_norm_eps" to be a positive number, received ${JSON.stringify(cfg.layer_norm_eps)}`);
  }
  if (typeof cfg.hidden_act !== 'string') throw new RangeError(`${where}: expected "hidden_act" to be a string, received ${JSON.stringify(cfg.hidden_act)}`);
  try {
    activationOf(cfg.hidden_act);
  } catch (e) {
    throw new RangeError(`${where}: ${(e as Error).message}`);
  }
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new RangeError(`${where}: hidden_size ${cfg.hidden_size} is not divisible by num_attention_heads ${cfg.num_attention_heads}`);
  }
  if (cfg.patch_size > cfg.image_size) throw new RangeError(`${where}: patch_size ${cfg.patch_size} is larger than image_size ${cfg.image_size}`);
  return cfg;
}

/** Patches per side (HF: image_size // patch_size; leftover pixels are ignored, as Conv2d does). */
export function patchGrid(cfg: Pick<ClipVisionConfig, 'image_size' | 'patch_size'>): number {
  return Math.floor(cfg.image_size / cfg.patch_size);
}

/**
 * Differentiable unfold: pixels [B, C, H, W] → [B, gh·gw, C·P·P], gh = ⌊H/P⌋, gw = ⌊W/P⌋
 * (non-overlapping P×P patches, stride P; trailing rows/columns that do not fill a patch are
 * dropped, as a stride-P Conv2d drops them). Patch n = gy·gw + gx (row-major over the grid);
 * within a patch, element (c·P + y)·P + x — the flattening of a Conv2d weight [D, C, P, P].
 * Backward scatter-adds the gradient back to the pixels.
 */
export function unfoldPatches(pixels: Tensor, patch: number): Tensor {
  const op = 'unfoldPatches';
  if (!Number.isInteger(patch) || patch < 1) throw new RangeError(`${op}: expected patch to be a positive integer, received ${patch}`);
  if (pixels.ndim !== 4) throw new RangeError(`${op}: expected pixels [B, C, H, W], received ${fmtShape(pixels.shape)}`);
  const [B, C, H, W] = pixels.shape as [number, number, number, number];
  const P = patch;
  if (H < P || W < P) throw new RangeError(`${op}: image ${H}×${W} is smaller than one ${P}×${P} patch`);
  const gh = Math.floor(H / P), gw = Math.floor(W / P), nP = gh * gw, K = C * P * P;
  const y = empty([B, nP, K]);
  const src = pixels.data, dst = y.data;
  // copy (or, with back = true, scatter-add) row segments of P pixels
  const walk = (from: Float32Array, to: Float32Array, back: boolean): void => {
    for (let b = 0; b < B; b++) for (let gy = 0; gy < gh; gy++) for (let gx = 0; gx < gw; gx++) {
      const pOff = (b * nP + gy * gw + gx) * K;
      for (let c = 0; c < C; c++) for (let py = 0; py < P; py++) {
        const s = ((b * C + c) * H + gy * P + py) * W + gx * P;
        const d = pOff + (c * P + py) * P;
        if (back) for (let px = 0; px < P; px++) to[s + px]! += from[d + px]!;
        else to.set(from.subarray(s, s + P), d);
      }
    }
  };
  walk(src, dst, false);
  if (isGradEnabled() && pixels.requiresGrad) {
    y.requiresGrad = true;
    y.node = {
      op,
      inputs: [pixels],
      backward: (g) => {
        const gx = pool.acquireZeroed(pixels.size);
        walk(g, gx, true);
        handGrad(pixels, gx);
      },
    };
  }
  return y;
}

/** HF CLIPVisionEmbeddings: class token, patch embedding (Conv2d as GEMM), position embedding. */
export class ClipVisionEmbeddings extends Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: PatchEmbedding;
  readonly position_embedding: PositionEmbedding;
  readonly numPatches: number;
  constructor(readonly dim: number, readonly channels: number, readonly imageSize: number, readonly patchSize: number, rng: Rng) {
    super();
    const grid = Math.floor(imageSize / patchSize);
    this.numPatches = grid * grid;
    this.class_embedding = this.addParameter('class_embedding', normalInit(rng, dim, dim ** -0.5), [dim]);
    this.patch_embedding = this.addModule('patch_embedding', new PatchEmbedding(dim, channels, patchSize, rng));
    this.position_embedding = this.addModule('position_embedding', new PositionEmbedding(this.numPatches + 1, dim, rng));
  }

  /** pixels [B, C, imageSize, imageSize] → [B, 1 + nP, D] */
  forward(pixels: Tensor): Tensor {
    const where = 'ClipVisionEmbeddings';
    if (pixels.ndim !== 4) throw new RangeError(`${where}: expected pixels [B, C, H, W], received ${fmtShape(pixels.shape)}`);
    const [B, C, H, W] = pixels.shape as [number, number, number, number];
    if (C !== this.channels || H !== this.imageSize || W !== this.imageSize) {
      throw new RangeError(
        `${where}: expected pixels [B, ${this.channels}, ${this.imageSize}, ${this.imageSize}], received ${fmtShape(pixels.shape)} ` +
          `(preprocess frames to the config's image_size first)`,
      );
    }
    if (B < 1) throw new RangeError(`${where}: expected at least one image, received ${fmtShape(pixels.shape)}`);
    const patches = this.patch_embedding.forward(pixels); // [B, nP, D]
    const cls = this.class_embedding.reshape([1, 1, this.dim]);
    const x = ops.concat(Array.from({ length: B }, () => cls), 0); // [B, 1, D]
    const emb = ops.concat([x, patches], 1); // [B, 1 + nP, D]
    return ops.add(emb, this.position_embedding.weight); // broadcast [1 + nP, D]
  }
}

/** HF's position_embedding (an nn.Embedding indexed by 0 … nP): `weight` [nP + 1, D], N(0, 0.02). */
export class PositionEmbedding extends Module {
  readonly weight: Tensor;
  constructor(readonly num: number, readonly dim: number, rng: Rng) {
    super();
    this.weight = this.addParameter('weight', normalInit(rng, num * dim, 0.02), [num, dim]);
  }
}

/** Conv2d(C → D, kernel = stride = P, bias = False), weight [D, C, P, P], run as unfold + GEMM. */
export class PatchEmbedding extends Module {
  readonly weight: Tensor;
  constructor(readonly dim: number, readonly channels: number, readonly patchSize: number, rng: Rng) {
    super();
    const n = dim * channels * patchSize * patchSize;
    this.weight = this.addParameter('weight', normalInit(rng, n, 0.02), [dim, channels, patchSize, patchSize]);
  }
  /** pixels [B, C, H, W] → [B, ⌊H/P⌋·⌊W/P⌋, D] */
  forward(pixels: Tensor): Tensor {
    if (pixels.ndim !== 4 || pixels.dim(1) !== this.channels) {
      throw new RangeError(`PatchEmbedding: expected pixels [B, ${this.channels}, H, W], received ${fmtShape(pixels.shape)}`);
    }
    const P = this.patchSize;
    return ops.linear(unfoldPatches(pixels, P), this.weight.reshape([this.dim, this.channels * P * P]));
  }
}

/** HF CLIPEncoder: `layers` (a ModuleList of pre-LN encoder layers). */
export class ClipEncoder extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  constructor(dim: number, heads: number, layers: number, rng: Rng, opts: { ffnDim: number; activation: Activation; eps: number }) {
    super();
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: layers }, () => new TransformerEncoderLayer(dim, heads, rng, opts))));
  }
  /** x [B, L, D] → [B, L, D] (no mask: every image token attends to every other). */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) h = layer.forward(h);
    return h;
  }
}

export interface ClipVisionOutput {
  /** [B, 1 + nP, D]: the encoder's output (before post_layernorm, as HF). */
  lastHiddenState: Tensor;
  /** [B, D]: post_layernorm of the class token's final hidden state. */
  pooled: Tensor;
}

/** HF CLIPVisionTransformer (the module at `vision_model.` in a CLIPModel checkpoint). */
export class ClipVisionTransformer extends Module {
  readonly config: ResolvedClipVisionConfig;
  readonly embeddings: ClipVisionEmbeddings;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: ClipEncoder;
  readonly post_layernorm: LayerNorm;

  constructor(config: ClipVisionConfig, rng: Rng) {
    super();
    const cfg = resolveClipVisionConfig(config);
    this.config = cfg;
    const D = cfg.hidden_size;
    this.embeddings = this.addModule('embeddings', new ClipVisionEmbeddings(D, cfg.num_channels, cfg.image_size, cfg.patch_size, rng));
    this.pre_layrnorm = this.addModule('pre_layrnorm', new LayerNorm(D, cfg.layer_norm_eps));
    this.encoder = this.addModule(
      'encoder',
      new ClipEncoder(D, cfg.num_attention_heads, cfg.num_hidden_layers, rng, {
        ffnDim: cfg.intermediate_size,
        activation: activationOf(cfg.hidden_act),
        eps: cfg.layer_norm_eps,
      }),
    );
    this.post_layernorm = this.addModule('post_layernorm', new LayerNorm(D, cfg.layer_norm_eps));
  }

  /** Tokens per image: 1 + (image_size / patch_size)². */
  get sequenceLength(): number {
    return 1 + this.embeddings.numPatches;
  }

  /** pixels [B, C, image_size, image_size] (preprocessed: see preprocessImages) → hidden states and pooled output. */
  forward(pixels: Tensor): ClipVisionOutput {
    const h = this.pre_layrnorm.forward(this.embeddings.forward(pixels));
    const lastHiddenState = this.encoder.forward(h);
    const B = lastHiddenState.dim(0);
    const pooled = this.post_layernorm.forward(ops.gatherSeq(lastHiddenState, new Int32Array(B)));
    return { lastHiddenState, pooled };
  }
}
