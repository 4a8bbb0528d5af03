// lib/nn/layers.ts — Linear, LayerNorm, Embedding, MultiHeadAttention, the pre-LN transformer
// encoder layer and MER-CLIP's cross-modal decoder layer.
//
// Parameter names follow Hugging Face (CLIP: self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1,
// mlp.fc2, layer_norm2), so HF checkpoints load by name. Initialisation follows PyTorch's
// defaults (Linear: U(±1/√in) for weight and bias; LayerNorm: 1 and 0; Embedding: N(0, std)),
// drawn from a seeded Rng in registration order — one seed, bit-identical weights.

import type { GeluApproximate } from '../backend/index.js';
import { empty, inferenceStep, isGradEnabled, type Rng, ops, type Tensor, tidy, wrap } from '../tensor/index.js';
import { offsetsOf, type SequenceLayout, uniformOffsets } from '../tensor/packed.js';
import { constant, normal, uniform } from './init.js';
import { Module, ModuleList } from './module.js';

export type Activation = 'gelu' | 'gelu_tanh' | 'quick_gelu';

const GELU_OF: Record<Activation, GeluApproximate> = { gelu: 'none', gelu_tanh: 'tanh', quick_gelu: 'quick' };

export function activationOf(name: string): Activation {
  if (name === 'gelu' || name === 'gelu_tanh' || name === 'quick_gelu') return name;
  if (name === 'gelu_new' || name === 'gelu_pytorch_tanh') return 'gelu_tanh';
  throw new RangeError(`unknown activation "${name}" (expected gelu, gelu_tanh or quick_gelu)`);
}

export function applyActivation(x: Tensor, act: Activation): Tensor {
  return ops.gelu(x, GELU_OF[act]);
}


export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: { bias?: boolean } = {}) {
    super();
    checkPositive('Linear', { inFeatures, outFeatures });
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.addParameter('weight', uniform(rng, outFeatures * inFeatures, bound), [outFeatures, inFeatures]);
    this.bias = opts.bias ?? true ? this.addParameter('bias', uniform(rng, outFeatures, bound), [outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    checkPositive('LayerNorm', { dim });
    this.weight = this.addParameter('weight', constant(dim, 1), [dim]);
    this.bias = this.addParameter('bias', constant(dim, 0), [dim]);
  }
  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly num: number, readonly dim: number, rng: Rng, opts: { std?: number } = {}) {
    super();
    checkPositive('Embedding', { num, dim });
    this.weight = this.addParameter('weight', normal(rng, num * dim, opts.std ?? 1), [num, dim]);
  }
  /** ids [...shape] → [...shape, dim] */
  forward(ids: Int32Array, shape: readonly number[] = [ids.length]): Tensor {
    return ops.embedding(this.weight, ids, shape);
  }
}

export interface AttentionCallOptions {
  causal?: boolean;
  /** The query is packed rows [T, dim] with this layout (the output is packed the same way). */
  queryLayout?: SequenceLayout | null;
  /**
   * The key/value source is packed rows [T, kvDim] with this layout; every row is a key
   * (default: the query's layout, for self-attention).
   */
  sourceLayout?: SequenceLayout | null;
  /**
   * A dense source [B, Lk, kvDim] only: [B] valid keys per sample; the rows at and past them are
   * left out (only the valid rows are projected).
   */
  keyLengths?: Int32Array | null;
}

/** Row indices of the first lengths[b] rows of each sample of a dense [B, L, ·] tensor. */
function validRowIndex(lengths: Int32Array, L: number): Int32Array {
  let T = 0;
  for (const l of lengths) T += l;
  const idx = new Int32Array(T);
  let t = 0;
  lengths.forEach((l, b) => {
    for (let j = 0; j < l; j++) idx[t++] = b * L + j;
  });
  return idx;
}

/**
 * Multi-head attention with separate q/k/v/out projections (HF naming), the fused kernel inside.
 * The kernel reads the [T, dim] projections in place (packed rows with per-sample offsets, head
 * h at columns h·Dh …): no heads layout, no padding rows. A dense [B, L, ·] input is the
 * uniform-offset case.
 */
