// lib/data/mmsa.ts — import of the MMSA feature pickles (CMU-MOSI / CMU-MOSEI `aligned_50.pkl`,
// `unaligned_50.pkl`, as MMSA distributes them) into the package's split layout (lib/data/batch.ts),
// read with the safe unpickler (lib/data/pickle.ts; nothing in the file is executed).
//
// The file is a dict of `train` / `valid` / `test`, each a dict with
//   text [N, Lt, Dt], audio [N, La, Da], vision [N, Lv, Dv]   feature arrays (any float/int dtype)
//   regression_labels [N] (or [N, 1])                          the sentiment score
//   id [N]                                                      object array of str (or a U/S array)
//   audio_lengths, vision_lengths [N]                           unaligned files only (list or array)
//   text_bert [N, 3, Lt]                                        BERT ids / input mask / segment ids
//   raw_text, annotations, classification_labels, …             not used
//
// What MMSA's loader (MMSA/data_loader.py, MMDataset.__init_mosi) does, and so what this does:
//   - every feature array is cast to float32, the labels to float32 [N];
//   - audio values equal to -inf are set to 0 (the whole array, as MMSA does);
//   - audio / vision lengths come from `audio_lengths` / `vision_lengths` when present (the
//     unaligned files); otherwise every sample has the full length L (the aligned files);
//   - text lengths are the sum of the input-mask row of `text_bert` (row 1 of [N, 3, L]), which is
//     how MMSA's models compute them; without `text_bert`, the full length.
// Checked, with errors naming the file, split and key: the top level is a dict with at least one
// of train/valid/test; each split is a dict with text, audio, vision and regression_labels; every
// array has the expected rank; N is equal across all of a split's keys; every length is an
// integer within [0, L]; the mask row is 0/1; labels are finite; each modality's D is equal
// across splits. NaN/±Inf left in features at valid positions after the -inf fix are an error
// (the dataset file refuses them) unless `zeroNonFinite` sets them to 0.
//
// Kept: features, lengths, labels, ids. Skipped (listed in `skipped`): raw_text, annotations,
// classification_labels, text_bert (only its mask row is used), any other key, and any top-level
// key other than train/valid/test.
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { MODALITIES, validateSplit, type DataSplit, type ModalityData, type ModalityName } from './batch.js';
import { NdArray, PickleError, PyTuple, describe, unpickle, type PyValue, type UnpickleOptions } from './pickle.js';
import { SPLITS, type SplitName } from './synth.js';

/** A pickle that is not a valid MMSA feature file; the message names the file, split and key. */
export class MmsaImportError extends Error {
  override name = 'MmsaImportError';
  constructor(
    message: string,
    readonly split?: string,
    readonly key?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface MmsaImportOptions {
  /** Set NaN/±Inf left in features (after MMSA's audio -inf → 0) to 0 instead of failing. Default false. */
  zeroNonFinite?: boolean;
  /** Limits for the unpickler. */
  unpickle?: UnpickleOptions;
}

export type LengthSource = 'text_bert' | 'audio_lengths' | 'vision_lengths' | 'full';

export interface MmsaSplitInfo {
  count: number;
  modalities: Record<ModalityName, { length: number; dim: number; lengthsFrom: LengthSource; sourceDtype: string }>;
  labelsDtype: string;
}

export interface MmsaImport {
  splits: Partial<Record<SplitName, DataSplit>>;
  /** Per split: count, shapes and where the lengths came from. */
  info: Partial<Record<SplitName, MmsaSplitInfo>>;
  /** True when no split has audio_lengths / vision_lengths (an aligned file). */
  aligned: boolean;
  /** What was not imported, as 'split.key (description)' or 'key (description)' for top-level keys. */
  skipped: string[];
  /** What was done to the data (e.g. '-inf values set to 0'), one line each. */
  notes: string[];
}

const USED = new Set(['text', 'audio', 'vision', 'regression_labels', 'id', 'audio_lengths', 'vision_lengths']);

type Where = { file: string; split: string };

function err(w: Where, key: string | undefined, msg: string): never {
  throw new MmsaImportError(`${w.file}: ${w.split}${key ? `.${key}` : ''}: ${msg}`, w.split, key);
}

function toFloat32(w: Where, key: string, a: NdArray): Float32Array {
  const d = a.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof Float64Array || d instanceof Int8Array || d instanceof Uint8Array || d instanceof Int16Array ||
      d instanceof Uint16Array || d instanceof Int32Array || d instanceof Uint32Array) {
    return Float32Array.from(d);
  }
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Float32Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]!);
    return out;
  }
  err(w, key, `expected a numeric array, got ${describe(a)}`);
}

