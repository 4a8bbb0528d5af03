// lib/tensor/packed.ts — PackedSequence: a batch of variable-length sequences as only their valid
// rows, the one layout from the data to the kernels (SPEC §7: padding is not work).
//
// Layout: sample b owns rows offsets[b] … offsets[b + 1] − 1 of `rows` [T, dim] (row-major,
// samples one after the other, T = offsets[B] = Σ lengths) — FlashAttention's varlen layout
// (`cu_seqlens`), which the attention kernels read in place. `maxLength` bounds every length (the
// longest sequence of the batch; a model's position table must cover it). A sample of length 0
// has no rows (a missing modality).
//
// Who makes one: lib/data/batch.ts (gatherBatch, a dataset batch) and lib/model/batch.ts
// (packSamples, predict()'s samples). Who reads one: the model's modality encoders (no padding,
// no re-packing) and, as `SequenceLayout` (the rows being a Tensor there), lib/nn's attention.
//
// This file imports nothing (lib/data uses it without loading the native addon).

/** Where each sample's rows lie in a packed [T, ·] buffer. */
export interface SequenceLayout {
  /** [B] rows of each sample. */
  lengths: Int32Array;
  /** [B + 1] offsets: sample b owns rows offsets[b] … offsets[b + 1] − 1; offsets[B] = T. */
  offsets: Int32Array;
  /** ≥ every length (the longest sequence). */
  maxLength: number;
}

/** A batch of sequences: their valid rows [T, dim] and their layout. */
export interface PackedSequence extends SequenceLayout {
  /** [T, dim] row-major, T = offsets[B]. */
  rows: Float32Array;
  dim: number;
}

function fail(op: string, msg: string): never {
  throw new RangeError(`${op}: ${msg}`);
}

/** Total rows of a batch, checking every length is an integer in [0, L] (L omitted: ≥ 0). */
export function packedCount(op: string, lengths: ArrayLike<number>, L = Infinity): number {
  let t = 0;
  for (let b = 0; b < lengths.length; b++) {
    const l = lengths[b]!;
    if (!Number.isInteger(l) || l < 0 || l > L) {
      fail(op, L === Infinity ? `expected lengths[${b}] to be a non-negative integer, received ${l}` : `lengths[${b}] = ${l} is outside [0, ${L}]`);
    }
    t += l;
  }
  return t;
}

/** [B + 1] offsets of packed samples with these lengths (checked: integers in [0, L]). */
export function offsetsOf(op: string, lengths: ArrayLike<number>, L = Infinity): Int32Array {
  packedCount(op, lengths, L);
  const cu = new Int32Array(lengths.length + 1);
  for (let b = 0; b < lengths.length; b++) cu[b + 1] = cu[b]! + lengths[b]!;
  return cu;
}

/** [B + 1] offsets of B samples of `length` rows each (a dense [B, L, ·] tensor's rows). */
export function uniformOffsets(batch: number, length: number): Int32Array {
  const cu = new Int32Array(batch + 1);
  for (let b = 0; b <= batch; b++) cu[b] = b * length;
  return cu;
}

/** The layout of samples with these lengths (maxLength: the longest, unless given). */
export function layoutOf(lengths: ArrayLike<number>, maxLength?: number, op = 'layoutOf'): SequenceLayout {
  const lens = Int32Array.from(lengths);
  const offsets = offsetsOf(op, lens, maxLength);
  let max = 0;
  for (const l of lens) if (l > max) max = l;
  return { lengths: lens, offsets, maxLength: maxLength ?? max };
}

/** A batch of `count` samples that all lack the sequence (no rows). */
export function emptySequence(count: number, dim: number): PackedSequence {
  return { rows: new Float32Array(0), dim, lengths: new Int32Array(count), offsets: new Int32Array(count + 1), maxLength: 0 };
}

/**
 * Packs samples given as [len, dim] row arrays (null or empty: the sample lacks the sequence)
 * into one PackedSequence (a copy).
 */
export function packSequences(dim: number, samples: readonly (Float32Array | null | undefined)[]): PackedSequence {
  const lengths = new Int32Array(samples.length);
  samples.forEach((s, b) => {
    const n = s?.length ?? 0;
    if (n % dim !== 0) fail('packSequences', `sample ${b} has ${n} values, not a whole number of rows of ${dim}`);
    lengths[b] = n / dim;
  });
  const layout = layoutOf(lengths, undefined, 'packSequences');
  const rows = new Float32Array(layout.offsets[samples.length]! * dim);
  samples.forEach((s, b) => {
    if (s && s.length) rows.set(s, layout.offsets[b]! * dim);
  });
  return { rows, dim, ...layout };
}

/** Throws a RangeError naming `name` unless `seq` is a consistent PackedSequence of `count` samples. */
export function validatePacked(seq: PackedSequence, count: number, name: string): void {
  const { rows, dim, lengths, offsets, maxLength } = seq;
  if (!(rows instanceof Float32Array) || !(lengths instanceof Int32Array) || !(offsets instanceof Int32Array)) {
    throw new TypeError(`${name}: expected rows (Float32Array), lengths and offsets (Int32Array)`);
  }
  if (!Number.isInteger(dim) || dim < 1) fail(name, `dim must be a positive integer, received ${dim}`);
  if (lengths.length !== count) fail(name, `lengths has ${lengths.length} entries, expected ${count}`);
  if (offsets.length !== count + 1 || offsets[0] !== 0) fail(name, `offsets must have ${count + 1} entries starting at 0, received ${offsets.length}`);
  if (!Number.isInteger(maxLength) || maxLength < 0) fail(name, `maxLength must be a non-negative integer, received ${maxLength}`);
  for (let b = 0; b < count; b++) {
    const l = lengths[b]!;
    if (l < 0 || l > maxLength) fail(name, `lengths[${b}] = ${l} is outside [0, ${maxLength}]`);
    if (offsets[b + 1]! - offsets[b]! !== l) fail(name, `offsets[${b + 1}] − offsets[${b}] = ${offsets[b + 1]! - offsets[b]!}, but lengths[${b}] = ${l}`);
  }
  if (rows.length !== offsets[count]! * dim) fail(name, `rows has ${rows.length} values, expected ${offsets[count]}×${dim}`);
}
