// lib/model/batch.ts — what the model reads (ModelBatch: per modality a PackedSequence) and what
// predict() is given (Sample), and packSamples, which turns samples into batches.
//
// A sample holds each modality's features [L, D] (a Float32Array in row-major order, or an array
// of rows) and optionally its true length; a modality may be absent (null/undefined/length 0):
// its cross-attention step is then skipped for that sample. A sample must have at least one of
// the model's modalities (config.modalityOrder): with none there is nothing to predict from (a
// RangeError names the sample). packSamples copies the valid rows of each sample into one
// PackedSequence per modality and batch (lib/tensor/packed.ts): no padding is made.

import { MODALITIES, type PackedSequence } from '../data/batch.js';
import { layoutOf } from '../tensor/packed.js';
import type { Modality, MerClipConfig } from './config.js';

/** A batch as the model reads it (lib/data's Batch is one). */
export interface ModelBatch {
  count: number;
  labels?: Float32Array;
  /** Absent or null: no sample of the batch has the modality. */
  text?: PackedSequence | null;
  audio?: PackedSequence | null;
  vision?: PackedSequence | null;
}

export interface SampleModality {
  /** [L, D] row-major, or L rows of D numbers. */
  features: Float32Array | ArrayLike<number>[];
  /** True length (default: all L rows). */
  length?: number;
}

export type SampleInput = Float32Array | SampleModality | null | undefined;

/** One sample given to predict(). */
export interface Sample {
  text?: SampleInput;
  audio?: SampleInput;
  vision?: SampleInput;
}

/** The valid rows [len, dim] of one sample's modality (validated), or null when absent. */
function rowsOf(m: Modality, i: number, input: SampleInput, dim: number, maxLength: number): Float32Array | null {
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
  return data.subarray(0, len * dim);
}

/** Validates samples and packs them into batches of at most batchSize (a PackedSequence per modality). */
export function packSamples(samples: readonly Sample[], config: MerClipConfig, batchSize = 32): ModelBatch[] {
  if (!Array.isArray(samples)) throw new TypeError('predict: expected an array of samples');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`predict: batchSize must be a positive integer, received ${batchSize}`);
  const batches: ModelBatch[] = [];
  for (let s = 0; s < samples.length; s += batchSize) {
    const chunk = samples.slice(s, s + batchSize);
    const B = chunk.length;
    const batch: ModelBatch = { count: B };
    for (const m of MODALITIES) {
      const { dim, maxLength } = config.modalities[m];
      const parsed = chunk.map((x, r) => {
        if (typeof x !== 'object' || x === null) throw new TypeError(`predict: sample ${s + r} must be an object with text / audio / vision`);
        return rowsOf(m, s + r, x[m], dim, maxLength);
      });
      const layout = layoutOf(parsed.map((p) => (p ? p.length / dim : 0)), undefined, `predict ${m} lengths`);
      if (layout.offsets[B] === 0) {
        batch[m] = null;
        continue;
      }
      const rows = new Float32Array(layout.offsets[B]! * dim);
      parsed.forEach((p, r) => {
        if (p) rows.set(p, layout.offsets[r]! * dim);
      });
      batch[m] = { rows, dim, ...layout };
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