function asArray(w: Where, key: string, v: PyValue | undefined, rank: number | number[]): NdArray {
  if (v === undefined) err(w, key, 'missing');
  if (!(v instanceof NdArray)) err(w, key, `expected a numpy array, got ${describe(v)}`);
  const ranks = Array.isArray(rank) ? rank : [rank];
  if (!ranks.includes(v.shape.length)) {
    err(w, key, `expected a ${ranks.join(' or ')}-d array, got shape [${v.shape.join(', ')}]`);
  }
  return v;
}

function checkCount(w: Where, key: string, got: number, n: number, nFrom: string): void {
  if (got !== n) err(w, key, `has ${got} samples but ${nFrom} has ${n}`);
}

/** Lengths from a list or a 1-d numeric array, each an integer in [0, L]. */
function readLengths(w: Where, key: string, v: PyValue, n: number, L: number, nFrom: string): Int32Array {
  let vals: ArrayLike<unknown>;
  if (Array.isArray(v)) vals = v;
  else if (v instanceof PyTuple) vals = v.items;
  else if (v instanceof NdArray && v.shape.length === 1 && v.dtype.kind !== 'U' && v.dtype.kind !== 'S') vals = v.data as ArrayLike<unknown>;
  else if (v instanceof NdArray && v.shape.length === 2 && v.shape[1] === 1) vals = v.data as ArrayLike<unknown>;
  else err(w, key, `expected a list or 1-d array of lengths, got ${describe(v)}`);
  checkCount(w, key, vals.length, n, nFrom);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const x = vals[i];
    const num = typeof x === 'bigint' ? Number(x) : x;
    if (typeof num !== 'number' || !Number.isInteger(num)) err(w, key, `length ${i} is ${describe(x)}, not an integer`);
    if (num < 0 || num > L) err(w, key, `length ${i} = ${num} is outside [0, ${L}] (the features' padded length)`);
    out[i] = num;
  }
  return out;
}

function readIds(w: Where, v: PyValue | undefined, n: number, notes: string[]): string[] {
  if (v === undefined) {
    notes.push(`${w.split}: no 'id' key; ids set to ${w.split}-0 … ${w.split}-${n - 1}`);
    return Array.from({ length: n }, (_, i) => `${w.split}-${i}`);
  }
  let vals: ArrayLike<unknown>;
  if (v instanceof NdArray && v.shape.length === 1 && (v.dtype.kind === 'O' || v.dtype.kind === 'U' || v.dtype.kind === 'S')) vals = v.data as ArrayLike<unknown>;
  else if (Array.isArray(v)) vals = v;
  else err(w, 'id', `expected an object array (or list) of str, got ${describe(v)}`);
  checkCount(w, 'id', vals.length, n, 'text');
  const dec = new TextDecoder('utf-8');
  const out: string[] = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const x = vals[i];
    if (typeof x === 'string') out[i] = x;
    else if (x instanceof Uint8Array) out[i] = dec.decode(x);
    else if (typeof x === 'number' || typeof x === 'bigint') out[i] = String(x);
    else err(w, 'id', `id ${i} is ${describe(x)}, not a str`);
  }
  return out;
}

