// lib/model/clipWeights.ts — CLIP weights from a Hugging Face CLIP model (lib/clip/model.ts:
// openai/clip-vit-base-patch32's layout) into MER-CLIP's towers, and a config built from a CLIP
// config.
//
//   clip.text_model.…, clip.text_projection.weight → label_encoder.text_model.…, label_encoder.text_projection.weight
//   clip.text_model.…                              → text_tower.text_model.…            (text tower 'own')
//   clip.vision_model.…, clip.visual_projection    → vision_tower.vision_model.…, vision_tower.visual_projection
//
// The architectures are compared field by field first (text_config, projection_dim,
// vision_config); a difference is a RangeError naming the field and both values, and nothing is
// copied. configFromClip builds a matching config.

import type { Clip, ClipConfig } from '../clip/model.js';
import type { ClipTextConfig } from '../clip/text.js';
import { resolveClipVisionConfig } from '../clip/vision.js';
import type { Module } from '../nn/index.js';
import { type MerClipConfig, type TextClipOptions, validateConfig, type VisionClipOptions, visionClipSource, withClipSources } from './config.js';

const TEXT_FIELDS: ReadonlyArray<keyof ClipTextConfig> = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings', 'hidden_act', 'layer_norm_eps', 'eos_token_id'];

/** Where the CLIP weights go (MerClip's modules). */
export interface ClipTargets {
  config: MerClipConfig;
  label_encoder: Module;
  text_tower: Module | null;
  vision_tower: Module | null;
}

/** The first architecture difference between a CLIP config and a model config, as a message; null when they match. */
export function clipMismatch(clip: ClipConfig, config: MerClipConfig, hasVisionWeights: boolean): string | null {
  const mine = config.clip.text_config;
  for (const k of TEXT_FIELDS) {
    if (clip.text_config[k] !== mine[k]) return `text_config.${k} is ${JSON.stringify(clip.text_config[k])} in the CLIP checkpoint, ${JSON.stringify(mine[k])} in the model's clip.text_config`;
  }
  if (clip.projection_dim !== config.clip.projection_dim) return `projection_dim is ${clip.projection_dim} in the CLIP checkpoint, ${config.clip.projection_dim} in the model's clip.projection_dim`;
  const v = visionClipSource(config);
  if (v) {
    if (!clip.vision_config || !hasVisionWeights) return 'the CLIP checkpoint has no vision tower, but modalities.vision.source is "clip"';
    const theirs = resolveClipVisionConfig(clip.vision_config);
    for (const k of Object.keys(v.vision_config) as Array<keyof typeof theirs>) {
      if (theirs[k] !== v.vision_config[k]) return `vision_config.${k} is ${JSON.stringify(theirs[k])} in the CLIP checkpoint, ${JSON.stringify(v.vision_config[k])} in the model's modalities.vision.clip.vision_config`;
    }
    if (v.embedding === 'projected' && v.projection_dim !== clip.projection_dim) {
      return `projection_dim is ${clip.projection_dim} in the CLIP checkpoint, ${v.projection_dim} in the model's modalities.vision.clip.projection_dim`;
    }
  }
  return null;
}

/** Copies a CLIP model's weights into the targets (see the file header); throws on any mismatch, before copying. */
export function copyClipWeights(targets: ClipTargets, clip: Clip): void {
  const bad = clipMismatch(clip.config, targets.config, clip.vision_model !== null);
  if (bad) throw new RangeError(`MerClip.loadClip: the CLIP architecture differs from the model's: ${bad} (build the config with configFromClip)`);
  const all = new Map([...clip.namedParameters()].map(([n, p]) => [n, { shape: p.shape, data: p.data }]));
  const under = (...prefixes: string[]): typeof all => new Map([...all].filter(([n]) => prefixes.some((p) => n.startsWith(p))));
  const source = 'MerClip.loadClip';
  targets.label_encoder.loadStateDict(under('text_model.', 'text_projection.'), { source });
  targets.text_tower?.loadStateDict(under('text_model.'), { source });
  if (targets.vision_tower) {
    const w = under('vision_model.', 'visual_projection.');
    targets.vision_tower.loadStateDict(w, { source, allowUnexpected: visionClipSource(targets.config)!.embedding === 'pooled' });
  }
}

/**
 * `base` with its CLIP text tower (label encoder) set from a CLIP config, and text / vision
 * switched to source 'clip' when asked (vision_config from the CLIP config; dims filled in).
 * A base whose text or vision is already a 'clip' source keeps it, with the new dims.
 */
export function configFromClip(
  clip: Clip | ClipConfig,
  base: MerClipConfig,
  sources: { text?: (TextClipOptions & { maxLength?: number }) | true; vision?: Omit<VisionClipOptions, 'vision_config'> & { maxLength?: number } | true } = {},
): MerClipConfig {
  const cc = 'config' in clip && 'text_model' in clip ? clip.config : (clip as ClipConfig);
  const out = JSON.parse(JSON.stringify(base)) as MerClipConfig;
  out.clip = { text_config: { ...cc.text_config }, projection_dim: cc.projection_dim };
  const text = sources.text ?? (out.modalities.text.source === 'clip'
    ? { ...((out.modalities.text.clip ?? {}) as TextClipOptions), maxLength: Math.min(out.modalities.text.maxLength, cc.text_config.max_position_embeddings) }
    : undefined);
  let vision: (VisionClipOptions & { maxLength?: number }) | undefined;
  const v = sources.vision ?? (out.modalities.vision.source === 'clip' ? (out.modalities.vision.clip as VisionClipOptions) : undefined);
  if (v) {
    if (!cc.vision_config) throw new RangeError('configFromClip: the CLIP config has no vision_config, so vision cannot have source "clip"');
    const { vision_config: _ignored, ...rest } = (v === true ? {} : v) as VisionClipOptions;
    vision = { ...rest, vision_config: { ...cc.vision_config }, projection_dim: cc.projection_dim };
  }
  if (!text && !vision) return validateConfig(out);
  return withClipSources(out, { ...(text ? { text } : {}), ...(vision ? { vision } : {}) });
}
