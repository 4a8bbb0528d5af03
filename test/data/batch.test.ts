// Batching: each modality packed (only the valid rows of the batch's samples, with their offsets),
// contents equal to the source rows, determinism per seed, the last partial batch.
import { describe, expect, it } from 'vitest';

import { MODALITIES, batchIndices, countBatches, generateSynthetic, makeBatches, validateSplit, type Batch } from '../../lib/data/index.js';

const ds = generateSynthetic({
  seed: 21,
  sizes: { train: 23, valid: 3, test: 1 },
  text: { length: 12, dim: 4 },
  audio: { length: 30, dim: 3 },
  vision: { length: 17, dim: 2 },
});
const split = ds.splits.train;

function checkBatch(b: Batch): void {
  expect(b.ids.length).toBe(b.count);
  expect(b.labels.length).toBe(b.count);
  expect(b.indices.length).toBe(b.count);
  for (let r = 0; r < b.count; r++) {
    const i = b.indices[r]!;
    expect(b.ids[r]).toBe(split.ids[i]);
    expect(b.labels[r]).toBe(split.labels[i]);
  }
  for (const m of MODALITIES) {
    const src = split[m];
    const dst = b[m];
    const D = src.dim;
    let lmax = 0;
    let total = 0;
    for (let r = 0; r < b.count; r++) {
      lmax = Math.max(lmax, src.lengths[b.indices[r]!]!);
      total += src.lengths[b.indices[r]!]!;
    }
    expect(dst.maxLength, m).toBe(lmax);
    expect(dst.dim).toBe(D);
    expect(dst.rows.length).toBe(total * D);
    expect(dst.offsets[0]).toBe(0);
    expect(dst.offsets[b.count]).toBe(total);
    for (let r = 0; r < b.count; r++) {
      const i = b.indices[r]!;
      const n = src.lengths[i]!;
      expect(dst.lengths[r]).toBe(n);
      expect(dst.offsets[r + 1]! - dst.offsets[r]!).toBe(n);
      const rows = dst.rows.subarray(dst.offsets[r]! * D, dst.offsets[r + 1]! * D);
      expect(Array.from(rows)).toEqual(Array.from(src.features.subarray(i * src.length * D, i * src.length * D + n * D)));
    }
  }
}

describe('makeBatches', () => {
  it('packs each modality: the valid rows of each sample in order, offsets and the batch-longest length', () => {
    const batches = [...makeBatches(split, 5)];
    expect(batches.map((b) => b.count)).toEqual([5, 5, 5, 5, 3]); // last partial batch
    expect(Array.from(batches[0]!.indices)).toEqual([0, 1, 2, 3, 4]); // unshuffled: split order
    for (const b of batches) checkBatch(b);
    // batches shorter than L exist (lengths are random in [0.3·L, L])
    expect(batches.some((b) => b.audio.maxLength < split.audio.length)).toBe(true);
  });

  it('shuffles deterministically per seed and covers every sample once', () => {
    const a = [...makeBatches(split, 4, { shuffle: true, seed: 3 })];
    const b = [...makeBatches(split, 4, { shuffle: true, seed: 3 })];
    const c = [...makeBatches(split, 4, { shuffle: true, seed: 4 })];
    const order = (xs: Batch[]): number[] => xs.flatMap((x) => Array.from(x.indices));
    expect(order(a)).toEqual(order(b));
    expect(order(a)).not.toEqual(order(c));
    expect(order(a).slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(a[1]!.text.rows).toEqual(b[1]!.text.rows);
    for (const x of a) checkBatch(x);
  });

  it('dropLast drops the partial batch; batchIndices / countBatches agree', () => {
    expect([...makeBatches(split, 5, { dropLast: true })].map((b) => b.count)).toEqual([5, 5, 5, 5]);
    expect(countBatches(23, 5)).toBe(5);
    expect(countBatches(23, 5, true)).toBe(4);
    expect(batchIndices(23, 100).map((x) => x.length)).toEqual([23]);
    expect(batchIndices(0, 4)).toEqual([]);
    expect(() => batchIndices(10, 0)).toThrow(RangeError);
  });

  it('reuseBuffers gives the same contents through views of one buffer', () => {
    const fresh = [...makeBatches(split, 6, { shuffle: true, seed: 9 })];
    let k = 0;
    let buffer: ArrayBufferLike | undefined;
    for (const b of makeBatches(split, 6, { shuffle: true, seed: 9, reuseBuffers: true })) {
      checkBatch(b);
      expect(Array.from(b.vision.rows)).toEqual(Array.from(fresh[k]!.vision.rows));
      buffer ??= b.vision.rows.buffer;
      expect(b.vision.rows.buffer).toBe(buffer);
      k++;
    }
    expect(k).toBe(fresh.length);
  });

  it('rejects an inconsistent split', () => {
    const bad = { ...split, audio: { ...split.audio, lengths: split.audio.lengths.slice(1) } };
    expect(() => validateSplit(bad)).toThrow(/audio\.lengths/);
    const bad2 = { ...split, text: { ...split.text, lengths: Int32Array.from(split.text.lengths, () => 99) } };
    expect(() => [...makeBatches(bad2, 4)]).toThrow(/outside \[0, 12\]/);
  });
});
