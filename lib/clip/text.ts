// lib/clip/text.ts — the CLIP text transformer, Hugging Face semantics and weight names
// (CLIPTextTransformer: `text_model.` + the names below).
//
// ids [B, L] → token + position embeddings → causal pre-LN encoder layers (quick-GELU for the
// OpenAI checkpoints) → final_layer_norm → pooled output at the end-of-text token. Pooling as HF
// does it: when the config's eos_token_id is 2 (the legacy value openai/clip-vit-base-patch32
// ships) the position of the highest id in each row (the first one, as torch.argmax), otherwise
// the first position holding eos_token_id.
//
// Causality: position i sees positions 0…i only, so nothing after a row's end token can change
// its pooled output — callers may cut a batch to its longest row (the label encoder does).

import { Embedding, LayerNorm, Module, ModuleList, TransformerEncoderLayer, activationOf } from '../nn/index.js';
import { type Rng, ops, type Tensor } from '../tensor/index.js';
import type { SequenceLayout } from '../tensor/packed.js';

/** HF's text_config fields (snake_case, as config.json writes them). */
export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: string;
  layer_norm_eps: number;
  eos_token_id: number;
}

export const CLIP_TEXT_DEFAULTS: ClipTextConfig = {
  vocab_size: 49408,
  hidden_size: 512,
  intermediate_size: 2048,
  num_hidden_layers: 12,
  num_attention_heads: 8,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
  eos_token_id: 2,
};

class TextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;
  constructor(c: ClipTextConfig, rng: Rng) {
    super();
    this.token_embedding = this.addModule('token_embedding', new Embedding(c.vocab_size, c.hidden_size, rng, { std: 0.02 }));
    this.position_embedding = this.addModule('position_embedding', new Embedding(c.max_position_embeddings, c.hidden_size, rng, { std: 0.01 }));
  }
}

class Encoder extends Module {
  readonly layers: ModuleList<TransformerEncoderLayer>;
  constructor(c: ClipTextConfig, rng: Rng) {
    super();
    const activation = activationOf(c.hidden_act);
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: c.num_hidden_layers }, () =>
      new TransformerEncoderLayer(c.hidden_size, c.num_attention_heads, rng, { ffnDim: c.intermediate_size, activation, eps: c.layer_norm_eps }))));
  }
}

export interface TextTowerOutput {
  /** [B, L, D] after final_layer_norm */
  lastHiddenState: Tensor;
  /** [B, D] the hidden state at each row's end-of-text token */
  pooled: Tensor;
}

export class ClipTextTransformer extends Module {
  readonly config: ClipTextConfig;
  readonly embeddings: TextEmbeddings;
  readonly encoder: Encoder;
  readonly final_layer_norm: LayerNorm;

