// lib/model/config.ts — MER-CLIP's configuration (SPEC §1): everything that differs between
// models is here, not in code — modality order, sizes, the label set and its values, the prompt
// template, the label encoder (a CLIP text tower, frozen or fine-tuned) and λ.
//
// Presets: `tiny` (width 64, one head, 2 decoder layers, a 2-layer width-64 CLIP text tower over the real
// 49,408-token vocabulary) for tests and the demo; `paper` (d 512, 8 heads, 1 encoder layer per
// modality, 2 decoder layers, the ViT-B/32 CLIP text tower: width 512, 12 layers, 8 heads).

import { CLIP_TEXT_DEFAULTS, type ClipTextConfig } from '../clip/text.js';
import { type ClipVisionConfig, resolveClipVisionConfig } from '../clip/vision.js';
import { MODALITIES, type Modality } from '../data/batch.js';
import { LOGMEL_BINS } from '../kernels/logmel.js';

export { MODALITIES, type Modality };

/**
 * Where a modality's features come from. 'features' (the default): the sample brings them
 * ([L, dim] arrays). 'clip': the model computes them from raw inputs with a CLIP tower (text: a
 * transcript string → the text tower's hidden states; vision: frames → one CLIP image embedding
 * per frame); such a modality also accepts precomputed features of its dim (an extracted
 * dataset). 'logmel' (audio only): a .wav path, WAV bytes or { waveform, sampleRate } becomes
 * the 80-bin log-mel frames of lib/audio (10 ms hop, 16 kHz) before packing (decode.ts); dim is 80.
 */
export type ModalitySource = 'features' | 'clip' | 'logmel';

/** text with source 'clip': which CLIP text tower encodes the transcript. */
export interface TextClipOptions {
  /**
   * 'label' (default): the label encoder's tower (shared weights; frozen with it); 'own': a
   * separate copy (parameters text_tower.text_model.*, the same text_config as config.clip).
   */
  tower?: 'label' | 'own';
  /**
   * Default true: the tower runs without gradients. false: it trains with the model (for
   * tower 'label' this needs freezeLabelEncoder false too — the weights are the label encoder's).
   */
  frozen?: boolean;
  /**
   * Default true: a transcript with more tokens than maxLength is cut to maxLength tokens, the
   * end-of-text token kept last (as clip.tokenize(truncate=True)); false: a RangeError.
   */
  truncate?: boolean;
}

/** vision with source 'clip': the model's own CLIP vision tower (vision_tower.*). */
export interface VisionClipOptions {
  /** HF CLIPVisionConfig (config.json's vision_config). */
  vision_config: ClipVisionConfig;
  /** Width of visual_projection (default config.clip.projection_dim). */
  projection_dim?: number;
  /** 'projected' (default): visual_projection(pooled); 'pooled': post-LN CLS token, before the projection. */
  embedding?: 'projected' | 'pooled';
  /** Default true (no gradients into the tower). */
  frozen?: boolean;
  /** Frames per tower call (default 64): bounds the preprocessed pixels held at once. */
  batchSize?: number;
}

export interface ModalityConfig {
  /** Feature dimension D_m (for a 'clip' source: the tower's, see withClipSources). */
  dim: number;
  /** Longest sequence accepted (learned positions); text 'clip': tokens incl. start and end (≤ the context length). */
  maxLength: number;
  /** Default 'features'. */
  source?: ModalitySource;
  /** For source 'clip': TextClipOptions (text) or VisionClipOptions (vision). */
  clip?: TextClipOptions | VisionClipOptions;
}

export interface MerClipConfig {
  /** Free-form name (the preset's, by default). */
  name: string;
  modalities: Record<Modality, ModalityConfig>;
  /** Cross-attention order in the decoder (a permutation of a subset of the modalities). */
  modalityOrder: Modality[];
  /** Model width d. */
  width: number;
  heads: number;
  /** Encoder layers per modality. */
  encoderLayers: number;
  decoderLayers: number;
  /** FFN hidden width = ffnMult · width. */
  ffnMult: number;
  dropout: number;
  /** The label set, its regression values and the prompt template. */
  labels: string[];
  labelValues: number[];
  template: string;
  /** The CLIP text tower that encodes labels. */
  clip: { text_config: ClipTextConfig; projection_dim: number };
  freezeLabelEncoder: boolean;
  /** Weight of the cross-entropy term: loss = L1 + λ·CE. */
  lambda: number;
  /** Initial logit scale s (logits = e^s · cos); CLIP's ln(1/0.07). */
  logitScaleInit: number;
}

