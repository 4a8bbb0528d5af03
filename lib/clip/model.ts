// lib/clip/model.ts — CLIP as Hugging Face lays it out (CLIPModel): text_model, vision_model,
// text_projection, visual_projection, logit_scale; loaded from / saved to an HF directory
// (config.json, model.safetensors, vocab.json, merges.txt).
//
// Weight names are HF's, so openai/clip-vit-base-patch32's model.safetensors loads as is. Legacy
// `position_ids` buffers in a checkpoint are ignored. Loading checks everything (missing,
// misshaped, unexpected weights; a bad config) before a single weight is copied, and every error
// names the file. A checkpoint without vision weights (text-only use, as MER-CLIP's label
// encoder needs) loads as text-only even when config.json describes a vision tower.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { readSafetensors, type WritableTensor, writeFileAtomicSync, writeSafetensors } from '../io/index.js';
import { Linear, Module } from '../nn/index.js';
import { Rng, type Tensor } from '../tensor/index.js';
import { CLIP_TEXT_DEFAULTS, ClipTextTransformer, type ClipTextConfig } from './text.js';
import { ClipTokenizer } from './tokenizer.js';
import { ClipVisionTransformer, type ClipVisionConfig, resolveClipVisionConfig } from './vision.js';

export interface ClipConfig {
  text_config: ClipTextConfig;
  /** Absent: a text-only model. */
  vision_config?: ClipVisionConfig | undefined;
  projection_dim: number;
  logit_scale_init_value: number;
}

const LEGACY_BUFFERS = /(^|\.)position_ids$/;

export class ClipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClipError';
  }
}

/** Parses an HF CLIPConfig object (config.json), filling HF's defaults; errors name `source`. */
export function parseClipConfig(raw: unknown, source = 'config.json'): ClipConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ClipError(`${source}: expected a JSON object`);
  const r = raw as Record<string, unknown>;
  const obj = (k: string): Record<string, unknown> | undefined => {
    const v = r[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ClipError(`${source}: ${k} must be an object`);
    return v as Record<string, unknown>;
  };
  const num = (o: Record<string, unknown>, k: string, where: string, fallback: number | undefined, integer = true): number => {
    const v = o[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 1))) {
      throw new ClipError(`${source}: ${where}${k} must be ${integer ? 'a positive integer' : 'a finite number'}, received ${JSON.stringify(o[k])}`);
    }
    return v;
  };
  const str = (o: Record<string, unknown>, k: string, fallback: string): string => {
    const v = o[k] ?? fallback;
    if (typeof v !== 'string') throw new ClipError(`${source}: ${k} must be a string, received ${JSON.stringify(v)}`);
    return v;
  };
  const t = obj('text_config') ?? {};
  const d = CLIP_TEXT_DEFAULTS;
  const text: ClipTextConfig = {
    vocab_size: num(t, 'vocab_size', 'text_config.', d.vocab_size),
    hidden_size: num(t, 'hidden_size', 'text_config.', d.hidden_size),
    intermediate_size: num(t, 'intermediate_size', 'text_config.', d.intermediate_size),
    num_hidden_layers: num(t, 'num_hidden_layers', 'text_config.', d.num_hidden_layers),
    num_attention_heads: num(t, 'num_attention_heads', 'text_config.', d.num_attention_heads),
    max_position_embeddings: num(t, 'max_position_embeddings', 'text_config.', d.max_position_embeddings),
    hidden_act: str(t, 'hidden_act', d.hidden_act),
    layer_norm_eps: num(t, 'layer_norm_eps', 'text_config.', d.layer_norm_eps, false),
    eos_token_id: num(t, 'eos_token_id', 'text_config.', d.eos_token_id),
  };
  const v = obj('vision_config');
  const vision = v ? resolveClipVisionConfig(v, { hfDefaults: true, source }) : undefined;
  return {
    text_config: text,
    vision_config: vision,
    projection_dim: num(r, 'projection_dim', '', 512),
    logit_scale_init_value: num(r, 'logit_scale_init_value', '', 2.6592, false),
  };
}

