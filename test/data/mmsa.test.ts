// MMSA pickle import (lib/data/mmsa.ts) against the fixtures written by
// test/fixtures/mmsa/make_fixtures.py: values as MMSA's loader gives them, every shape check, and
// hostile files refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { MODALITIES } from '../../lib/data/batch.js';
import { importMmsa, importMmsaPickle, importMmsaPickleSync, MmsaImportError, mmsaMetadata } from '../../lib/data/mmsa.js';
import { NdArray, NpDType, unpickle, type PyDict, type PyValue } from '../../lib/data/pickle.js';
import type { SplitName } from '../../lib/data/synth.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'mmsa');
const path = (f: string): string => join(dir, f);

interface ExpMod { shape: number[]; lengths: number[]; features: string /* base64 of float32 LE */ }
const floats = (b64: string): number[] => {
  const b = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
};
interface ExpSplit { count: number; ids: string[]; labels: number[]; text: ExpMod; audio: ExpMod; vision: ExpMod }
const expected = JSON.parse(readFileSync(path('expected.json'), 'utf8')) as Record<'aligned' | 'unaligned', Record<SplitName, ExpSplit>>;

const FILES: Array<[string, 'aligned' | 'unaligned']> = [
  ['aligned_p2_f64.pkl', 'aligned'],
  ['aligned_p4_f32_core.pkl', 'aligned'],
  ['unaligned_p5_f32.pkl', 'unaligned'],
  ['unaligned_p2_f64_core.pkl', 'unaligned'],
  ['unaligned_p5_f64_core.pkl', 'unaligned'],
];

/** The unpickled top-level dict of a fixture, to mutate for the error cases. */
function load(f = 'unaligned_p5_f32.pkl'): PyDict {
  return unpickle(readFileSync(path(f))) as PyDict;
}
function split(v: PyDict, s: SplitName): PyDict {
  return v.get(s) as PyDict;
}
function f32(shape: number[], fill = 0): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  return new NdArray(new NpDType('f', 4, '<'), shape, new Float32Array(n).fill(fill));
}