export class MultiHeadAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
  readonly headDim: number;
  constructor(readonly dim: number, readonly heads: number, rng: Rng, opts: { bias?: boolean; kvDim?: number } = {}) {
    super();
    checkPositive('MultiHeadAttention', { dim, heads });
    if (dim % heads !== 0) throw new RangeError(`MultiHeadAttention: dim ${dim} is not divisible by heads ${heads}`);
    this.headDim = dim / heads;
    const kv = opts.kvDim ?? dim;
    this.k_proj = this.addModule('k_proj', new Linear(kv, dim, rng, opts));
    this.v_proj = this.addModule('v_proj', new Linear(kv, dim, rng, opts));
    this.q_proj = this.addModule('q_proj', new Linear(dim, dim, rng, opts));
    this.out_proj = this.addModule('out_proj', new Linear(dim, dim, rng, opts));
  }
  /**
   * query [B, Lq, dim] (or packed [T, dim] with queryLayout), key/value source [B, Lk, kvDim]
   * (or packed with sourceLayout; default: the query) → the query's layout. A few dense queries
   * attending to a packed source take the absorbed path (forwardAbsorbed).
   */
  forward(query: Tensor, source: Tensor = query, opts: AttentionCallOptions = {}): Tensor {
    const ql = opts.queryLayout ?? null;
    const sl = opts.sourceLayout ?? (source === query ? ql : null);
    const keyLengths = opts.keyLengths ?? null;
    if (sl && keyLengths) throw new RangeError('MultiHeadAttention: keyLengths is for a dense source; the keys of a packed source are its rows (its layout)');
    if (sl && !ql && source !== query && !opts.causal && query.ndim === 3 && this.absorbs(query.dim(1))) {
      return this.forwardAbsorbed(query, source, sl);
    }
    // query rows [Tq, dim] and their offsets
    let qRows: Tensor, cuQ: Int32Array;
    if (ql) {
      qRows = query;
      cuQ = ql.offsets;
    } else {
      if (query.ndim !== 3) throw new RangeError(`MultiHeadAttention: expected query [B, L, ${this.dim}], received [${query.shape.join(', ')}]`);
      qRows = query.reshape([query.dim(0) * query.dim(1), query.dim(2)]);
      cuQ = uniformOffsets(query.dim(0), query.dim(1));
    }
    // key / value source rows [Tk, kvDim]: the valid ones only
    let sRows: Tensor, cuK: Int32Array;
    if (sl) {
      sRows = source;
      cuK = sl.offsets;
    } else {
      if (source.ndim !== 3) throw new RangeError(`MultiHeadAttention: expected source [B, L, kvDim], received [${source.shape.join(', ')}]`);
      const [B, Lk, kv] = source.shape as [number, number, number];
      if (keyLengths && keyLengths.some((l) => l !== Lk)) {
        cuK = offsetsOf('MultiHeadAttention keyLengths', keyLengths, Lk);
        if (keyLengths.length !== B) throw new RangeError(`MultiHeadAttention: expected ${B} keyLengths, received ${keyLengths.length}`);
        sRows = ops.gatherRows(source.reshape([B * Lk, kv]), validRowIndex(keyLengths, Lk));
      } else {
        sRows = source === query && !ql ? qRows : source.reshape([B * Lk, kv]);
        cuK = uniformOffsets(B, Lk);
      }
    }
    const o = inferenceStep(() => ops.attention(this.q_proj.forward(qRows), this.k_proj.forward(sRows), this.v_proj.forward(sRows), {
      heads: this.heads, cuSeqlensQ: cuQ, cuSeqlensK: cuK, causal: opts.causal ?? false,
    })); // in inference q, k, v go back to the pool here
    const y = this.out_proj.forward(o);
    return ql ? y : y.reshape([query.dim(0), query.dim(1), this.dim]);
  }

  /**
   * Whether `lq` queries per sample attend to a packed source more cheaply with the key/value
   * projections absorbed (forwardAbsorbed): that costs ~lq·heads·kvDim per source token and
   * direction, projecting the source to keys and values ~dim·kvDim.
   */
  absorbs(lq: number): boolean {
    return 2 * lq * this.heads <= this.dim;
  }

  /**
   * Cross-attention of a few queries [B, Lq, dim] to a packed source [T, kvDim] with the key and
   * value projections absorbed (merclip/memory_attention.h): per head, q_h·(W_k,h x + b_k,h) =
   * (W_k,hᵀ q_h)·x + const (the constant cancels in the softmax, so b_k gets a zero gradient)
   * and Σ p_t (W_v,h x_t + b_v,h) = W_v,h Σ p_t x_t + b_v,h. The B·Lq·H absorbed query rows
   * attend straight to the source rows; the source is never projected. Same function as the
   * standard path (same parameters, same PyTorch names), ~dim/(Lq·H) times fewer FLOPs on the
   * source tokens. A sample with no source rows gives 0 before out_proj, as the kernel does.
   */
  forwardAbsorbed(query: Tensor, source: Tensor, layout: SequenceLayout): Tensor {
    const { lengths } = layout;
    const [B, lq] = query.shape as [number, number, number];
    const H = this.heads, dh = this.headDim, kv = source.dim(1), n = B * lq;
    const q = this.q_proj.forward(query);
    const qh = ops.splitHeads(q.reshape([1, n, this.dim]), H).reshape([H, n, dh]);
    const qa = ops.bmm(qh, this.k_proj.weight.reshape([H, dh, kv]), { alpha: 1 / Math.sqrt(dh) });
    const rows = ops.mergeHeads(qa.reshape([1, H, n, kv])).reshape([B, lq * H, kv]);
    const m = ops.memoryAttention(rows, source, lengths, 1);
    const mh = ops.splitHeads(m.reshape([1, n, H * kv]), H).reshape([H, n, kv]);
    const o = ops.bmm(mh, this.v_proj.weight.reshape([H, dh, kv]), { transB: true });
    let out = ops.mergeHeads(o.reshape([1, H, n, dh])).reshape([B, lq, this.dim]);
    if (this.v_proj.bias) {
      out = ops.add(out, this.v_proj.bias);
      if (lengths.includes(0)) out = ops.scaleRows(out, Array.from(lengths, (l) => (l > 0 ? 1 : 0)));
    }
    if (this.k_proj.bias) out = ops.withZeroGrad(out, this.k_proj.bias);
    return this.out_proj.forward(out);
  }
}

