// lib/model/merclip.ts — MER-CLIP (Song & Cho, WACV 2025), SPEC §1.
//
//   label encoder   e = CLIP_text(prompt(label)) · text_projection          [C, E]
//   queries         Q0 = e · W_qᵀ (label_proj)                              [C, d] → [B, C, d]
//   modality m      F_m = Enc_m(x_m W_mᵀ + pos_m) (pre-LN layers)          packed [T_m, d]
//   decoder         H = DecoderLayers(Q0, F_text, F_audio, F_vision)        [B, C, d]
//   prediction      logits = e^s · cos(H W_oᵀ, e)  (each query vs its own label)   [B, C]
//                   p = softmax(logits), ŷ = Σ_c p_c v_c
//   loss            L1(ŷ, y) + λ · CE(logits, class(y))
//
// Parameter names (PyTorch style, what save() writes): label_encoder.text_model.…,
// label_encoder.text_projection.weight, label_proj.*, encoders.<m>.input_proj.*,
// encoders.<m>.position_embedding, encoders.<m>.layers.N.…, encoders.<m>.norm.*,
// decoder.layers.N.{self_attn, cross_attn.i, …}, decoder.norm.*, output_proj.*, logit_scale;
// with CLIP sources (config.ts, towers.ts) also text_tower.text_model.… (text tower 'own') and
// vision_tower.{vision_model.…, visual_projection.weight}.
//
// Raw inputs: a batch may carry transcripts / frames (ModelBatch.raw, packed by packSamples);
// forward runs the CLIP towers on them first (towerRows, the code featurize() uses too) and the
// modality encoders read the towers' rows. CLIP weights come from an HF CLIP directory through
// MerClip.fromClip / loadClip (clipWeights.ts).
//
// Layout: a batch brings each modality as a PackedSequence (lib/tensor/packed.ts: the valid rows
// [T, D] of its samples with their offsets); the encoders run on those rows as they are — the
// attention kernels read them with the offsets — and the decoder attends to them: nothing is
// padded, nothing re-packed. A sample may lack a modality (length 0): its cross-attention step is
// skipped exactly (CrossModalDecoderLayer gates it).
//
// This class is the model: forward, loss, save, load. predict() / close() hand the work to a
// Predictor (predict.ts), which owns the worker thread; the worker builds its model with
// MerClip.fromWeights (no initialisation: every parameter bound to the shared weights).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { defaultTokenizer } from '../clip/assets.js';
import { LabelEncoder } from '../clip/labels.js';
import { Clip } from '../clip/model.js';
import { ClipTextTransformer } from '../clip/text.js';
import type { ClipTokenizer } from '../clip/tokenizer.js';
import { readSafetensors, type WritableTensor, writeFileAtomic, writeSafetensors } from '../io/index.js';
import { bindParameters, constantInit, CrossModalDecoderLayer, type DecoderMemory, LayerNorm, Linear, Module, ModuleList, normalInit, TransformerEncoderLayer, unbound } from '../nn/index.js';
import { type PackedSequence, type SequenceLayout, validatePacked } from '../tensor/packed.js';
import { inferenceStep, isGradEnabled, ops, Rng, type Tensor, wrap, zeros } from '../tensor/index.js';
import type { ModelBatch, Sample } from './batch.js';
import { type Modality, type MerClipConfig, sentimentClass, textClipSource, validateConfig, visionClipSource } from './config.js';
import { copyClipWeights } from './clipWeights.js';
import { encodeTranscripts, maybeNoGrad, mergeTowerRows, TextTower, VisionTower } from './towers.js';
import type { CloseResult } from './batcher.js';
import { type BatchingOptions, type Prediction, type PredictOptions, Predictor } from './predict.js';
import type { PredictorThread } from './predictorThread.js';

export type { ModelBatch } from './batch.js';

export interface ForwardResult {
  /** [B, C] e^s · cos */
  logits: Tensor;
  /** [B, C] softmax(logits) */
  probs: Tensor;
  /** [B] expected label value */
  score: Tensor;
}

/** The label set the prediction uses (the config's, or one given at inference). */
export interface LabelSet {
  labels: readonly string[];
  values: readonly number[];
}

/** Dropout while training: probability p, masks drawn from rng. */
interface Dropout {
  p: number;
  rng: Rng;
}

export interface ForwardOptions {
  /**
   * Training: apply config.dropout, masks drawn from this generator (train() seeds one per step
   * from (seed, step), so a resumed run draws the same masks). Absent: no dropout (inference).
   */
  dropoutRng?: Rng;
}