function importSplit(file: string, split: SplitName, d: Map<unknown, PyValue>, opts: MmsaImportOptions, skipped: string[], notes: string[]): { split: DataSplit; info: MmsaSplitInfo; unaligned: boolean } {
  const w: Where = { file, split };
  const get = (k: string): PyValue | undefined => (d.has(k) ? d.get(k) : undefined);
  const text = asArray(w, 'text', get('text'), 3);
  const n = text.shape[0]!;
  const feats: Partial<Record<ModalityName, { arr: NdArray; f32: Float32Array }>> = {};
  for (const m of MODALITIES) {
    const a = m === 'text' ? text : asArray(w, m, get(m), 3);
    checkCount(w, m, a.shape[0]!, n, 'text');
    if (a.shape[2] === 0) err(w, m, `feature dimension is 0 (shape [${a.shape.join(', ')}])`);
    let f32 = toFloat32(w, m, a);
    if (m === 'audio') {
      let fixed = 0;
      for (let i = 0; i < f32.length; i++) {
        if (f32[i] === -Infinity) {
          if (fixed === 0 && f32 === a.data) f32 = f32.slice(); // never mutate the unpickled array
          f32[i] = 0;
          fixed++;
        }
      }
      if (fixed > 0) notes.push(`${split}.audio: ${fixed} -inf value(s) set to 0 (as MMSA's loader does)`);
    }
    feats[m] = { arr: a, f32 };
  }

  // labels
  const lab = get('regression_labels');
  let labels: Float32Array;
  let labelsDtype: string;
  if (lab instanceof NdArray) {
    if (!(lab.shape.length === 1 || (lab.shape.length === 2 && lab.shape[1] === 1))) {
      err(w, 'regression_labels', `expected shape [N] or [N, 1], got [${lab.shape.join(', ')}]`);
    }
    checkCount(w, 'regression_labels', lab.shape[0]!, n, 'text');
    labels = Float32Array.from(toFloat32(w, 'regression_labels', lab));
    labelsDtype = lab.dtype.str;
  } else if (Array.isArray(lab)) {
    checkCount(w, 'regression_labels', lab.length, n, 'text');
    labels = new Float32Array(n);
    lab.forEach((x, i) => {
      if (typeof x !== 'number') err(w, 'regression_labels', `label ${i} is ${describe(x)}, not a number`);
      labels[i] = x;
    });
    labelsDtype = 'list';
  } else {
    err(w, 'regression_labels', lab === undefined ? 'missing' : `expected a numpy array, got ${describe(lab)}`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(labels[i]!)) err(w, 'regression_labels', `label ${i} is ${labels[i]}`);
  }
  const ids = readIds(w, get('id'), n, notes);

  // lengths
  const lengths = {} as Record<ModalityName, Int32Array>;
  const from = {} as Record<ModalityName, LengthSource>;
  for (const m of ['audio', 'vision'] as const) {
    const key = `${m}_lengths` as const;
    const L = feats[m]!.arr.shape[1]!;
    const v = get(key);
    if (v !== undefined && v !== null) {
      lengths[m] = readLengths(w, key, v, n, L, 'text');
      from[m] = key;
    } else {
      lengths[m] = new Int32Array(n).fill(L);
      from[m] = 'full';
    }
  }
  const Lt = text.shape[1]!;
  const bert = get('text_bert');
  if (bert !== undefined && bert !== null) {
    const b = asArray(w, 'text_bert', bert, 3);
    if (b.shape[1] !== 3) err(w, 'text_bert', `expected shape [N, 3, L] (ids, mask, segments), got [${b.shape.join(', ')}]`);
    checkCount(w, 'text_bert', b.shape[0]!, n, 'text');
    const Lb = b.shape[2]!;
    const mask = toFloat32(w, 'text_bert', b);
    const tl = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      const off = (i * 3 + 1) * Lb;
      for (let t = 0; t < Lb; t++) {
        const x = mask[off + t]!;
        if (x !== 0 && x !== 1) err(w, 'text_bert', `input mask (row 1) of sample ${i} has value ${x} at position ${t}; expected 0 or 1`);
        s += x;
      }
      if (s > Lt) err(w, 'text_bert', `input mask of sample ${i} covers ${s} tokens but text has only ${Lt} positions`);
      tl[i] = s;
    }
    lengths.text = tl;
    from.text = 'text_bert';
    skipped.push(`${split}.text_bert (token ids and segment ids; its input-mask row gave the text lengths)`);
  } else {
    lengths.text = new Int32Array(n).fill(Lt);
    from.text = 'full';
  }

  // non-finite values at valid positions
  for (const m of MODALITIES) {
    const f = feats[m]!;
    const [, L, D] = f.arr.shape as [number, number, number];
    let bad = 0;
    let first = '';
    for (let i = 0; i < n; i++) {
      const end = (i * L + lengths[m][i]!) * D;
      for (let j = i * L * D; j < end; j++) {
        const x = f.f32[j]!;
        if (!Number.isFinite(x)) {
          if (bad === 0) first = `sample ${i} (id ${ids[i]}), position ${Math.floor((j - i * L * D) / D)}, feature ${(j - i * L * D) % D}: ${x}`;
          bad++;
        }
      }
    }
    if (bad > 0) {
      if (!opts.zeroNonFinite) {
        err(w, m, `${bad} NaN/Inf value(s) at valid positions, first at ${first} (zeroNonFinite / --zero-nonfinite sets them to 0)`);
      }
      if (f.f32 === f.arr.data) f.f32 = f.f32.slice();
      let z = 0;
      for (let j = 0; j < f.f32.length; j++) if (!Number.isFinite(f.f32[j]!)) { f.f32[j] = 0; z++; }
      notes.push(`${split}.${m}: ${z} NaN/Inf value(s) set to 0 (zeroNonFinite)`);
    }
  }

  for (const [k, v] of d) {
    const key = typeof k === 'string' ? k : String(k);
    if (!USED.has(key) && key !== 'text_bert') skipped.push(`${split}.${key} (${describe(v as PyValue)})`);
  }

  const md = (m: ModalityName): ModalityData => ({
    features: feats[m]!.f32,
    lengths: lengths[m],
    length: feats[m]!.arr.shape[1]!,
    dim: feats[m]!.arr.shape[2]!,
  });
  const out: DataSplit = { count: n, ids, labels, text: md('text'), audio: md('audio'), vision: md('vision') };
  validateSplit(out, `${file}: ${split}`);
  const info: MmsaSplitInfo = {
    count: n,
    modalities: {} as MmsaSplitInfo['modalities'],
    labelsDtype,
  };
  for (const m of MODALITIES) {
    info.modalities[m] = { length: out[m].length, dim: out[m].dim, lengthsFrom: from[m], sourceDtype: feats[m]!.arr.dtype.str };
  }
  return { split: out, info, unaligned: from.audio !== 'full' || from.vision !== 'full' };
}

