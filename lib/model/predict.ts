// lib/model/predict.ts — inference for applications: samples in, { score, probs, label } out.
//
// A sample holds each modality's features [L, D] (a Float32Array in row-major order, or an array
// of rows) and optionally its true length; a modality may be absent (null/undefined/length 0):
// its cross-attention step is then skipped for that sample. A sample must have at least one of
// the model's modalities (config.modalityOrder): with none there is nothing to predict from
// (a RangeError names the sample). Samples are packed into batches
// padded to each batch's longest sequence (every attention takes the true lengths, so padding
// never changes a result).
//
// Off the event loop: MerClip.predict() hands the batches to a worker thread (predictWorker.ts)
// that shares the model's weights (they live in SharedArrayBuffers) and runs the forward pass
// there; the main thread only packs inputs. Each predict() call is processed as its own batches,
// in order, so concurrent calls give exactly the results sequential calls give.

import type { Modality, MerClipConfig } from './config.js';
import { ALL_MODALITIES } from './config.js';
import type { ModelBatch } from './merclip.js';

export interface SampleModality {
  /** [L, D] row-major, or L rows of D numbers. */
  features: Float32Array | ArrayLike<number>[];
  /** True length (default: all L rows). */
  length?: number;
}

export type SampleInput = Float32Array | SampleModality | null | undefined;

export interface Sample {
  text?: SampleInput;
  audio?: SampleInput;
  vision?: SampleInput;
}

export interface PredictOptions {
  /** Another label set (encoded on the fly by the label encoder). */
  labels?: readonly string[];
  /** The regression value of each label (required for a score with a custom label set). */
  values?: readonly number[];
  /** Samples per batch (default 32). */
  batchSize?: number;
}

export interface Prediction {
  /** Σ_c p_c v_c; null when the label set has no values. */
  score: number | null;
  /** The label distribution, in label order. */
  probs: number[];
  /** The most probable label. */
  label: string;
}

interface Packed {
  features: Float32Array;
  lengths: Int32Array;
  length: number;
  dim: number;
}

function rowsOf(m: Modality, i: number, input: SampleInput, dim: number, maxLength: number): { data: Float32Array; rows: number; length: number } | null {
  if (input === null || input === undefined) return null;
  const where = `predict: sample ${i} ${m}`;
  let feats: Float32Array | ArrayLike<number>[];
  let length: number | undefined;
  if (input instanceof Float32Array) feats = input;
  else if (typeof input === 'object' && 'features' in input) {
    feats = input.features;
    length = input.length;
  } else throw new TypeError(`${where}: expected a Float32Array or { features, length? }`);
  let data: Float32Array;
  if (feats instanceof Float32Array) {
    if (feats.length % dim !== 0) throw new RangeError(`${where}: ${feats.length} values are not a whole number of rows of ${dim} features`);
    data = feats;
  } else if (Array.isArray(feats)) {
    data = new Float32Array(feats.length * dim);
    feats.forEach((row, r) => {
      if (!row || typeof row !== 'object' || (row as ArrayLike<number>).length !== dim) {
        throw new RangeError(`${where}: row ${r} must hold ${dim} numbers`);
      }
      data.set(row as ArrayLike<number>, r * dim);
    });
  } else throw new TypeError(`${where}: features must be a Float32Array or an array of rows`);
  const rows = data.length / dim;
  const len = length ?? rows;
  if (!Number.isInteger(len) || len < 0 || len > rows) throw new RangeError(`${where}: length ${len} is outside [0, ${rows}]`);
  if (len > maxLength) throw new RangeError(`${where}: ${len} steps exceed the model's maxLength ${maxLength}`);
  for (let j = 0; j < len * dim; j++) {
    if (!Number.isFinite(data[j]!)) throw new RangeError(`${where}: value ${data[j]} at step ${Math.floor(j / dim)}, feature ${j % dim} (only finite values)`);
  }
  return { data, rows, length: len };
}

/** Validates samples and packs them into batches (padded per batch). */
export function packSamples(samples: readonly Sample[], config: MerClipConfig, batchSize = 32): ModelBatch[] {
  if (!Array.isArray(samples)) throw new TypeError('predict: expected an array of samples');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`predict: batchSize must be a positive integer, received ${batchSize}`);
  const batches: ModelBatch[] = [];
  for (let s = 0; s < samples.length; s += batchSize) {
    const chunk = samples.slice(s, s + batchSize);
    const B = chunk.length;
    const batch: ModelBatch = { count: B };
    for (const m of ALL_MODALITIES) {
      const { dim, maxLength } = config.modalities[m];
      const parsed = chunk.map((x, r) => {
        if (typeof x !== 'object' || x === null) throw new TypeError(`predict: sample ${s + r} must be an object with text / audio / vision`);
        return rowsOf(m, s + r, x[m], dim, maxLength);
      });
      if (parsed.every((p) => !p || p.length === 0)) {
        batch[m] = null;
        continue;
      }
      const L = Math.max(1, ...parsed.map((p) => p?.length ?? 0));
      const packed: Packed = { features: new Float32Array(B * L * dim), lengths: new Int32Array(B), length: L, dim };
      parsed.forEach((p, r) => {
        if (!p) return;
        packed.lengths[r] = p.length;
        packed.features.set(p.data.subarray(0, p.length * dim), r * L * dim);
      });
      batch[m] = packed;
    }
    // A sample needs at least one of the model's modalities: with none, every cross-attention
    // step is skipped and the "prediction" would come from the label queries alone.
    for (let r = 0; r < B; r++) {
      if (!config.modalityOrder.some((m) => (batch[m]?.lengths[r] ?? 0) > 0)) {
        throw new RangeError(`predict: sample ${s + r} has none of the model's modalities (${config.modalityOrder.join(', ')}); ` +
          'give at least one of them with length ≥ 1 (a modality that is null, undefined or of length 0 is absent)');
      }
    }
    batches.push(batch);
  }
  return batches;
}

/** Turns scores and probabilities [B, C] into Predictions. */
export function toPredictions(scores: Float32Array | null, probs: Float32Array, labels: readonly string[]): Prediction[] {
  const C = labels.length;
  const B = probs.length / C;
  const out: Prediction[] = [];
  for (let b = 0; b < B; b++) {
    const p = Array.from(probs.subarray(b * C, (b + 1) * C));
    let best = 0;
    for (let c = 1; c < C; c++) if (p[c]! > p[best]!) best = c;
    out.push({ score: scores ? scores[b]! : null, probs: p, label: labels[best]! });
  }
  return out;
}

/** The label set of a predict call: the config's, or the given labels (values optional). */
export function resolveLabelSet(config: MerClipConfig, opts: PredictOptions): { labels: string[]; values: number[] | null } {
  if (!opts.labels) {
    if (opts.values) throw new RangeError('predict: values were given without labels');
    return { labels: [...config.labels], values: [...config.labelValues] };
  }
  const labels = [...opts.labels];
  if (labels.length < 1 || labels.some((l) => typeof l !== 'string' || !l.trim())) throw new RangeError('predict: labels must be non-empty strings');
  if (opts.values) {
    if (opts.values.length !== labels.length || opts.values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new RangeError(`predict: expected ${labels.length} finite values (one per label), received ${opts.values.length}`);
    }
    return { labels, values: [...opts.values] };
  }
  return { labels, values: null };
}