export const SENTIMENT_LABELS = ['highly negative', 'negative', 'weakly negative', 'neutral', 'weakly positive', 'positive', 'highly positive'];
export const SENTIMENT_VALUES = [-3, -2, -1, 0, 1, 2, 3];

const MOSI_MODALITIES: Record<Modality, ModalityConfig> = {
  text: { dim: 768, maxLength: 50 },
  audio: { dim: 5, maxLength: 375 },
  vision: { dim: 20, maxLength: 500 },
};

export const PRESETS: Record<'tiny' | 'paper', MerClipConfig> = {
  tiny: {
    name: 'tiny',
    modalities: MOSI_MODALITIES,
    modalityOrder: [...MODALITIES],
    width: 64,
    // one 64-wide head: the fused attention kernel is several times faster at head dim 64 than
    // at 16, and the demo must train in about a minute on two cores
    heads: 1,
    encoderLayers: 1,
    decoderLayers: 2,
    ffnMult: 4,
    dropout: 0,
    labels: SENTIMENT_LABELS,
    labelValues: SENTIMENT_VALUES,
    template: 'a person feeling {label}',
    clip: {
      text_config: { ...CLIP_TEXT_DEFAULTS, hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 4 },
      projection_dim: 64,
    },
    freezeLabelEncoder: true,
    lambda: 0.5,
    logitScaleInit: Math.log(1 / 0.07),
  },
  paper: {
    name: 'paper',
    modalities: MOSI_MODALITIES,
    modalityOrder: [...MODALITIES],
    width: 512,
    heads: 8,
    encoderLayers: 1,
    decoderLayers: 2,
    ffnMult: 4,
    dropout: 0.1,
    labels: SENTIMENT_LABELS,
    labelValues: SENTIMENT_VALUES,
    template: 'a person feeling {label}',
    clip: { text_config: { ...CLIP_TEXT_DEFAULTS }, projection_dim: 512 },
    freezeLabelEncoder: true,
    lambda: 0.5,
    logitScaleInit: Math.log(1 / 0.07),
  },
};

/** A preset (deep copy) with overrides applied. */
export function makeConfig(preset: 'tiny' | 'paper', overrides: Partial<MerClipConfig> = {}): MerClipConfig {
  const base = JSON.parse(JSON.stringify(PRESETS[preset])) as MerClipConfig;
  return validateConfig({ ...base, ...overrides });
}

/** Checks a config (e.g. read from config.json); throws a RangeError naming the field. */
export function validateConfig(c: MerClipConfig, source = 'config'): MerClipConfig {
  const bad = (field: string, msg: string): never => {
    throw new RangeError(`${source}: ${field} ${msg}`);
  };
  const posInt = (field: string, v: unknown): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(field, `must be a positive integer, received ${JSON.stringify(v)}`);
  };
  if (typeof c !== 'object' || c === null) bad('(root)', 'must be an object');
  for (const f of ['width', 'heads', 'encoderLayers', 'decoderLayers', 'ffnMult'] as const) posInt(f, c[f]);
  if (c.width % c.heads !== 0) bad('width', `${c.width} is not divisible by heads ${c.heads}`);
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) bad('dropout', `must be in [0, 1), received ${JSON.stringify(c.dropout)}`);
  if (typeof c.lambda !== 'number' || !(c.lambda >= 0) || !Number.isFinite(c.lambda)) bad('lambda', `must be a finite number ≥ 0, received ${JSON.stringify(c.lambda)}`);
  if (typeof c.logitScaleInit !== 'number' || !Number.isFinite(c.logitScaleInit)) bad('logitScaleInit', 'must be a finite number');
  if (typeof c.modalities !== 'object' || c.modalities === null) bad('modalities', 'must be an object');
  for (const m of MODALITIES) {
    const mc = c.modalities[m];
    if (!mc) bad(`modalities.${m}`, 'is missing');
    posInt(`modalities.${m}.dim`, mc.dim);
    posInt(`modalities.${m}.maxLength`, mc.maxLength);
  }
  if (typeof c.clip !== 'object' || c.clip === null || typeof c.clip.text_config !== 'object') bad('clip', 'must hold text_config and projection_dim');
  posInt('clip.projection_dim', c.clip.projection_dim);
  if (typeof c.freezeLabelEncoder !== 'boolean') bad('freezeLabelEncoder', 'must be a boolean');
  validateSources(c, bad);
  if (!Array.isArray(c.modalityOrder) || c.modalityOrder.length === 0) bad('modalityOrder', 'must list at least one modality');
  const seen = new Set<string>();
  for (const m of c.modalityOrder) {
    if (!MODALITIES.includes(m)) bad('modalityOrder', `has unknown modality ${JSON.stringify(m)} (expected text, audio or vision)`);
    if (seen.has(m)) bad('modalityOrder', `lists ${m} twice`);
    seen.add(m);
  }
  if (!Array.isArray(c.labels) || c.labels.length < 2 || c.labels.some((l) => typeof l !== 'string' || !l.trim())) bad('labels', 'must be at least two non-empty strings');
  if (!Array.isArray(c.labelValues) || c.labelValues.length !== c.labels.length || c.labelValues.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    bad('labelValues', `must be ${c.labels.length} finite numbers (one per label)`);
  }
  if (typeof c.template !== 'string' || !c.template.includes('{label}')) bad('template', 'must contain {label}');
  return c;
}

