// lib/data/batch.ts — the in-memory layout of a dataset split, and batching.
//
// A split is storage for random access: per modality one dense row-major Float32Array [N, L, D]
// padded to the modality's full length L, plus the true length of every sample (positions at and
// past it are padding: their content is arbitrary and must never influence a result). Real data
// (MMSA pickles, the package's dataset file) and the synthetic generator share this layout.
//
// A batch is what the model reads: per modality a PackedSequence (lib/tensor/packed.ts) — only
// the valid rows of the batch's samples, one after the other, with their offsets. gatherBatch
// copies each sample's valid rows out of the split; no padding is made, so none is computed on
// (MOSI sequences are about a third padding).

import { emptySequence, layoutOf, type PackedSequence } from '../tensor/packed.js';
import { Rng } from './rng.js';

export type { PackedSequence } from '../tensor/packed.js';

export type Modality = 'text' | 'audio' | 'vision';
/** @deprecated the same type as Modality (the data readers' older name). */
export type ModalityName = Modality;

/** The three modalities, in the model's default cross-attention order (the one list of them). */
export const MODALITIES: readonly Modality[] = ['text', 'audio', 'vision'];

/** One modality of a split: features [N, length, dim] row-major (padded), true lengths [N]. */
export interface ModalityData {
  features: Float32Array;
  lengths: Int32Array;
  /** Padded sequence length (L). */
  length: number;
  /** Feature dimension (D). */
  dim: number;
}

/** A split: N samples with ids, regression labels and three modalities. */
export interface DataSplit {
  count: number;
  ids: string[];
  labels: Float32Array;
  text: ModalityData;
  audio: ModalityData;
  vision: ModalityData;
}

/** A batch: `count` samples, their ids, labels and packed modalities, and the rows they came from. */
export interface Batch {
  count: number;
  ids: string[];
  labels: Float32Array;
  text: PackedSequence;
  audio: PackedSequence;
  vision: PackedSequence;
  /** Index in the source split of each batch row. */
  indices: Int32Array;
}

export interface BatchOptions {
  /** Shuffle the sample order (Fisher–Yates with `seed`). Default false (split order). */
  shuffle?: boolean;
  /** Seed for the shuffle (use e.g. baseSeed + epoch for a new order every epoch). Default 0. */
  seed?: number;
  /** Drop the last batch when it has fewer than batchSize samples. Default false. */
  dropLast?: boolean;
  /**
   * Reuse one set of output buffers for every batch (the arrays are views into buffers sized for
   * the largest batch). A yielded batch is then valid only until the next one is requested.
   * Default false (every batch owns fresh arrays).
   */
  reuseBuffers?: boolean;
}

/** Throw a RangeError unless `split` is internally consistent. */
export function validateSplit(split: DataSplit, name = 'split'): void {
  const n = split.count;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name}: count must be a non-negative integer, got ${n}`);
  if (split.ids.length !== n) throw new RangeError(`${name}: ids has ${split.ids.length} entries, expected ${n}`);
  if (split.labels.length !== n) throw new RangeError(`${name}: labels has ${split.labels.length} entries, expected ${n}`);
  for (const m of MODALITIES) {
    const md = split[m];
    const { length: L, dim: D } = md;
    if (!Number.isInteger(L) || L < 0 || !Number.isInteger(D) || D < 1) {
      throw new RangeError(`${name}.${m}: length and dim must be integers (length ≥ 0, dim ≥ 1), got ${L}, ${D}`);
    }
    if (md.features.length !== n * L * D) {
      throw new RangeError(`${name}.${m}.features: has ${md.features.length} values, expected ${n}×${L}×${D} = ${n * L * D}`);
    }
    if (md.lengths.length !== n) throw new RangeError(`${name}.${m}.lengths: has ${md.lengths.length} entries, expected ${n}`);
    for (let i = 0; i < n; i++) {
      const len = md.lengths[i]!;
      if (len < 0 || len > L) throw new RangeError(`${name}.${m}.lengths[${i}] = ${len} is outside [0, ${L}]`);
    }
  }
}

/** The sample order split into batches: index arrays of at most batchSize each. */
export function batchIndices(count: number, batchSize: number, options: BatchOptions = {}): Int32Array[] {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`batchIndices: count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchIndices: batchSize must be a positive integer, got ${batchSize}`);
  }
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  if (options.shuffle) new Rng(options.seed ?? 0).shuffle(order);
  const out: Int32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const end = Math.min(count, start + batchSize);
    if (end - start < batchSize && options.dropLast) break;
    out.push(order.slice(start, end));
  }
  return out;
}

/** Number of batches makeBatches yields. */
export function countBatches(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

interface Scratch {
  text: Float32Array;
  audio: Float32Array;
  vision: Float32Array;
}

function gatherModality(src: ModalityData, indices: Int32Array, scratch: Float32Array | undefined): PackedSequence {
  const D = src.dim;
  const layout = layoutOf(Array.from(indices, (i) => src.lengths[i]!), undefined, 'gatherBatch lengths');
  const size = layout.offsets[indices.length]! * D;
  const rows = scratch ? scratch.subarray(0, size) : new Float32Array(size);
  const rowSrc = src.length * D;
  for (let r = 0; r < indices.length; r++) {
    const from = indices[r]! * rowSrc;
    rows.set(src.features.subarray(from, from + layout.lengths[r]! * D), layout.offsets[r]! * D);
  }
  return { rows, dim: D, ...layout };
}

/**
 * Copy the samples `indices` of `split` into a batch: per modality the valid rows of those
 * samples, packed (no padding). With `scratch`, rows are views into those buffers (each must hold
 * at least indices.length × length × dim values of its modality).
 */
export function gatherBatch(split: DataSplit, indices: Int32Array, scratch?: Scratch): Batch {
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r]!;
    if (!Number.isInteger(i) || i < 0 || i >= split.count) {
      throw new RangeError(`gatherBatch: indices[${r}] = ${i} is outside [0, ${split.count})`);
    }
  }
  const labels = new Float32Array(indices.length);
  const ids: string[] = [];
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r]!;
    labels[r] = split.labels[i]!;
    ids.push(split.ids[i]!);
  }
  return {
    count: indices.length,
    ids,
    labels,
    indices: Int32Array.from(indices),
    text: gatherModality(split.text, indices, scratch?.text),
    audio: gatherModality(split.audio, indices, scratch?.audio),
    vision: gatherModality(split.vision, indices, scratch?.vision),
  };
}

/** `batch` with the modalities `drop` removed (every sample lacks them: the model skips them). */
export function withoutModalities(batch: Batch, drop: readonly Modality[]): Batch {
  if (drop.length === 0) return batch;
  const out = { ...batch };
  for (const m of drop) out[m] = emptySequence(batch.count, batch[m].dim);
  return out;
}

/**
 * Iterate over `split` in batches of `batchSize` (the last one may be smaller unless dropLast),
 * each modality packed (gatherBatch). Deterministic for a given seed.
 */
export function* makeBatches(split: DataSplit, batchSize: number, options: BatchOptions = {}): Generator<Batch, void, undefined> {
  validateSplit(split);
  const batches = batchIndices(split.count, batchSize, options);
  let scratch: Scratch | undefined;
  if (options.reuseBuffers) {
    const b = Math.min(batchSize, split.count);
    scratch = {
      text: new Float32Array(b * split.text.length * split.text.dim),
      audio: new Float32Array(b * split.audio.length * split.audio.dim),
      vision: new Float32Array(b * split.vision.length * split.vision.dim),
    };
  }
  for (const idx of batches) yield gatherBatch(split, idx, scratch);
}
