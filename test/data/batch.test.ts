// Batching: each modality padded only to its own longest true length in the batch, contents equal
// to the source rows, zero padding, determinism per seed, the last partial batch.
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
    for (let r = 0; r < b.count; r++) lmax = Math.max(lmax, src.lengths[b.indices[r]!]!);
    expect(dst.length, m).toBe(lmax);
    expect(dst.dim).toBe(D);
    expect(dst.features.length).toBe(b.count * lmax * D);
    for (let r = 0; r < b.count; r++) {
      const i = b.indices[r]!;
      const n = src.lengths[i]!;
      expect(dst.lengths[r]).toBe(n);
      const row = dst.features.subarray(r * lmax * D, (r + 1) * lmax * D);
      expect(Array.from(row.subarray(0, n * D))).toEqual(Array.from(src.features.subarray(i * src.length * D, i * src.length * D + n * D)));
      expect(row.subarray(n * D).every((v) => v === 0), `${m} padding of row ${r}`).toBe(true);
    }
  }
}

describe('makeBatches', () => {
  it('pads each modality only to its batch-longest length, with the source rows and zero padding', () => {
    const batches = [...makeBatches(split, 5)];
    expect(batches.map((b) => b.count)).toEqual([5, 5, 5, 5, 3]); // last partial batch
    expect(Array.from(batches[0]!.indices)).toEqual([0, 1, 2, 3, 4]); // unshuffled: split order
    for (const b of batches) checkBatch(b);
    // batches shorter than L exist (lengths are random in [0.3·L, L])
    expect(batches.some((b) => b.audio.length < split.audio.length)).toBe(true);
  });

  it('shuffles deterministically per seed and covers every sample once', () => {
    const a = [...makeBatches(split, 4, { shuffle: true, seed: 3 })];
    const b = [...makeBatches(split, 4, { shuffle: true, seed: 3 })];
    const c = [...makeBatches(split, 4, { shuffle: true, seed: 4 })];
    const order = (xs: Batch[]): number[] => xs.flatMap((x) => Array.from(x.indices));
    expect(order(a)).toEqual(order(b));
    expect(order(a)).not.toEqual(order(c));
    expect(order(a).slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(a[1]!.text.features).toEqual(b[1]!.text.features);
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
      expect(Array.from(b.vision.features)).toEqual(Array.from(fresh[k]!.vision.features));
      buffer ??= b.vision.features.buffer;
      expect(b.vision.features.buffer).toBe(buffer);
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