/**
 * Import an already unpickled MMSA value (the top-level dict). `file` names the source in errors.
 */
export function importMmsa(value: PyValue, file = 'MMSA pickle', options: MmsaImportOptions = {}): MmsaImport {
  if (!(value instanceof Map)) {
    throw new MmsaImportError(`${file}: not an MMSA feature file: the top level is ${describe(value)}, expected a dict of train/valid/test`);
  }
  const present = SPLITS.filter((s) => value.has(s));
  if (present.length === 0) {
    const keys = [...value.keys()].slice(0, 10).map((k) => String(k)).join(', ');
    throw new MmsaImportError(`${file}: not an MMSA feature file: no train/valid/test key (keys: ${keys || 'none'})`);
  }
  const result: MmsaImport = { splits: {}, info: {}, aligned: true, skipped: [], notes: [] };
  for (const [k, v] of value) {
    if (!(SPLITS as readonly unknown[]).includes(k)) result.skipped.push(`${String(k)} (${describe(v)})`);
  }
  for (const s of present) {
    const d = value.get(s);
    if (!(d instanceof Map)) throw new MmsaImportError(`${file}: ${s}: expected a dict of arrays, got ${describe(d ?? null)}`, s);
    const { split, info, unaligned } = importSplit(file, s, d, options, result.skipped, result.notes);
    result.splits[s] = split;
    result.info[s] = info;
    if (unaligned) result.aligned = false;
  }
  // D must agree across splits (the dataset file requires it)
  for (const m of MODALITIES) {
    const first = present[0]!;
    const dim = result.splits[first]![m].dim;
    for (const s of present.slice(1)) {
      const dd = result.splits[s]![m].dim;
      if (dd !== dim) err({ file, split: s }, m, `feature dimension ${dd} differs from ${first}'s ${dim}`);
    }
  }
  return result;
}

function unpickleFile(bytes: Uint8Array, file: string, options: MmsaImportOptions): PyValue {
  try {
    return unpickle(bytes, options.unpickle);
  } catch (e) {
    if (e instanceof PickleError) throw new MmsaImportError(`${file}: ${e.message}`, undefined, undefined, { cause: e });
    throw e;
  }
}

/**
 * Read an MMSA feature pickle (a path, or its bytes) and convert it as MMSA's loader does.
 * Throws MmsaImportError (naming the file, split and key) for anything invalid or unsafe.
 */
export async function importMmsaPickle(source: string | Uint8Array, options: MmsaImportOptions = {}): Promise<MmsaImport> {
  const file = typeof source === 'string' ? basename(source) : 'MMSA pickle';
  const bytes = typeof source === 'string' ? await readInput(source) : source;
  return importMmsa(unpickleFile(bytes, file, options), file, options);
}

/** Synchronous importMmsaPickle. */
export function importMmsaPickleSync(source: string | Uint8Array, options: MmsaImportOptions = {}): MmsaImport {
  const file = typeof source === 'string' ? basename(source) : 'MMSA pickle';
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = readFileSync(source);
    } catch (e) {
      throw new MmsaImportError(`${file}: cannot read: ${(e as Error).message}`, undefined, undefined, { cause: e });
    }
  } else bytes = source;
  return importMmsa(unpickleFile(bytes, file, options), file, options);
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new MmsaImportError(`${basename(path)}: cannot read: ${(e as Error).message}`, undefined, undefined, { cause: e });
  }
}

/** Metadata for the dataset file written from an import (keys not reserved by lib/data/file.ts). */
export function mmsaMetadata(result: MmsaImport, file: string): Record<string, string> {
  const lengths: Record<string, Record<string, LengthSource>> = {};
  for (const [s, info] of Object.entries(result.info)) {
    lengths[s] = Object.fromEntries(MODALITIES.map((m) => [m, info.modalities[m].lengthsFrom]));
  }
  return {
    source: `MMSA pickle ${basename(file)}`,
    mmsa_aligned: String(result.aligned),
    mmsa_lengths: JSON.stringify(lengths),
    mmsa_skipped: JSON.stringify(result.skipped),
    mmsa_notes: JSON.stringify(result.notes),
  };
}
