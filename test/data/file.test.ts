// The dataset file (lib/data/file.ts): round trips (all splits, a subset, sync and async, views),
// the header-only summary, one test per validation failure (each bad file built with
// writeSafetensors directly) checking the code and that the message names file, split and key,
// and the padding rule (non-finite values allowed at padding positions only).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import {
  DatasetFileError,
  MODALITIES,
  SPLITS,
  generateSynthetic,
  readDataset,
  readDatasetInfo,
  readDatasetInfoSync,
  readDatasetSync,
  writeDataset,
  writeDatasetSync,
  type DataSplit,
  type DatasetFileErrorCode,
  type SplitName,
} from '../../lib/data/index.js';
import { SafetensorsError, writeSafetensorsSync, type WritableTensor } from '../../lib/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'merclip-dataset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const tmp = (name = 'ds'): string => join(dir, `${name}-${counter++}.safetensors`);

const small = {
  seed: 3,
  sizes: { train: 12, valid: 5, test: 7 },
  text: { length: 6, dim: 5 },
  audio: { length: 9, dim: 3 },
  vision: { length: 7, dim: 4 },
};
const ds = generateSynthetic(small);

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < ua.length; i++) if (ua[i] !== ub[i]) return false;
  return true;
}

function expectSplitEqual(got: DataSplit | undefined, want: DataSplit): void {
  expect(got).toBeDefined();
  expect(got!.count).toBe(want.count);
  expect(got!.ids).toEqual(want.ids);
  expect(bitsEqual(got!.labels, want.labels)).toBe(true);
  for (const m of MODALITIES) {
    expect(got![m].length).toBe(want[m].length);
    expect(got![m].dim).toBe(want[m].dim);
    expect(got![m].lengths).toBeInstanceOf(Int32Array);
    expect(Array.from(got![m].lengths)).toEqual(Array.from(want[m].lengths));
    expect(got![m].features).toBeInstanceOf(Float32Array);
    expect(bitsEqual(got![m].features, want[m].features)).toBe(true); // padding junk included
  }
}

/** The raw tensors and metadata of a valid file for the given splits (to be broken by a test). */
function rawFile(splits: SplitName[] = ['train', 'valid']): { tensors: Record<string, WritableTensor>; metadata: Record<string, string> } {
  const tensors: Record<string, WritableTensor> = {};
  const metadata: Record<string, string> = { format: 'merclip-dataset', version: '1', splits: JSON.stringify(splits), source: 'test' };
  for (const s of splits) {
    const sp = ds.splits[s];
    tensors[`${s}.labels`] = { dtype: 'F32', shape: [sp.count], data: sp.labels.slice() };
    for (const m of MODALITIES) {
      tensors[`${s}.${m}.features`] = { dtype: 'F32', shape: [sp.count, sp[m].length, sp[m].dim], data: sp[m].features.slice() };
      tensors[`${s}.${m}.lengths`] = { dtype: 'I32', shape: [sp.count], data: sp[m].lengths.slice() };
    }
    metadata[`ids.${s}`] = JSON.stringify(sp.ids);
  }
  return { tensors, metadata };
}

function writeRaw(r: { tensors: Record<string, WritableTensor>; metadata: Record<string, string> }): string {
  const f = tmp('bad');
  writeSafetensorsSync(f, r.tensors, r.metadata);
  return f;
}

/** Reading `file` (async, sync and header-only where `header`) fails with `code`, naming split and key. */
async function expectBad(file: string, code: DatasetFileErrorCode, split: string | undefined, key: string, header = true): Promise<void> {
  const check = (err: unknown): void => {
    expect(err).toBeInstanceOf(DatasetFileError);
    const e = err as DatasetFileError;
    expect(e.code).toBe(code);
    expect(e.file).toBe(file);
    expect(e.key).toBe(key);
    expect(e.message).toContain(file);
    expect(e.message).toContain(`"${key}"`);
    if (split !== undefined) {
      expect(e.split).toBe(split);
      expect(e.message).toContain(`split "${split}"`);
    }
  };
  const attempts: Array<() => unknown> = [() => readDataset(file), () => readDatasetSync(file)];
  if (header) attempts.push(() => readDatasetInfo(file), () => readDatasetInfoSync(file));
  for (const a of attempts) {
    let caught: unknown;
    try {
      await a();
    } catch (err) {
      caught = err;
    }
    check(caught);
  }
}