class ModalityEncoder extends Module {
  readonly input_proj: Linear;
  readonly position_embedding: Tensor;
  readonly layers: ModuleList<TransformerEncoderLayer>;
  readonly norm: LayerNorm;
  constructor(readonly name: Modality, readonly dim: number, readonly maxLength: number, c: MerClipConfig, rng: Rng) {
    super();
    this.input_proj = this.addModule('input_proj', new Linear(dim, c.width, rng));
    this.position_embedding = this.addParameter('position_embedding', normalInit(rng, maxLength * c.width, 0.02), [maxLength, c.width]);
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: c.encoderLayers }, () =>
      new TransformerEncoderLayer(c.width, c.heads, rng, { ffnDim: c.ffnMult * c.width, activation: 'gelu' }))));
    this.norm = this.addModule('norm', new LayerNorm(c.width));
  }
  /**
   * The valid tokens only (SPEC §7: padding is not work): the batch's rows [T, D] as they come
   * (no copy), every op on those T rows — the attention kernel too (per-sample offsets).
   */
  forward(seq: PackedSequence, batch: number, drop: Dropout | null = null, rows: Tensor | null = null): DecoderMemory {
    if (seq.dim !== this.dim) throw new RangeError(`MerClip: ${this.name} features have dim ${seq.dim}, the model expects ${this.dim}`);
    validatePacked(seq, batch, `MerClip ${this.name}`);
    const longest = seq.lengths.reduce((m, l) => Math.max(m, l), 0);
    if (longest > this.maxLength) throw new RangeError(`MerClip: ${this.name} sequences of length ${longest} exceed the model's maxLength ${this.maxLength}`);
    const layout: SequenceLayout = { lengths: seq.lengths, offsets: seq.offsets, maxLength: seq.maxLength };
    const x = rows ?? wrap(seq.rows, [seq.offsets[batch]!, seq.dim]);
    // in inference, every intermediate but the output goes back to the pool when this returns
    const out = inferenceStep(() => {
      let h = inferenceStep(() => ops.addPackedPositions(this.input_proj.forward(x), this.position_embedding, seq.lengths));
      if (drop) h = ops.dropout(h, drop.p, drop.rng);
      for (const layer of this.layers) h = layer.forward(h, { queryLayout: layout });
      const n = this.norm.forward(h);
      return drop ? ops.dropout(n, drop.p, drop.rng) : n;
    });
    return { rows: out, layout };
  }
}

class Decoder extends Module {
  readonly layers: ModuleList<CrossModalDecoderLayer>;
  readonly norm: LayerNorm;
  constructor(c: MerClipConfig, rng: Rng) {
    super();
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: c.decoderLayers }, () =>
      new CrossModalDecoderLayer(c.width, c.heads, c.modalityOrder.length, rng, { ffnDim: c.ffnMult * c.width, activation: 'gelu' }))));
    this.norm = this.addModule('norm', new LayerNorm(c.width));
  }
}

class LabelTower extends Module {
  readonly text_model: ClipTextTransformer;
  readonly text_projection: Linear;
  weightsVersion = 0;
  constructor(c: MerClipConfig, rng: Rng) {
    super();
    this.text_model = this.addModule('text_model', new ClipTextTransformer(c.clip.text_config, rng));
    this.text_projection = this.addModule('text_projection', new Linear(c.clip.text_config.hidden_size, c.clip.projection_dim, rng, { bias: false }));
  }
  override loadStateDict(...args: Parameters<Module['loadStateDict']>): void {
    super.loadStateDict(...args);
    this.weightsVersion++;
  }
}

export class MerClip extends Module {
  readonly config: MerClipConfig;
  readonly label_encoder: LabelTower;
  readonly label_proj: Linear;
  readonly encoders: Map<Modality, ModalityEncoder>;
  readonly decoder: Decoder;
  readonly output_proj: Linear;
  readonly logit_scale: Tensor;
  readonly labels: LabelEncoder;
  /** Text tower 'own' (source 'clip'); null otherwise. */
  readonly text_tower: TextTower | null = null;
  /** The vision tower (vision source 'clip'); null otherwise. */
  readonly vision_tower: VisionTower | null = null;
  private readonly predictor: Predictor;

