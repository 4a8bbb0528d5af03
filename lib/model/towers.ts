// lib/model/towers.ts — the CLIP towers behind the modalities whose source is 'clip'
// (config.ts), and the one function that turns a batch's raw inputs into modality rows
// (towerRows): MerClip.forward and featurize() (raw.ts) both call it, so extracted features and
// on-the-fly features are the same numbers.
//
//   text    packed token ids [T] (SOT … EOT per sample) → CLIP text tower, causal within each
//           sample, no padding (ClipTextTransformer.hiddenStatesPacked) → hidden states after
//           final_layer_norm [T, hidden_size]: every valid token is a text token.
//   vision  frames (RgbFrame) → CLIP preprocessing at the tower's image_size (resize shortest
//           side, center crop, normalise; image.ts) in chunks of clip.batchSize frames →
//           ClipVisionTransformer → pooled (post-LN CLS) [N, hidden] → visual_projection
//           [N, projection_dim] ('projected', default) or the pooled rows ('pooled').
//
// Frozen towers (the default) run under noGrad and have their parameters frozen, so no gradient
// reaches them and the optimizer never sees them; a trainable tower runs on the tape.
//
// Parameter names (HF's under a prefix): vision_tower.vision_model.…,
// vision_tower.visual_projection.weight; text tower 'own': text_tower.text_model.…; tower
// 'label': the label encoder's label_encoder.text_model.… (shared, no copy).

import { preprocessImagesData } from '../clip/image.js';
import { ClipTextTransformer, type ClipTextConfig } from '../clip/text.js';
import { ClipVisionTransformer } from '../clip/vision.js';
import { Linear, Module } from '../nn/index.js';
import { noGrad, ops, type Rng, type Tensor, wrap } from '../tensor/index.js';
import { layoutOf } from '../tensor/packed.js';
import type { RawFrames, RawTokens } from './batch.js';
import type { VisionClipOptions } from './config.js';

/** text_tower (tower 'own'): text_tower.text_model.… */
export class TextTower extends Module {
  readonly text_model: ClipTextTransformer;
  constructor(config: ClipTextConfig, rng: Rng) {
    super();
    this.text_model = this.addModule('text_model', new ClipTextTransformer(config, rng));
  }
}

/** vision_tower: vision_tower.vision_model.…, vision_tower.visual_projection.weight ('projected' only). */
export class VisionTower extends Module {
  readonly vision_model: ClipVisionTransformer;
  readonly visual_projection: Linear | null;
  constructor(readonly options: Required<VisionClipOptions>, rng: Rng) {
    super();
    this.vision_model = this.addModule('vision_model', new ClipVisionTransformer(options.vision_config, rng));
    this.visual_projection = options.embedding === 'projected'
      ? this.addModule('visual_projection', new Linear(options.vision_config.hidden_size, options.projection_dim, rng, { bias: false }))
      : null;
  }

  /** pixels [N, 3, S, S] (preprocessed) → one embedding per frame [N, dim]. */
  embed(pixels: Tensor): Tensor {
    const pooled = this.vision_model.forward(pixels).pooled;
    return this.visual_projection ? this.visual_projection.forward(pooled) : pooled;
  }

  /** Frames → [N, dim], preprocessed and encoded options.batchSize frames at a time. */
  encodeFrames(frames: RawFrames['frames']): Tensor {
    const S = this.vision_model.config.image_size;
    const chunk = this.options.batchSize;
    const parts: Tensor[] = [];
    for (let i = 0; i < frames.length; i += chunk) {
      const { data, shape } = preprocessImagesData(frames.slice(i, i + chunk), { size: S, crop: S });
      parts.push(this.embed(wrap(data, shape)));
    }
    return parts.length === 1 ? parts[0]! : ops.concat(parts, 0);
  }
}

/** Packed transcripts → the text tower's hidden states [T, hidden_size] (T = Σ tokens). */
export function encodeTranscripts(tower: ClipTextTransformer, raw: RawTokens): Tensor {
  const lengths = Int32Array.from(raw.lengths).filter((l) => l > 0);
  return tower.hiddenStatesPacked(raw.ids, layoutOf(lengths, undefined, 'transcript lengths'));
}

/**
 * The rows [T, dim] of a modality whose batch has raw samples: the tower's rows for them, the
 * given feature rows (seq.rows) for the others, in the batch's packed order.
 */
export function mergeTowerRows(towerOut: Tensor, featureRows: Float32Array, offsets: Int32Array, rawLengths: Int32Array, dim: number): Tensor {
  const B = rawLengths.length;
  const T = offsets[B]!;
  let allRaw = true;
  for (let b = 0; b < B; b++) if (rawLengths[b] !== offsets[b + 1]! - offsets[b]!) allRaw = false;
  if (allRaw) return towerOut; // every present sample is raw: the tower's rows are the batch's
  // feature rows first, then the tower's: row t of the batch reads index[t]
  const index = new Int32Array(T);
  let r = T;
  for (let b = 0; b < B; b++) {
    const raw = rawLengths[b]! > 0;
    for (let t = offsets[b]!; t < offsets[b + 1]!; t++) index[t] = raw ? r++ : t;
  }
  return ops.gatherRows(ops.concat([wrap(featureRows, [T, dim]), towerOut], 0), index);
}

/** Runs `f` under noGrad when frozen, on the tape otherwise. */
export function maybeNoGrad<T>(frozen: boolean, f: () => T): T {
  return frozen ? noGrad(f) : f();
}