/** fc1 → activation → fc2 */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(dim: number, hidden: number, readonly activation: Activation, rng: Rng) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(dim, hidden, rng));
    this.fc2 = this.addModule('fc2', new Linear(hidden, dim, rng));
  }
  forward(x: Tensor): Tensor {
    const rows = x.size / this.fc1.inFeatures;
    if (isGradEnabled() || rows <= 2 * MLP_CHUNK_ROWS) return this.fc2.forward(applyActivation(this.fc1.forward(x), this.activation));
    // Inference on many rows: MLP_CHUNK_ROWS rows at a time, so the [rows, hidden] activation
    // never exists whole (12,000 rows × 2048 would be 98 MB; a chunk is 16 MB and its buffers
    // are reused from the pool). Row-wise op, so the result is the same as in one piece.
    const dIn = this.fc1.inFeatures, dOut = this.fc2.outFeatures;
    const out = empty([...x.shape.slice(0, -1), dOut]);
    for (let r0 = 0; r0 < rows; r0 += MLP_CHUNK_ROWS) {
      const r1 = Math.min(rows, r0 + MLP_CHUNK_ROWS);
      tidy(() => {
        const part = wrap(x.data.subarray(r0 * dIn, r1 * dIn), [r1 - r0, dIn]);
        out.data.set(this.fc2.forward(applyActivation(this.fc1.forward(part), this.activation)).data, r0 * dOut);
      });
    }
    return out;
  }
}

/** Rows per piece of an inference MLP over many rows (Mlp.forward). */
const MLP_CHUNK_ROWS = 2048;

export interface EncoderLayerOptions {
  /** Default 4·dim. */
  ffnDim?: number;
  /** Default 'gelu'. CLIP uses 'quick_gelu'. */
  activation?: Activation;
  eps?: number;
}