  constructor(config: MerClipConfig, tokenizer: ClipTokenizer = defaultTokenizer(), opts: { seed?: number } = {}) {
    super();
    this.config = validateConfig(config);
    const c = this.config;
    const rng = new Rng(opts.seed ?? 0);
    const E = c.clip.projection_dim;
    this.label_encoder = this.addModule('label_encoder', new LabelTower(c, rng));
    this.label_proj = this.addModule('label_proj', new Linear(E, c.width, rng));
    const encoders = new Map<Modality, ModalityEncoder>();
    const holder = new EncoderSet();
    for (const m of c.modalityOrder) {
      const mc = c.modalities[m];
      encoders.set(m, holder.add(m, new ModalityEncoder(m, mc.dim, mc.maxLength, c, rng)));
    }
    this.addModule('encoders', holder);
    this.encoders = encoders;
    this.decoder = this.addModule('decoder', new Decoder(c, rng));
    this.output_proj = this.addModule('output_proj', new Linear(c.width, E, rng));
    this.logit_scale = this.addParameter('logit_scale', constantInit(1, c.logitScaleInit), []);
    this.labels = new LabelEncoder(this.label_encoder, tokenizer, c.template, { frozen: c.freezeLabelEncoder });
    if (c.freezeLabelEncoder) this.label_encoder.freeze();
    // the towers come last, so a model without them initialises exactly as before
    const text = textClipSource(c);
    if (text?.tower === 'own') {
      this.text_tower = this.addModule('text_tower', new TextTower(c.clip.text_config, rng));
      if (text.frozen) this.text_tower.freeze();
    }
    const vision = visionClipSource(c);
    if (vision) {
      this.vision_tower = this.addModule('vision_tower', new VisionTower(vision, rng));
      if (vision.frozen) this.vision_tower.freeze();
    }
    this.predictor = new Predictor(this);
  }

  /**
   * A model whose parameters ARE `weights` (name → array of the parameter's size; no copy): built
   * without initialising anything (nn's unbound()), then every parameter bound to its array.
   * What the predict() worker does with the main thread's shared weights.
   */
  static fromWeights(config: MerClipConfig, weights: ReadonlyMap<string, Float32Array>, tokenizer: ClipTokenizer = defaultTokenizer()): MerClip {
    const model = unbound(() => new MerClip(config, tokenizer));
    bindParameters(model, weights);
    return model;
  }

  override loadStateDict(...args: Parameters<Module['loadStateDict']>): void {
    super.loadStateDict(...args);
    this.label_encoder.weightsVersion++;
  }

  /**
   * A model whose CLIP parts come from a Hugging Face CLIP model (a directory in the
   * openai/clip-vit-base-patch32 layout, read with Clip.fromPretrained, or a loaded Clip): the
   * label encoder, the text tower 'own' and the vision tower (see loadClip); everything else is
   * initialised from `seed`. The tokenizer is the directory's (vocab.json + merges.txt) when it
   * has one. The config must match the checkpoint: build it with configFromClip.
   */
  static async fromClip(config: MerClipConfig, clip: string | Clip, opts: { tokenizer?: ClipTokenizer; seed?: number } = {}): Promise<MerClip> {
    const c = typeof clip === 'string' ? await Clip.fromPretrained(clip) : clip;
    const model = new MerClip(config, opts.tokenizer ?? c.tokenizer ?? defaultTokenizer(), opts.seed !== undefined ? { seed: opts.seed } : {});
    model.loadClip(c);
    return model;
  }

  /**
   * Copies a CLIP model's weights in: text_model + text_projection → the label encoder (and
   * text_model → text tower 'own'), vision_model + visual_projection → the vision tower. A
   * RangeError naming the first differing field when the architectures differ (nothing copied).
   */
  loadClip(clip: Clip): void {
    copyClipWeights(this, clip);
    this.labels.clear();
  }

  save(dir: string): Promise<void> {
    return saveModel(this, dir);
  }

  static load(dir: string, tokenizer?: ClipTokenizer): Promise<MerClip> {
    return loadModel(dir, tokenizer);
  }

  /**
   * Predictions for one sample or an array of samples, computed on a worker thread (the event
   * loop stays free; see predict.ts). `labels` (with `values` for a score) asks about another
   * label set without retraining.
   */
  predict(samples: Sample, opts?: PredictOptions): Promise<Prediction>;
  predict(samples: readonly Sample[], opts?: PredictOptions): Promise<Prediction[]>;
  predict(samples: Sample | readonly Sample[], opts: PredictOptions = {}): Promise<Prediction | Prediction[]> {
    return this.predictor.predict(samples, opts);
  }

  /**
   * Opt-in dynamic batching of concurrent predict() calls ({ maxBatchSize, maxDelayMs, maxQueue };
   * null turns it off): calls arriving while the worker is busy, or within maxDelayMs, run as one
   * batch and each caller gets its own results. Calls queued before the change are drained.
   */
  setBatching(opts: BatchingOptions | null): Promise<CloseResult | null> {
    return this.predictor.setBatching(opts);
  }