  constructor(config: Partial<ClipTextConfig>, rng: Rng) {
    super();
    const c = { ...CLIP_TEXT_DEFAULTS, ...config };
    for (const k of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings'] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) throw new RangeError(`ClipTextTransformer: expected text_config.${k} to be a positive integer, received ${String(c[k])}`);
    }
    if (c.hidden_size % c.num_attention_heads !== 0) {
      throw new RangeError(`ClipTextTransformer: hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
    }
    this.config = c;
    this.embeddings = this.addModule('embeddings', new TextEmbeddings(c, rng));
    this.encoder = this.addModule('encoder', new Encoder(c, rng));
    this.final_layer_norm = this.addModule('final_layer_norm', new LayerNorm(c.hidden_size, c.layer_norm_eps));
  }

  /** The pooling position of each row (see the file header). */
  eosPositions(ids: Int32Array, batch: number, length: number): Int32Array {
    const pos = new Int32Array(batch);
    const eos = this.config.eos_token_id;
    for (let b = 0; b < batch; b++) {
      const row = ids.subarray(b * length, (b + 1) * length);
      let at = -1;
      if (eos === 2) {
        let best = -Infinity;
        row.forEach((id, i) => {
          if (id > best) {
            best = id;
            at = i;
          }
        });
      } else {
        at = row.indexOf(eos);
        if (at < 0) throw new RangeError(`ClipTextTransformer: row ${b} has no end-of-text token (id ${eos})`);
      }
      pos[b] = at;
    }
    return pos;
  }

  /**
   * ids [batch, length] (Int32Array, row-major) → hidden states and pooled output. `lengths`
   * optionally masks padding keys per row (HF's attention_mask); with causal attention it changes
   * nothing for positions before a row's end token.
   */
  forward(ids: Int32Array, batch: number, length: number, opts: { lengths?: Int32Array | null } = {}): TextTowerOutput {
    let h = this.embed(ids, batch, length);
    for (const layer of this.encoder.layers) h = layer.forward(h, { causal: true, keyLengths: opts.lengths ?? null });
    const last = this.final_layer_norm.forward(h);
    return { lastHiddenState: last, pooled: ops.gatherSeq(last, this.eosPositions(ids, batch, length)) };
  }

  /**
   * Hidden states after final_layer_norm for packed token rows: `ids` [T] holds each sample's
   * tokens one after the other (layout.offsets), positions restart at 0 in every sample; causal
   * attention within each sample, no padding anywhere → [T, D]. Row for row the same numbers as
   * forward().lastHiddenState's valid positions (the tower is causal).
   */
  hiddenStatesPacked(ids: Int32Array, layout: SequenceLayout): Tensor {
    const c = this.config;
    const B = layout.lengths.length;
    const T = layout.offsets[B]!;
    if (ids.length !== T || T < 1) throw new RangeError(`ClipTextTransformer: ids has ${ids.length} entries, the layout ${T} rows (≥ 1)`);
    const pos = new Int32Array(T);
    for (let b = 0; b < B; b++) {
      const L = layout.lengths[b]!;
      if (L > c.max_position_embeddings) throw new RangeError(`ClipTextTransformer: sample ${b} has ${L} tokens, more than max_position_embeddings ${c.max_position_embeddings}`);
      for (let l = 0; l < L; l++) pos[layout.offsets[b]! + l] = l;
    }
    for (let t = 0; t < T; t++) {
      if (!(ids[t]! >= 0 && ids[t]! < c.vocab_size)) throw new RangeError(`ClipTextTransformer: token id ${ids[t]} at row ${t} is outside the vocabulary [0, ${c.vocab_size})`);
    }
    let h = ops.add(this.embeddings.token_embedding.forward(ids, [T]), this.embeddings.position_embedding.forward(pos, [T]));
    for (const layer of this.encoder.layers) h = layer.forward(h, { queryLayout: layout, causal: true });
    return this.final_layer_norm.forward(h);
  }

  /**
   * Only the pooled output [batch, D] — what label embeddings need, for less work: the last layer
   * computes its attention, MLP and the final LayerNorm for the end-of-text rows alone (their
   * keys and values still come from every position up to the end token). Same numbers as
   * forward().pooled up to rounding.
   */
  pooled(ids: Int32Array, batch: number, length: number): Tensor {
    const layers = this.encoder.layers;
    let h = this.embed(ids, batch, length);
    for (let i = 0; i < layers.length - 1; i++) h = layers.at(i).forward(h, { causal: true });
    const last = layers.at(layers.length - 1);
    const eos = this.eosPositions(ids, batch, length);
    const a = last.layer_norm1.forward(h);
    const d = this.config.hidden_size;
    // the end-of-text query of each row sees keys 0 … eos (causal)
    const q = ops.gatherSeq(a, eos).reshape([batch, 1, d]);
    const attn = last.self_attn.forward(q, a, { keyLengths: eos.map((p) => p + 1) });
    const x = ops.add(ops.gatherSeq(h, eos), attn.reshape([batch, d]));
    const y = ops.add(x, last.mlp.forward(last.layer_norm2.forward(x)));
    return this.final_layer_norm.forward(y);
  }

  /**
   * pooled() for a batch of prompts that share a prefix (label prompts: "a person feeling …"):
   * the tower is causal, so the shared prefix has the same hidden states in every row — each
   * per-token op (projections, MLP, LayerNorm) runs once on the unique rows (the prefix once,
   * then each row's own tokens up to its end token), and only the attention kernel sees the
   * [batch, length] layout. Same numbers as forward().pooled up to rounding; falls back to the
   * pooled() (the last layer on the end-of-text rows only) when nothing is shared.
   */
  pooledShared(ids: Int32Array, batch: number, length: number): Tensor {
    const eos = this.eosPositions(ids, batch, length);
    let prefix = 0; // positions identical in every row, before any row's end token
    const minEos = Math.min(...eos);
    while (prefix < minEos && Array.from({ length: batch }, (_, b) => ids[b * length + prefix]).every((v) => v === ids[prefix])) prefix++;
    if (batch < 2 || prefix === 0) return this.pooled(ids, batch, length);
    // unique rows: the prefix (from row 0), then each row's positions prefix … eos
    const rep: number[] = []; // full-layout row (b·L + l) of each unique row
    const full = new Int32Array(batch * length); // unique row that position (b, l) reads
    for (let l = 0; l < prefix; l++) rep.push(l);
    const eosUnique = new Int32Array(batch);
    for (let b = 0; b < batch; b++) {
      for (let l = 0; l < length; l++) {
        if (l < prefix) full[b * length + l] = l;
        else if (l <= eos[b]!) {
          full[b * length + l] = rep.length;
          if (l === eos[b]) eosUnique[b] = rep.length;
          rep.push(b * length + l);
        } else full[b * length + l] = full[b * length + eos[b]!]!; // after the end token: never seen by a kept row
      }
    }
    const repIdx = Int32Array.from(rep);
    const d = this.config.hidden_size;
    const all = this.embed(ids, batch, length).reshape([batch * length, d]);
    let u = ops.gatherRows(all, repIdx); // [U, d]
    for (const layer of this.encoder.layers) {
      const a = layer.layer_norm1.forward(u);
      const att = layer.self_attn;
      // the [batch·length, d] rows of every row's positions, uniform offsets (one sample per row)
      const rows = (t: Tensor): Tensor => ops.gatherRows(t, full);
      const cu = ops.uniformOffsets(batch, length);
      const o = ops.attention(rows(att.q_proj.forward(a)), rows(att.k_proj.forward(a)), rows(att.v_proj.forward(a)), { heads: att.heads, cuSeqlensQ: cu, cuSeqlensK: cu, causal: true });
      const h = ops.add(u, att.out_proj.forward(ops.gatherRows(o, repIdx)));
      u = ops.add(h, layer.mlp.forward(layer.layer_norm2.forward(h)));
    }
    return this.final_layer_norm.forward(ops.gatherRows(u, eosUnique));
  }

  private embed(ids: Int32Array, batch: number, length: number): Tensor {
    const c = this.config;
    if (!Number.isInteger(batch) || !Number.isInteger(length) || batch < 1 || length < 1 || ids.length !== batch * length) {
      throw new RangeError(`ClipTextTransformer: ids has ${ids.length} entries, expected batch·length = ${batch}·${length}`);
    }
    if (length > c.max_position_embeddings) {
      throw new RangeError(`ClipTextTransformer: sequence length ${length} exceeds max_position_embeddings ${c.max_position_embeddings}`);
    }
    const tok = this.embeddings.token_embedding.forward(ids, [batch, length]);
    return ops.add(tok, ops.slice(this.embeddings.position_embedding.weight, 0, 0, length));
  }
}