describe('importMmsaPickle', () => {
  it.each(FILES)('%s gives what MMSA\'s loader gives (float32, audio -inf → 0, lengths, labels, ids)', async (file, kind) => {
    const r = await importMmsaPickle(path(file));
    expect(r.aligned).toBe(kind === 'aligned');
    for (const s of ['train', 'valid', 'test'] as const) {
      const exp = expected[kind][s];
      const sp = r.splits[s]!;
      expect(sp.count).toBe(exp.count);
      expect(sp.ids).toEqual(exp.ids);
      expect(Array.from(sp.labels)).toEqual(exp.labels);
      for (const m of MODALITIES) {
        const md = sp[m];
        expect(md.features, `${s}.${m}`).toBeInstanceOf(Float32Array);
        expect([sp.count, md.length, md.dim], `${s}.${m}`).toEqual(exp[m].shape);
        expect(Array.from(md.lengths), `${s}.${m}.lengths`).toEqual(exp[m].lengths);
        expect(Array.from(md.features), `${s}.${m}.features`).toEqual(floats(exp[m].features));
        expect(md.features.some((x) => !Number.isFinite(x))).toBe(false);
      }
      const info = r.info[s]!;
      expect(info.modalities.text.lengthsFrom).toBe('text_bert');
      expect(info.modalities.audio.lengthsFrom).toBe(kind === 'aligned' ? 'full' : 'audio_lengths');
      expect(info.modalities.vision.lengthsFrom).toBe(kind === 'aligned' ? 'full' : 'vision_lengths');
      expect(info.modalities.text.sourceDtype).toBe(file.includes('f64') ? '<f8' : '<f4');
    }
    for (const s of ['train', 'valid', 'test']) {
      for (const k of ['raw_text', 'annotations', 'classification_labels', 'text_bert']) {
        expect(r.skipped.some((x) => x.startsWith(`${s}.${k} (`)), `${s}.${k}`).toBe(true);
      }
      expect(r.notes).toContain(`${s}.audio: 2 -inf value(s) set to 0 (as MMSA's loader does)`);
    }
    expect(r.skipped.some((x) => /^train\.(text|audio|vision|id|regression_labels|audio_lengths|vision_lengths) /.test(x))).toBe(false);
  });

  it('takes bytes as well as a path, sync and async; metadata records the import', async () => {
    const bytes = readFileSync(path('unaligned_p5_f32.pkl'));
    const a = await importMmsaPickle(bytes);
    const b = importMmsaPickleSync(path('unaligned_p5_f32.pkl'));
    expect(a.splits).toEqual(b.splits);
    const meta = mmsaMetadata(b, path('unaligned_p5_f32.pkl'));
    expect(meta.source).toBe('MMSA pickle unaligned_p5_f32.pkl');
    expect(meta.mmsa_aligned).toBe('false');
    expect(JSON.parse(meta.mmsa_lengths!)).toMatchObject({ train: { text: 'text_bert', audio: 'audio_lengths', vision: 'vision_lengths' } });
  });

  it('without text_bert the text lengths are the full length; without *_lengths, audio/vision too', () => {
    const v = load();
    for (const s of ['train', 'valid', 'test'] as const) {
      split(v, s).delete('text_bert');
      split(v, s).delete('audio_lengths');
      split(v, s).set('vision_lengths', null);
    }
    const r = importMmsa(v, 'x.pkl');
    expect(r.aligned).toBe(true);
    expect(Array.from(r.splits.train!.text.lengths)).toEqual([8, 8, 8]);
    expect(Array.from(r.splits.train!.audio.lengths)).toEqual([10, 10, 10]);
    expect(r.info.train!.modalities.text.lengthsFrom).toBe('full');
  });

  it('a file with only some splits imports those; other top-level keys are skipped', () => {
    const v = load();
    v.delete('valid');
    v.set('extra', 'hello');
    const r = importMmsa(v, 'x.pkl');
    expect(Object.keys(r.splits)).toEqual(['train', 'test']);
    expect(r.skipped).toContain("extra (str 'hello')");
  });

  const cases: Array<[string, (v: PyDict) => void, RegExp]> = [
    ['top level not a dict', () => {}, /x\.pkl: not an MMSA feature file: the top level is list of 0/],
    ['no split keys', (v) => { v.clear(); v.set('foo', 1); }, /no train\/valid\/test key \(keys: foo\)/],
    ['a split that is not a dict', (v) => v.set('valid', 3), /x\.pkl: valid: expected a dict of arrays, got number 3/],
    ['missing audio', (v) => split(v, 'train').delete('audio'), /x\.pkl: train\.audio: missing/],
    ['text of rank 2', (v) => split(v, 'valid').set('text', f32([2, 8])), /valid\.text: expected a 3-d array, got shape \[2, 8\]/],
    ['vision N differs', (v) => split(v, 'test').set('vision', f32([3, 12, 5])), /test\.vision: has 3 samples but text has 2/],
    ['feature dim 0', (v) => split(v, 'train').set('audio', f32([3, 10, 0])), /train\.audio: feature dimension is 0/],
    ['labels N differs', (v) => split(v, 'train').set('regression_labels', f32([2])), /train\.regression_labels: has 2 samples but text has 3/],
    ['labels rank 2 wide', (v) => split(v, 'train').set('regression_labels', f32([3, 2])), /train\.regression_labels: expected shape \[N\] or \[N, 1\]/],
    ['labels missing', (v) => split(v, 'train').delete('regression_labels'), /train\.regression_labels: missing/],
    ['a NaN label', (v) => split(v, 'train').set('regression_labels', f32([3], NaN)), /train\.regression_labels: label 0 is NaN/],
    ['ids N differs', (v) => split(v, 'train').set('id', ['a', 'b']), /train\.id: has 2 samples but text has 3/],
    ['an id that is not a str', (v) => split(v, 'train').set('id', ['a', 'b', null]), /train\.id: id 2 is None, not a str/],
    ['audio_lengths N differs', (v) => split(v, 'train').set('audio_lengths', [1, 2]), /train\.audio_lengths: has 2 samples but text has 3/],
    ['audio_lengths beyond L', (v) => split(v, 'train').set('audio_lengths', [1, 11, 2]), /train\.audio_lengths: length 1 = 11 is outside \[0, 10\]/],
    ['negative vision length', (v) => split(v, 'valid').set('vision_lengths', [-1, 2]), /valid\.vision_lengths: length 0 = -1 is outside/],
    ['fractional length', (v) => split(v, 'valid').set('vision_lengths', [1.5, 2]), /valid\.vision_lengths: length 0 is number 1\.5, not an integer/],
    ['lengths not a sequence', (v) => split(v, 'valid').set('vision_lengths', 'abc'), /valid\.vision_lengths: expected a list or 1-d array/],
    ['text_bert wrong shape', (v) => split(v, 'train').set('text_bert', f32([3, 2, 8])), /train\.text_bert: expected shape \[N, 3, L\]/],
    ['text_bert mask not 0/1', (v) => split(v, 'train').set('text_bert', f32([3, 3, 8], 2)), /train\.text_bert: input mask \(row 1\) of sample 0 has value 2/],
    ['text_bert mask longer than text', (v) => split(v, 'train').set('text_bert', f32([3, 3, 9], 1)), /train\.text_bert: input mask of sample 0 covers 9 tokens but text has only 8/],
    ['dims differ across splits', (v) => split(v, 'test').set('vision', f32([2, 12, 7])), /test\.vision: feature dimension 7 differs from train's 5/],
  ];
  it.each(cases)('refuses: %s (the error names file, split and key)', (_name, mutate, re) => {
    const v = load();
    mutate(v);
    const value: PyValue = _name === 'top level not a dict' ? [] : v;
    expect(() => importMmsa(value, 'x.pkl')).toThrow(MmsaImportError);
    expect(() => importMmsa(value, 'x.pkl')).toThrow(re);
  });

  it('NaN/Inf at valid positions: an error, or zeroed with zeroNonFinite; padding may hold anything', () => {
    const v = load();
    const vis = split(v, 'train').get('vision') as NdArray; // lengths 12, 4, 9; L = 12, D = 5
    const data = vis.data as Float32Array;
    data[(1 * 12 + 6) * 5 + 2] = NaN; // sample 1, position 6: padding
    expect(() => importMmsa(v, 'x.pkl')).not.toThrow();
    data[(1 * 12 + 3) * 5 + 4] = Infinity; // sample 1, position 3: valid
    expect(() => importMmsa(v, 'x.pkl')).toThrow(/x\.pkl: train\.vision: 1 NaN\/Inf value\(s\) at valid positions, first at sample 1 \(id vidt1\$_\$2\), position 3, feature 4: Infinity/);
    const r = importMmsa(v, 'x.pkl', { zeroNonFinite: true });
    expect(r.splits.train!.vision.features.every((x) => Number.isFinite(x))).toBe(true);
    expect(r.notes).toContain('train.vision: 2 NaN/Inf value(s) set to 0 (zeroNonFinite)');
    expect(Number.isNaN(data[(1 * 12 + 6) * 5 + 2]!)).toBe(true); // the unpickled array is not modified
  });

  it.each([
    ['evil_os_system.pkl', 'os.system'],
    ['evil_builtins_eval.pkl', 'builtins.eval'],
    ['evil_subprocess_popen.pkl', 'subprocess.Popen'],
  ])('refuses the hostile %s (naming %s)', async (file, global) => {
    await expect(importMmsaPickle(path(file))).rejects.toThrow(MmsaImportError);
    await expect(importMmsaPickle(path(file))).rejects.toThrow(`${file}: pickle refers to the global '${global}'`);
  });

  it('a truncated file and a missing file are clear errors', async () => {
    await expect(importMmsaPickle(path('truncated.pkl'))).rejects.toThrow(/truncated\.pkl: truncated pickle/);
    await expect(importMmsaPickle(path('nope.pkl'))).rejects.toThrow(/nope\.pkl: cannot read/);
  });
});