  /** How many samples wait in the dynamic batcher's queue (0 without batching). */
  get predictQueueDepth(): number {
    return this.predictor.batcher?.queueDepth ?? 0;
  }

  /**
   * Stops the predict() worker thread (it is also unref'd while idle, so it never keeps the
   * process alive). Calls still pending reject with a "closed" PredictWorkerError. The model stays
   * usable: a predict() after close() starts a fresh worker. With dynamic batching, queued calls
   * are run first (`drain: true`) or rejected with ERR_BATCHER_CLOSED (the default); the result
   * counts each (null without batching).
   */
  close(opts: { drain?: boolean } = {}): Promise<CloseResult | null> {
    return this.predictor.close(opts);
  }

  /**
   * Test hook (internal; not part of the API): the predict() thread (null before the first
   * predict()); the fault tests reach its worker through it (see predictorThread.ts).
   */
  _predictThread(): PredictorThread | null {
    return this.predictor.thread;
  }

  /** The config's label set. */
  get labelSet(): LabelSet {
    return { labels: this.config.labels, values: this.config.labelValues };
  }

  /**
   * Forward pass on a batch; on the tape unless called under noGrad. Dropout (config.dropout, with
   * opts.dropoutRng only) acts on each modality encoder's input embeddings and output features
   * and on the decoder's output — MulT's embedding and output dropout.
   */
  forward(batch: ModelBatch, labelSet: LabelSet = this.labelSet, labelEmbeddings?: Tensor, opts: ForwardOptions = {}): ForwardResult {
    const drop = opts.dropoutRng && this.config.dropout > 0 ? { p: this.config.dropout, rng: opts.dropoutRng } : null;
    const B = batch.count;
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`MerClip: batch.count must be a positive integer, received ${B}`);
    if (labelSet.values.length !== labelSet.labels.length) throw new RangeError(`MerClip: ${labelSet.labels.length} labels but ${labelSet.values.length} values`);
    const C = labelSet.labels.length;
    const e = labelEmbeddings ?? this.labels.encode(labelSet.labels); // [C, E]
    if (e.ndim !== 2 || e.dim(0) !== C) throw new RangeError(`MerClip: label embeddings ${e.toString()} do not match ${C} labels`);
    const q0 = this.label_proj.forward(e); // [C, d]
    const queries = ops.add(zeros([B, C, this.config.width]), q0); // broadcast over the batch
    const towers = this.towerRows(batch, this.config.modalityOrder);
    const encode = (m: Modality): DecoderMemory | null => {
      const input = batch[m];
      if (!input) return null; // the whole batch lacks m: skip the step
      if (input.lengths.length !== B) throw new RangeError(`MerClip: ${m} lengths has ${input.lengths.length} entries, expected ${B}`);
      if (!input.lengths.some((l) => l > 0)) return null;
      const tower = m === 'audio' ? undefined : towers[m];
      const rows = tower ? mergeTowerRows(tower, input.rows, input.offsets, batch.raw![m as 'text' | 'vision']!.lengths, input.dim) : null;
      return this.encoders.get(m)!.forward(input, B, drop, rows);
    };
    // The encoders are independent. In inference the longest modality goes first, so the shorter
    // ones reuse its pooled buffers (pool.ts) and the working set is one encoder's; in training
    // the order stays the config's (the dropout masks are drawn in that order).
    const order = this.config.modalityOrder.map((m, i) => ({ m, i, rows: batch[m]?.offsets[B] ?? 0 }));
    if (!isGradEnabled()) order.sort((a, b) => b.rows - a.rows || a.i - b.i);
    const memories: (DecoderMemory | null)[] = this.config.modalityOrder.map(() => null);
    for (const { m, i } of order) memories[i] = encode(m);
    let h = queries;
    for (const layer of this.decoder.layers) {
      const prev = h;
      h = inferenceStep(() => layer.forward(prev, memories));
    }
    h = this.decoder.norm.forward(h);
    if (drop) h = ops.dropout(h, drop.p, drop.rng);
    h = this.output_proj.forward(h); // [B, C, E]
    const logits = ops.mul(ops.cosinePaired(h, e), ops.exp(this.logit_scale));
    const probs = ops.softmax(logits);
    const values = zeros([C]);
    values.data.set(labelSet.values);
    const score = ops.sum(ops.mul(probs, values), -1);
    return { logits, probs, score };
  }

  /**
   * The CLIP towers' rows for a batch's raw inputs (batch.raw): text [Σ tokens, hidden_size],
   * vision [Σ frames, dim], each in the batch's sample order (raw samples only). Frozen towers
   * run under noGrad. What forward feeds the modality encoders, and what featurize() stores.
   */
  towerRows(batch: ModelBatch, only: readonly Modality[] = ['text', 'vision']): { text?: Tensor; vision?: Tensor } {
    const out: { text?: Tensor; vision?: Tensor } = {};
    const raw = batch.raw;
    if (!raw) return out;
    if (raw.text && only.includes('text')) {
      const t = textClipSource(this.config);
      if (!t) throw new RangeError('MerClip: the batch has raw text, but modalities.text.source is not "clip"');
      if (raw.text.lengths.length !== batch.count) throw new RangeError(`MerClip: raw text lengths has ${raw.text.lengths.length} entries, expected ${batch.count}`);
      const tower = t.tower === 'own' ? this.text_tower!.text_model : this.label_encoder.text_model;
      out.text = maybeNoGrad(t.frozen, () => encodeTranscripts(tower, raw.text!));
    }
    if (raw.vision && only.includes('vision')) {
      const v = visionClipSource(this.config);
      if (!v || !this.vision_tower) throw new RangeError('MerClip: the batch has raw frames, but modalities.vision.source is not "clip"');
      if (raw.vision.lengths.length !== batch.count) throw new RangeError(`MerClip: raw vision lengths has ${raw.vision.lengths.length} entries, expected ${batch.count}`);
      out.vision = maybeNoGrad(v.frozen, () => this.vision_tower!.encodeFrames(raw.vision!.frames));
    }
    return out;
  }

  /** L1(ŷ, y) + λ·CE(logits, class(y)); the class targets need the 7-level sentiment set. */
  loss(out: ForwardResult, labels: Float32Array): { loss: Tensor; l1: Tensor; ce: Tensor | null } {
    const B = out.score.size;
    if (labels.length !== B) throw new RangeError(`MerClip.loss: ${labels.length} labels for a batch of ${B}`);
    const l1 = ops.l1Loss(out.score, labels);
    if (this.config.lambda === 0) return { loss: l1, l1, ce: null };
    if (out.logits.dim(1) !== 7) throw new RangeError('MerClip.loss: the cross-entropy term needs the 7 sentiment classes (set lambda to 0 for other label sets)');
    const targets = Int32Array.from(labels, sentimentClass);
    const ce = ops.crossEntropy(out.logits, targets);
    return { loss: ops.add(l1, ops.scale(ce, this.config.lambda)), l1, ce };
  }
}