describe('writeDataset / readDataset', () => {
  it('round-trips all three splits bitwise, as zero-copy views into one buffer', async () => {
    const f = tmp();
    await writeDataset(f, ds.splits, { source: 'synthetic seed=3', extra: '{"a":1}' });
    const back = await readDataset(f);
    expect(Object.keys(back.splits).sort()).toEqual(['test', 'train', 'valid']);
    for (const s of SPLITS) expectSplitEqual(back.splits[s], ds.splits[s]);
    expect(back.metadata).toMatchObject({
      format: 'merclip-dataset', version: '1', splits: '["train","valid","test"]', source: 'synthetic seed=3', extra: '{"a":1}',
    });
    expect(JSON.parse(back.metadata['ids.valid']!)).toEqual(ds.splits.valid.ids);
    // views: every tensor shares the one file buffer (no per-tensor copies)
    const buf = back.splits.train!.labels.buffer;
    for (const s of SPLITS) {
      const sp = back.splits[s]!;
      expect(sp.labels.buffer).toBe(buf);
      for (const m of MODALITIES) {
        expect(sp[m].features.buffer).toBe(buf);
        expect(sp[m].lengths.buffer).toBe(buf);
      }
    }
  });

  it('round-trips a subset of splits (sync), and the info lists only those', () => {
    const f = tmp();
    writeDatasetSync(f, { test: ds.splits.test }, { source: 'subset' });
    const back = readDatasetSync(f);
    expect(Object.keys(back.splits)).toEqual(['test']);
    expectSplitEqual(back.splits.test, ds.splits.test);
    const info = readDatasetInfoSync(f);
    expect(info.splitNames).toEqual(['test']);
    expect(info.splits.train).toBeUndefined();
    expect(info.source).toBe('subset');
  });

  it('readDatasetInfo: splits, counts, per-modality L, D, dtype and metadata from the header', async () => {
    const f = tmp();
    await writeDataset(f, { train: ds.splits.train, valid: ds.splits.valid }, { source: 'synthetic seed=3', synthetic: '{}' });
    const info = await readDatasetInfo(f);
    expect(info.file).toBe(f);
    expect(info.version).toBe(1);
    expect(info.source).toBe('synthetic seed=3');
    expect(info.splitNames).toEqual(['train', 'valid']);
    expect(info.splits.train).toEqual({
      count: 12,
      text: { length: 6, dim: 5, dtype: 'F32' },
      audio: { length: 9, dim: 3, dtype: 'F32' },
      vision: { length: 7, dim: 4, dtype: 'F32' },
    });
    expect(info.splits.valid!.count).toBe(5);
    expect(info.metadata.synthetic).toBe('{}');
    expect(info.fileSize).toBeGreaterThan(4 * (12 + 5) * (6 * 5 + 9 * 3 + 7 * 4));
  });

  it('an empty split (N = 0) round-trips', async () => {
    const e = generateSynthetic({ ...small, sizes: { train: 2, valid: 0, test: 0 } });
    const f = tmp();
    await writeDataset(f, e.splits);
    const back = await readDataset(f);
    expect(back.splits.valid!.count).toBe(0);
    expect(back.splits.valid!.ids).toEqual([]);
    expect(back.metadata.source).toBe('');
  });

  it('accepts F16/F64 features and labels and I64 lengths, converting them', async () => {
    const r = rawFile(['valid']);
    const sp = ds.splits.valid;
    r.tensors['valid.labels'] = { dtype: 'F64', shape: [sp.count], data: sp.labels };
    r.tensors['valid.text.features'] = { dtype: 'F16', shape: [sp.count, 6, 5], data: new Float32Array(sp.text.features.length).fill(0.5) };
    r.tensors['valid.audio.lengths'] = { dtype: 'I64', shape: [sp.count], data: BigInt64Array.from(sp.audio.lengths, (x) => BigInt(x)) };
    const back = await readDataset(writeRaw(r));
    const v = back.splits.valid!;
    expect(bitsEqual(v.labels, sp.labels)).toBe(true);
    expect(v.text.features.every((x) => x === 0.5)).toBe(true);
    expect(v.audio.lengths).toBeInstanceOf(Int32Array);
    expect(Array.from(v.audio.lengths)).toEqual(Array.from(sp.audio.lengths));
  });

  it('rejects bad splits on write, before touching the disk', async () => {
    const f = tmp('never');
    const bad: DataSplit = { ...ds.splits.train, labels: ds.splits.train.labels.slice(1) };
    await expect(writeDataset(f, { train: bad })).rejects.toMatchObject({ code: 'invalid_split', split: 'train' });
    const nan = ds.splits.train.labels.slice();
    nan[3] = NaN;
    await expect(writeDataset(f, { train: { ...ds.splits.train, labels: nan } })).rejects.toMatchObject({ code: 'non_finite', key: 'train.labels' });
    await expect(writeDataset(f, {})).rejects.toMatchObject({ code: 'invalid_split' });
    await expect(writeDataset(f, { train: ds.splits.train }, { splits: '[]' })).rejects.toMatchObject({ code: 'invalid_metadata', key: 'splits' });
    await expect(writeDataset(f, { train: ds.splits.train }, { 'ids.train': '[]' })).rejects.toMatchObject({ code: 'invalid_metadata' });
    expect(() => readDatasetSync(f)).toThrow(SafetensorsError); // nothing was written
  });
});

