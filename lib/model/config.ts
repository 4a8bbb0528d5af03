// lib/model/config.ts — MER-CLIP's configuration (SPEC §1): everything that differs between
// models is here, not in code — modality order, sizes, the label set and its values, the prompt
// template, the label encoder (a CLIP text tower, frozen or fine-tuned) and λ.
//
// Presets: `tiny` (width 64, one head, 2 decoder layers, a 2-layer width-64 CLIP text tower over the real
// 49,408-token vocabulary) for tests and the demo; `paper` (d 512, 8 heads, 1 encoder layer per
// modality, 2 decoder layers, the ViT-B/32 CLIP text tower: width 512, 12 layers, 8 heads).

import { CLIP_TEXT_DEFAULTS, type ClipTextConfig } from '../clip/text.js';
import { MODALITIES, type Modality } from '../data/batch.js';

export { MODALITIES, type Modality };

export interface ModalityConfig {
  /** Feature dimension D_m. */
  dim: number;
  /** Longest sequence accepted (learned positions). */
  maxLength: number;
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
  if (typeof c.clip !== 'object' || c.clip === null || typeof c.clip.text_config !== 'object') bad('clip', 'must hold text_config and projection_dim');
  posInt('clip.projection_dim', c.clip.projection_dim);
  if (typeof c.freezeLabelEncoder !== 'boolean') bad('freezeLabelEncoder', 'must be a boolean');
  return c;
}

/** The class index of a sentiment label y: round-half-even of clip(y, −3, 3), shifted to 0…6. */
export function sentimentClass(y: number): number {
  const c = Math.min(3, Math.max(-3, y));
  const r = Math.round(c);
  const half = Math.abs(c % 1) === 0.5;
  return (half ? 2 * Math.round(c / 2) : r) + 3;
}