/** The resolved options of a 'clip' text source (null: text is not a 'clip' source). */
export function textClipSource(c: MerClipConfig): Required<TextClipOptions> | null {
  const mc = c.modalities.text;
  if (mc.source !== 'clip') return null;
  const o = (mc.clip ?? {}) as TextClipOptions;
  return { tower: o.tower ?? 'label', frozen: o.frozen ?? true, truncate: o.truncate ?? true };
}

/** The resolved options of a 'clip' vision source (null: vision is not a 'clip' source). */
export function visionClipSource(c: MerClipConfig): Required<VisionClipOptions> | null {
  const mc = c.modalities.vision;
  if (mc.source !== 'clip') return null;
  const o = mc.clip as VisionClipOptions;
  return {
    vision_config: resolveClipVisionConfig(o.vision_config),
    projection_dim: o.projection_dim ?? c.clip.projection_dim,
    embedding: o.embedding ?? 'projected',
    frozen: o.frozen ?? true,
    batchSize: o.batchSize ?? 64,
  };
}

/** The feature width a 'clip' source produces: text hidden_size; vision projection_dim or hidden_size. */
export function clipSourceDim(c: MerClipConfig, m: 'text' | 'vision'): number {
  if (m === 'text') return c.clip.text_config.hidden_size;
  const v = visionClipSource(c);
  if (!v) throw new RangeError('clipSourceDim: vision is not a clip source');
  return v.embedding === 'pooled' ? v.vision_config.hidden_size : v.projection_dim;
}

/**
 * A copy of `c` with text and/or vision switched to source 'clip', dims filled from the towers
 * (text: clip.text_config.hidden_size; vision: projection_dim or hidden_size) and maxLength
 * defaulted (text: the context length; vision: kept). Validated.
 */
export function withClipSources(c: MerClipConfig, sources: { text?: (TextClipOptions & { maxLength?: number }) | true; vision?: (VisionClipOptions & { maxLength?: number }) }): MerClipConfig {
  const out = JSON.parse(JSON.stringify(c)) as MerClipConfig;
  if (sources.text) {
    const { maxLength, ...clip } = sources.text === true ? {} : sources.text;
    const ctx = out.clip.text_config.max_position_embeddings;
    out.modalities.text = { dim: out.clip.text_config.hidden_size, maxLength: maxLength ?? ctx, source: 'clip', clip };
  }
  if (sources.vision) {
    const { maxLength, ...clip } = sources.vision;
    out.modalities.vision = { ...out.modalities.vision, maxLength: maxLength ?? out.modalities.vision.maxLength, source: 'clip', clip };
    out.modalities.vision.dim = clipSourceDim(out, 'vision');
  }
  return validateConfig(out);
}

/**
 * A copy of `c` whose audio is raw: source 'logmel' (dim 80; maxLength in 10 ms frames, default
 * 3000 = 30 s).
 */
export function withLogMelAudio(c: MerClipConfig, opts: { maxLength?: number } = {}): MerClipConfig {
  const out = JSON.parse(JSON.stringify(c)) as MerClipConfig;
  out.modalities.audio = { dim: LOGMEL_BINS, maxLength: opts.maxLength ?? 3000, source: 'logmel' };
  return validateConfig(out);
}