describe('readDataset validation', () => {
  it('not a merclip dataset: format missing or wrong', async () => {
    const r = rawFile();
    delete r.metadata.format;
    await expectBad(writeRaw(r), 'not_dataset', undefined, 'format');
    const r2 = rawFile();
    r2.metadata.format = 'something-else';
    await expectBad(writeRaw(r2), 'not_dataset', undefined, 'format');
    // a plain safetensors file with no metadata at all
    await expectBad(writeRaw({ tensors: { w: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, metadata: {} }), 'not_dataset', undefined, 'format');
  });

  it('version missing or unsupported', async () => {
    const r = rawFile();
    r.metadata.version = '2';
    await expectBad(writeRaw(r), 'unsupported_version', undefined, 'version');
    const r2 = rawFile();
    delete r2.metadata.version;
    await expectBad(writeRaw(r2), 'unsupported_version', undefined, 'version');
  });

  it('splits metadata not a JSON array of known, distinct names', async () => {
    for (const v of ['train', '[]', '["train","bogus"]', '["train","train"]', '{"a":1}']) {
      const r = rawFile(['train']);
      r.metadata.splits = v;
      await expectBad(writeRaw(r), 'invalid_metadata', undefined, 'splits');
    }
  });

  it('a split listed without any of its tensors', async () => {
    const r = rawFile(['train']);
    r.metadata.splits = '["train","test"]';
    r.metadata['ids.test'] = '[]';
    await expectBad(writeRaw(r), 'missing_split', 'test', 'splits');
  });

  it('a missing modality tensor', async () => {
    const r = rawFile();
    delete r.tensors['valid.audio.lengths'];
    await expectBad(writeRaw(r), 'missing_tensor', 'valid', 'valid.audio.lengths');
    const r2 = rawFile();
    delete r2.tensors['train.vision.features'];
    await expectBad(writeRaw(r2), 'missing_tensor', 'train', 'train.vision.features');
  });

  it('a tensor the format does not define, or of a split not listed', async () => {
    const r = rawFile(['train']);
    r.tensors['train.latents'] = { dtype: 'F32', shape: [12], data: new Float32Array(12) };
    await expectBad(writeRaw(r), 'unexpected_tensor', undefined, 'train.latents');
    const r2 = rawFile(['train', 'valid']);
    r2.metadata.splits = '["train"]';
    await expectBad(writeRaw(r2), 'unexpected_tensor', 'valid', 'valid.audio.features');
  });

  it('wrong dtypes', async () => {
    const r = rawFile();
    r.tensors['train.text.features'] = { dtype: 'I32', shape: [12, 6, 5], data: new Int32Array(12 * 30) };
    await expectBad(writeRaw(r), 'wrong_dtype', 'train', 'train.text.features');
    const r2 = rawFile();
    r2.tensors['valid.vision.lengths'] = { dtype: 'F32', shape: [5], data: new Float32Array(5).fill(1) };
    await expectBad(writeRaw(r2), 'wrong_dtype', 'valid', 'valid.vision.lengths');
    const r3 = rawFile();
    r3.tensors['train.labels'] = { dtype: 'U8', shape: [12], data: new Uint8Array(12) };
    await expectBad(writeRaw(r3), 'wrong_dtype', 'train', 'train.labels');
  });

  it('wrong ranks, and D = 0', async () => {
    const r = rawFile();
    r.tensors['train.audio.features'] = { dtype: 'F32', shape: [12, 27], data: new Float32Array(12 * 27) };
    await expectBad(writeRaw(r), 'wrong_shape', 'train', 'train.audio.features');
    const r2 = rawFile();
    r2.tensors['valid.labels'] = { dtype: 'F32', shape: [5, 1], data: new Float32Array(5) };
    await expectBad(writeRaw(r2), 'wrong_shape', 'valid', 'valid.labels');
    const r3 = rawFile();
    r3.tensors['valid.text.lengths'] = { dtype: 'I32', shape: [], data: new Int32Array(1) };
    await expectBad(writeRaw(r3), 'wrong_shape', 'valid', 'valid.text.lengths');
    const r4 = rawFile();
    r4.tensors['train.text.features'] = { dtype: 'F32', shape: [12, 6, 0], data: new Float32Array(0) };
    await expectBad(writeRaw(r4), 'wrong_shape', 'train', 'train.text.features');
  });

  it('N disagreeing across a split\'s tensors', async () => {
    const r = rawFile();
    r.tensors['train.vision.lengths'] = { dtype: 'I32', shape: [11], data: ds.splits.train.vision.lengths.slice(0, 11) };
    await expectBad(writeRaw(r), 'count_mismatch', 'train', 'train.vision.lengths');
    const r2 = rawFile();
    r2.tensors['valid.text.features'] = { dtype: 'F32', shape: [4, 6, 5], data: new Float32Array(4 * 30) };
    await expectBad(writeRaw(r2), 'count_mismatch', 'valid', 'valid.text.features');
  });

  it('a modality\'s D differing between splits', async () => {
    const r = rawFile();
    r.tensors['valid.audio.features'] = { dtype: 'F32', shape: [5, 9, 4], data: new Float32Array(5 * 36) };
    await expectBad(writeRaw(r), 'dim_mismatch', 'valid', 'valid.audio.features');
  });

  it('lengths outside [0, L] (I32 and I64)', async () => {
    const r = rawFile();
    const le = ds.splits.train.audio.lengths.slice();
    le[4] = 10; // L = 9
    r.tensors['train.audio.lengths'] = { dtype: 'I32', shape: [12], data: le };
    await expectBad(writeRaw(r), 'length_out_of_range', 'train', 'train.audio.lengths', false);
    const r2 = rawFile();
    const le2 = ds.splits.valid.text.lengths.slice();
    le2[0] = -1;
    r2.tensors['valid.text.lengths'] = { dtype: 'I32', shape: [5], data: le2 };
    await expectBad(writeRaw(r2), 'length_out_of_range', 'valid', 'valid.text.lengths', false);
    const r3 = rawFile();
    const le3 = BigInt64Array.from(ds.splits.valid.vision.lengths, (x) => BigInt(x));
    le3[2] = 2n ** 40n; // outside int32 too
    r3.tensors['valid.vision.lengths'] = { dtype: 'I64', shape: [5], data: le3 };
    await expectBad(writeRaw(r3), 'length_out_of_range', 'valid', 'valid.vision.lengths', false);
  });

  it('ids missing, not JSON, not an array of N strings', async () => {
    for (const v of [undefined, 'not json', '{"a":1}', JSON.stringify(ds.splits.valid.ids.slice(1)), JSON.stringify([...ds.splits.valid.ids.slice(1), 7])]) {
      const r = rawFile();
      if (v === undefined) delete r.metadata['ids.valid'];
      else r.metadata['ids.valid'] = v;
      await expectBad(writeRaw(r), 'invalid_ids', 'valid', 'ids.valid');
    }
  });

  it('non-finite labels', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const r = rawFile();
      const lab = ds.splits.train.labels.slice();
      lab[7] = bad;
      r.tensors['train.labels'] = { dtype: 'F32', shape: [12], data: lab };
      await expectBad(writeRaw(r), 'non_finite', 'train', 'train.labels', false);
    }
  });

  it('NaN/Inf at a padding position is accepted; at a valid position it is rejected', async () => {
    const sp = ds.splits.train;
    const { length: L, dim: D } = sp.vision;
    // a sample with padding
    let i = 0;
    while (sp.vision.lengths[i]! >= L) i++;
    const len = sp.vision.lengths[i]!;

    const pad = rawFile(['train']);
    const fp = sp.vision.features.slice();
    fp[i * L * D + len * D] = NaN; // first padding position
    fp[(i + 1) * L * D - 1] = Infinity; // last padding value of the sample
    pad.tensors['train.vision.features'] = { dtype: 'F32', shape: [12, L, D], data: fp };
    const ok = await readDataset(writeRaw(pad));
    expect(Number.isNaN(ok.splits.train!.vision.features[i * L * D + len * D]!)).toBe(true);
    // and the writer accepts it too
    const f2 = tmp();
    await writeDataset(f2, { train: { ...sp, vision: { ...sp.vision, features: fp } } });

    const valid = rawFile(['train']);
    const fv = sp.vision.features.slice();
    fv[i * L * D + (len - 1) * D + (D - 1)] = NaN; // last valid position, last dim
    valid.tensors['train.vision.features'] = { dtype: 'F32', shape: [12, L, D], data: fv };
    const f = writeRaw(valid);
    await expectBad(f, 'non_finite', 'train', 'train.vision.features', false);
    await expect(readDataset(f)).rejects.toThrow(new RegExp(`sample ${i} .*position ${len - 1}, dim ${D - 1}`));
    // the writer refuses the same split
    await expect(writeDataset(tmp('never'), { train: { ...sp, vision: { ...sp.vision, features: fv } } }))
      .rejects.toMatchObject({ code: 'non_finite', key: 'train.vision.features' });
  });

  it('a corrupt container is a SafetensorsError naming the file', async () => {
    const f = tmp();
    writeDatasetSync(f, { valid: ds.splits.valid });
    const { truncateSync, statSync } = await import('node:fs');
    truncateSync(f, statSync(f).size - 3);
    await expect(readDataset(f)).rejects.toBeInstanceOf(SafetensorsError);
    await expect(readDataset(f)).rejects.toThrow(f);
  });
});