export class ModelFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFileError';
  }
}

/** Tensors of a model's parameters under their PyTorch names. */
export function weightTensors(model: Module): Map<string, WritableTensor> {
  const out = new Map<string, WritableTensor>();
  for (const [name, p] of model.namedParameters()) out.set(name, { dtype: 'F32', shape: p.shape, data: p.data });
  return out;
}

/**
 * Writes `dir/config.json` and `dir/model.safetensors` (PyTorch-style names, [out, in] Linear
 * weights). Each file is written atomically (io/atomic.ts).
 */
export async function saveModel(model: MerClip, dir: string, metadata: Record<string, string> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeSafetensors(join(dir, 'model.safetensors'), weightTensors(model), { format: 'pt', 'merclip.config': JSON.stringify(model.config), ...metadata });
  await writeFileAtomic(join(dir, 'config.json'), JSON.stringify(model.config, null, 2) + '\n');
}

/** Reads a model directory written by saveModel (errors name the file and the problem). */
export async function loadModel(dir: string, tokenizer: ClipTokenizer = defaultTokenizer()): Promise<MerClip> {
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  for (const p of [configPath, weightsPath]) if (!existsSync(p)) throw new ModelFileError(`${p}: not found (a model directory holds config.json and model.safetensors)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new ModelFileError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const config = validateConfig(raw as MerClipConfig, configPath);
  const model = new MerClip(config, tokenizer);
  const { tensors } = await readSafetensors(weightsPath);
  const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (!(t.data instanceof Float32Array)) throw new ModelFileError(`${weightsPath}: tensor "${name}" has dtype ${t.dtype}; weights must be floating point`);
    weights.set(name, { shape: t.shape, data: t.data });
  }
  model.loadStateDict(weights, { source: weightsPath });
  return model;
}

/** encoders.<modality> */
class EncoderSet extends Module {
  add(name: Modality, m: ModalityEncoder): ModalityEncoder {
    return this.addModule(name, m);
  }
}