/** Checks each modality's source and its options (bad() throws a RangeError naming the field). */
function validateSources(c: MerClipConfig, bad: (field: string, msg: string) => never): void {
  for (const m of MODALITIES) {
    const mc = c.modalities[m];
    const f = `modalities.${m}`;
    const src = mc.source ?? 'features';
    if (src !== 'features' && src !== 'clip' && src !== 'logmel') bad(`${f}.source`, `must be "features", "clip" or "logmel", received ${JSON.stringify(mc.source)}`);
    if (src !== 'clip' && mc.clip !== undefined) bad(`${f}.clip`, 'is only read with source "clip"');
    if (src === 'features') continue;
    if (src === 'logmel') {
      if (m !== 'audio') bad(`${f}.source`, '"logmel" is for audio (the log-mel front end of lib/audio)');
      if (mc.dim !== LOGMEL_BINS) bad(`${f}.dim`, `must be ${LOGMEL_BINS} (the log-mel bins) with source "logmel", received ${mc.dim}`);
      continue;
    }
    if (m === 'audio') bad(`${f}.source`, '"clip" is for text and vision (audio has no CLIP tower)');
    if (mc.clip !== undefined && (typeof mc.clip !== 'object' || mc.clip === null || Array.isArray(mc.clip))) bad(`${f}.clip`, 'must be an object');
    if (m === 'text') {
      const o = (mc.clip ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!['tower', 'frozen', 'truncate'].includes(k)) bad(`${f}.clip.${k}`, 'is not a text option (tower, frozen, truncate)');
      if (o.tower !== undefined && o.tower !== 'label' && o.tower !== 'own') bad(`${f}.clip.tower`, `must be "label" or "own", received ${JSON.stringify(o.tower)}`);
      for (const k of ['frozen', 'truncate']) if (o[k] !== undefined && typeof o[k] !== 'boolean') bad(`${f}.clip.${k}`, 'must be a boolean');
      const t = textClipSource(c)!;
      const tc = c.clip.text_config;
      if (mc.dim !== tc.hidden_size) bad(`${f}.dim`, `must equal the CLIP text tower's hidden_size ${tc.hidden_size} (source "clip"), received ${mc.dim}`);
      if (mc.maxLength > tc.max_position_embeddings) bad(`${f}.maxLength`, `${mc.maxLength} exceeds the CLIP text tower's context length ${tc.max_position_embeddings}`);
      if (mc.maxLength < 2) bad(`${f}.maxLength`, 'must be ≥ 2 with source "clip" (room for the start and end tokens)');
      if (t.tower === 'label' && !t.frozen && c.freezeLabelEncoder) {
        bad(`${f}.clip.frozen`, 'is false, but tower "label" shares the label encoder\'s weights and freezeLabelEncoder is true; set freezeLabelEncoder false too, or use tower "own"');
      }
    } else {
      const o = mc.clip as unknown as Record<string, unknown> | undefined;
      if (!o || o.vision_config === undefined) bad(`${f}.clip.vision_config`, 'is required with source "clip" (the vision tower\'s HF CLIPVisionConfig)');
      for (const k of Object.keys(o)) if (!['vision_config', 'projection_dim', 'embedding', 'frozen', 'batchSize'].includes(k)) bad(`${f}.clip.${k}`, 'is not a vision option (vision_config, projection_dim, embedding, frozen, batchSize)');
      try {
        resolveClipVisionConfig(o.vision_config, { source: `${f}.clip.vision_config` });
      } catch (e) {
        bad(`${f}.clip.vision_config`, `is invalid: ${(e as Error).message}`);
      }
      for (const k of ['projection_dim', 'batchSize']) {
        const v = o[k];
        if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) bad(`${f}.clip.${k}`, `must be a positive integer, received ${JSON.stringify(v)}`);
      }
      if (o.embedding !== undefined && o.embedding !== 'projected' && o.embedding !== 'pooled') bad(`${f}.clip.embedding`, `must be "projected" or "pooled", received ${JSON.stringify(o.embedding)}`);
      if (o.frozen !== undefined && typeof o.frozen !== 'boolean') bad(`${f}.clip.frozen`, 'must be a boolean');
      const want = clipSourceDim(c, 'vision');
      const v = visionClipSource(c)!;
      if (mc.dim !== want) {
        bad(`${f}.dim`, `must equal the vision tower's ${v.embedding === 'pooled' ? 'hidden_size' : 'projection_dim'} ${want} (source "clip", embedding "${v.embedding}"), received ${mc.dim}`);
      }
    }
  }
}

/** The class index of a sentiment label y: round-half-even of clip(y, −3, 3), shifted to 0…6. */
export function sentimentClass(y: number): number {
  const c = Math.min(3, Math.max(-3, y));
  const r = Math.round(c);
  const half = Math.abs(c % 1) === 0.5;
  return (half ? 2 * Math.round(c / 2) : r) + 3;
}