export class Clip extends Module {
  readonly config: ClipConfig;
  readonly text_model: ClipTextTransformer;
  readonly vision_model: ClipVisionTransformer | null;
  readonly text_projection: Linear;
  readonly visual_projection: Linear | null;
  readonly logit_scale: Tensor;
  /** Bumped whenever weights are loaded (label-embedding caches key on it). */
  weightsVersion = 0;
  tokenizer: ClipTokenizer | null = null;

  constructor(config: ClipConfig, opts: { seed?: number; vision?: boolean } = {}) {
    super();
    const rng = new Rng(opts.seed ?? 0);
    this.config = config;
    const E = config.projection_dim;
    this.text_model = this.addModule('text_model', new ClipTextTransformer(config.text_config, rng));
    const vc = opts.vision ?? true ? config.vision_config : undefined;
    this.vision_model = vc ? this.addModule('vision_model', new ClipVisionTransformer(vc, rng)) : null;
    this.text_projection = this.addModule('text_projection', new Linear(config.text_config.hidden_size, E, rng, { bias: false }));
    this.visual_projection = vc ? this.addModule('visual_projection', new Linear(vc.hidden_size, E, rng, { bias: false })) : null;
    this.logit_scale = this.addParameter('logit_scale', Float32Array.of(config.logit_scale_init_value), []);
  }

  override loadStateDict(...args: Parameters<Module['loadStateDict']>): void {
    super.loadStateDict(...args);
    this.weightsVersion++;
  }

  /** ids [B, L] → text embeddings [B, projection_dim] (pooled output × text_projection). */
  encodeText(ids: Int32Array, batch: number, length: number): Tensor {
    return this.text_projection.forward(this.text_model.forward(ids, batch, length).pooled);
  }

  /** pixels [B, C, H, W] (preprocessed) → image embeddings [B, projection_dim]. */
  encodeImage(pixels: Tensor): Tensor {
    if (!this.vision_model || !this.visual_projection) throw new ClipError('Clip.encodeImage: this model has no vision tower');
    return this.visual_projection.forward(this.vision_model.forward(pixels).pooled);
  }

  /**
   * Loads an HF CLIP directory: config.json and model.safetensors (required), vocab.json +
   * merges.txt (the tokenizer, when present).
   */
  static async fromPretrained(dir: string): Promise<Clip> {
    const configPath = join(dir, 'config.json');
    const weightsPath = join(dir, 'model.safetensors');
    for (const p of [configPath, weightsPath]) if (!existsSync(p)) throw new ClipError(`${p}: not found (an HF CLIP directory holds config.json and model.safetensors)`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (err) {
      throw new ClipError(`${configPath}: not valid JSON (${(err as Error).message})`);
    }
    const config = parseClipConfig(raw, configPath);
    const { tensors } = await readSafetensors(weightsPath);
    const hasVision = [...tensors.keys()].some((k) => k.startsWith('vision_model.'));
    const clip = new Clip(config, { vision: hasVision });
    const weights = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, t] of tensors) {
      if (LEGACY_BUFFERS.test(name)) continue;
      if (!(t.data instanceof Float32Array)) throw new ClipError(`${weightsPath}: tensor "${name}" has dtype ${t.dtype}; CLIP weights must be floating point`);
      weights.set(name, { shape: t.shape, data: t.data });
    }
    clip.loadStateDict(weights, { source: weightsPath });
    if (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))) clip.tokenizer = ClipTokenizer.fromDir(dir);
    return clip;
  }

  /** Writes config.json and model.safetensors (HF names) into dir (created if needed). */
  async save(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const tensors = new Map<string, WritableTensor>();
    for (const [name, p] of this.namedParameters()) tensors.set(name, { dtype: 'F32', shape: p.shape, data: p.data });
    await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    const config: Record<string, unknown> = {
      architectures: ['CLIPModel'],
      model_type: 'clip',
      projection_dim: this.config.projection_dim,
      logit_scale_init_value: this.config.logit_scale_init_value,
      text_config: this.config.text_config,
    };
    if (this.vision_model) config.vision_config = this.config.vision_config;
    writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
}