/** Pre-LN transformer encoder layer: x + SA(LN1 x), then + MLP(LN2 ·). Names as HF CLIP. */
export class TransformerEncoderLayer extends Module {
  readonly self_attn: MultiHeadAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: Mlp;
  readonly layer_norm2: LayerNorm;
  constructor(readonly dim: number, readonly heads: number, rng: Rng, opts: EncoderLayerOptions = {}) {
    super();
    this.self_attn = this.addModule('self_attn', new MultiHeadAttention(dim, heads, rng));
    this.layer_norm1 = this.addModule('layer_norm1', new LayerNorm(dim, opts.eps));
    this.mlp = this.addModule('mlp', new Mlp(dim, opts.ffnDim ?? 4 * dim, opts.activation ?? 'gelu', rng));
    this.layer_norm2 = this.addModule('layer_norm2', new LayerNorm(dim, opts.eps));
  }
  /**
   * x [B, L, dim] → [B, L, dim]; keyLengths masks padding keys, causal for text towers. With
   * `queryLayout`, x is packed [T, dim] (valid tokens only) and so is the result.
   */
  forward(x: Tensor, opts: AttentionCallOptions = {}): Tensor {
    // in inference each block's intermediates go back to the pool as it returns, h at the end
    return inferenceStep(() => {
      const h = inferenceStep(() => ops.add(x, this.self_attn.forward(this.layer_norm1.forward(x), undefined, opts)));
      return inferenceStep(() => ops.add(h, this.mlp.forward(this.layer_norm2.forward(h))));
    });
  }
}

/** One modality the decoder attends to: its packed rows and their layout. */
export interface DecoderMemory {
  /** [T, dim]: the valid rows of the batch's samples (layout.offsets). */
  rows: Tensor;
  /** A sample with length 0 lacks the modality and skips this step. */
  layout: SequenceLayout;
}

/**
 * MER-CLIP's cross-modal decoder layer (pre-LN, residual): self-attention over the C label
 * queries; then cross-attention to each modality in turn, each with its own key padding; then
 * the feed-forward block (dim → ffnDim → dim, GELU). A sample that lacks a modality (length 0)
 * skips that cross-attention step exactly (its residual term is gated to 0, never fed zeros as
 * if they were data).
 */
export class CrossModalDecoderLayer extends Module {
  readonly self_attn: MultiHeadAttention;
  readonly self_attn_layer_norm: LayerNorm;
  readonly cross_attn: ModuleList<MultiHeadAttention>;
  readonly cross_attn_layer_norm: ModuleList<LayerNorm>;
  readonly mlp: Mlp;
  readonly final_layer_norm: LayerNorm;
  constructor(readonly dim: number, readonly heads: number, readonly modalities: number, rng: Rng, opts: EncoderLayerOptions = {}) {
    super();
    checkPositive('CrossModalDecoderLayer', { modalities });
    this.self_attn = this.addModule('self_attn', new MultiHeadAttention(dim, heads, rng));
    this.self_attn_layer_norm = this.addModule('self_attn_layer_norm', new LayerNorm(dim, opts.eps));
    this.cross_attn = this.addModule('cross_attn', new ModuleList(Array.from({ length: modalities }, () => new MultiHeadAttention(dim, heads, rng))));
    this.cross_attn_layer_norm = this.addModule('cross_attn_layer_norm', new ModuleList(Array.from({ length: modalities }, () => new LayerNorm(dim, opts.eps))));
    this.mlp = this.addModule('mlp', new Mlp(dim, opts.ffnDim ?? 4 * dim, opts.activation ?? 'gelu', rng));
    this.final_layer_norm = this.addModule('final_layer_norm', new LayerNorm(dim, opts.eps));
  }

  /** queries [B, C, dim], memories in the configured modality order → [B, C, dim]. */
  forward(queries: Tensor, memories: readonly (DecoderMemory | null)[]): Tensor {
    if (memories.length !== this.modalities) {
      throw new RangeError(`CrossModalDecoderLayer: expected ${this.modalities} modalities, received ${memories.length}`);
    }
    let x = ops.add(queries, this.self_attn.forward(this.self_attn_layer_norm.forward(queries)));
    memories.forEach((mem, i) => {
      if (!mem) return; // the whole batch lacks this modality
      const attn = this.cross_attn.at(i).forward(this.cross_attn_layer_norm.at(i).forward(x), mem.rows, { sourceLayout: mem.layout });
      const missing = Array.from(mem.layout.lengths, (l) => (l > 0 ? 1 : 0));
      x = ops.add(x, missing.includes(0) ? ops.scaleRows(attn, missing) : attn);
    });
    return ops.add(x, this.mlp.forward(this.final_layer_norm.forward(x)));
  }
}

function checkPositive(cls: string, sizes: Record<string, number>): void {
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${cls}: expected ${k} to be a positive integer, received ${v}`);
  }
}
