// lib/data/file.ts — the package's dataset file (SPEC §4 b): what training reads, what the
// synthetic generator writes and what real data (MMSA pickles) is converted into.
//
// Format "merclip-dataset", version 1: one safetensors file (lib/io/safetensors.ts) holding
//
//   tensors, for every split present (train / valid / test, any non-empty subset) and every
//   modality m of text / audio / vision (all three in every split):
//     {split}.{m}.features   F32 [N, L_m, D_m]   row-major, padded to L_m; D_m ≥ 1, L_m ≥ 0
//     {split}.{m}.lengths    I32 [N]             true length of each sample, in [0, L_m]
//     {split}.labels         F32 [N]             regression label of each sample
//   (N is the split's sample count and must agree across the split's seven tensors; D_m must
//   agree across splits, L_m may differ. Positions t ≥ length are padding: their values are
//   arbitrary — not even required to be finite — and must never influence a result.)
//
//   metadata (string → string):
//     format      "merclip-dataset"
//     version     "1"
//     splits      JSON array of the split names present, e.g. ["train","valid","test"]
//     ids.{split} JSON array of the N sample id strings of that split, in row order
//     source      free text: where the data came from ("synthetic seed=1", a pickle path, …)
//     …           any extra caller metadata (e.g. `synthetic` = JSON of the generator options)
//
// The writer produces exactly this (F32 / I32, tensors in name order, so every tensor is 4-byte
// aligned in the file and the reader hands back zero-copy views into one file buffer). The
// reader also accepts, converting: features and labels as F16 / BF16 / F64 (→ Float32Array, a
// copy), lengths as I64 (each within [0, L], → Int32Array, a copy).
//
// Validation on read: everything below is checked before anything is returned, and every
// failure is a DatasetFileError whose message names the file, the split and the tensor or
// metadata key (a corrupt safetensors container is a SafetensorsError from lib/io, which names
// the file and tensor too):
//   not_dataset          `format` missing or not "merclip-dataset"
//   unsupported_version  `version` missing or not "1"
//   invalid_metadata     `splits` not a JSON array of distinct known split names (at least one)
//   missing_split        a split listed in `splits` with none of its tensors
//   missing_tensor       one of a listed split's seven tensors missing
//   unexpected_tensor    a tensor the format does not define (or of a split not listed)
//   wrong_dtype          features/labels not F32 (or F16/BF16/F64), lengths not I32 (or I64)
//   wrong_shape          wrong rank, or D = 0
//   count_mismatch       N disagreeing across a split's tensors
//   dim_mismatch         a modality's D differing between splits
//   length_out_of_range  a length outside [0, L]
//   invalid_ids          `ids.{split}` missing, not JSON, or not an array of N strings
//   non_finite           a NaN/±Inf label, or a NaN/±Inf feature at a valid position (t < length)
// The value checks (lengths, labels, features at valid positions) are one pass over the data.
// On write, the same rules are applied to the splits given (after validateSplit), so the writer
// never produces a file the reader rejects; those errors are DatasetFileErrors too
// (`invalid_split` for what validateSplit rejects).

import {
  readSafetensors,
  readSafetensorsHeader,
  readSafetensorsHeaderSync,
  readSafetensorsSync,
  writeSafetensors,
  writeSafetensorsSync,
  fmtShape,
  show as showValue,
  type SafetensorsDtype,
  type SafetensorsFile,
  type WritableTensor,
} from '../io/index.js';
import { MODALITIES, validateSplit, type DataSplit, type ModalityData, type ModalityName } from './batch.js';
import { SPLITS, type SplitName } from './synth.js';

export const DATASET_FORMAT = 'merclip-dataset';
export const DATASET_VERSION = '1';

/** Metadata keys the format owns (callers may not set them). */
const RESERVED_KEYS = new Set(['format', 'version', 'splits']);

export type DatasetFileErrorCode =
  | 'not_dataset' | 'unsupported_version' | 'invalid_metadata' | 'missing_split' | 'missing_tensor'
  | 'unexpected_tensor' | 'wrong_dtype' | 'wrong_shape' | 'count_mismatch' | 'dim_mismatch'
  | 'length_out_of_range' | 'invalid_ids' | 'non_finite'
  // writer-only
  | 'invalid_split';

/** A dataset file that is not a valid merclip dataset (or splits that cannot be written as one). */
export class DatasetFileError extends Error {
  readonly code: DatasetFileErrorCode;
  readonly file: string;
  readonly split?: string;
  /** The tensor name or metadata key at fault. */
  readonly key?: string;

  constructor(code: DatasetFileErrorCode, file: string, split: string | undefined, key: string | undefined, detail: string, options?: { cause?: unknown }) {
    let where = `${file}: `;
    if (split !== undefined) where += `split ${JSON.stringify(split)}: `;
    if (key !== undefined) where += `${JSON.stringify(key)}: `;
    super(where + detail, options);
    this.name = 'DatasetFileError';
    this.code = code;
    this.file = file;
    if (split !== undefined) this.split = split;
    if (key !== undefined) this.key = key;
  }
}

export type DatasetSplits = Partial<Record<SplitName, DataSplit>>;

export interface Dataset {
  splits: DatasetSplits;
  /** The file's whole metadata (format, version, splits, ids.*, source and any extra keys). */
  metadata: Record<string, string>;
}

export interface DatasetModalityInfo {
  /** Padded length L. */
  length: number;
  /** Feature dimension D. */
  dim: number;
  /** The features' dtype in the file. */
  dtype: SafetensorsDtype;
}

export interface DatasetSplitInfo {
  count: number;
  text: DatasetModalityInfo;
  audio: DatasetModalityInfo;
  vision: DatasetModalityInfo;
}

/** What the header alone says about a dataset file (no tensor data read). */
export interface DatasetInfo {
  file: string;
  fileSize: number;
  version: number;
  source: string;
  /** The split names present, in the order of the `splits` metadata. */
  splitNames: SplitName[];
  splits: Partial<Record<SplitName, DatasetSplitInfo>>;
  metadata: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Names

export function featuresKey(split: SplitName, m: ModalityName): string {
  return `${split}.${m}.features`;
}
export function lengthsKey(split: SplitName, m: ModalityName): string {
  return `${split}.${m}.lengths`;
}
export function labelsKey(split: SplitName): string {
  return `${split}.labels`;
}
export function idsKey(split: SplitName): string {
  return `ids.${split}`;
}

function show(v: unknown): string {
  return showValue(v, 80);
}

const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16', 'F64']);
const INT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['I32', 'I64']);

// ---------------------------------------------------------------------------------------------
// Structure (header-level) validation: shared by readDataset and readDatasetInfo

interface Entry {
  dtype: SafetensorsDtype;
  shape: readonly number[];
}

interface SplitLayout {
  count: number;
  ids: string[];
  modalities: Record<ModalityName, DatasetModalityInfo>;
}

interface Layout {
  splitNames: SplitName[];
  splits: Partial<Record<SplitName, SplitLayout>>;
}

function checkMetadataHead(file: string, metadata: Record<string, string>): SplitName[] {
  const format = metadata.format;
  if (format !== DATASET_FORMAT) {
    throw new DatasetFileError('not_dataset', file, undefined, 'format',
      format === undefined
        ? `not a merclip dataset file (no "format" metadata; expected "${DATASET_FORMAT}")`
        : `not a merclip dataset file (format is ${show(format)}, expected "${DATASET_FORMAT}")`);
  }
  const version = metadata.version;
  if (version !== DATASET_VERSION) {
    throw new DatasetFileError('unsupported_version', file, undefined, 'version',
      version === undefined
        ? `merclip dataset without a "version" (this reader supports version ${DATASET_VERSION})`
        : `merclip dataset version ${show(version)} is not supported (this reader supports version ${DATASET_VERSION})`);
  }
  const raw = metadata.splits;
  if (raw === undefined) throw new DatasetFileError('invalid_metadata', file, undefined, 'splits', 'missing (expected a JSON array of split names)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DatasetFileError('invalid_metadata', file, undefined, 'splits', `is not JSON: ${show(raw)}`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new DatasetFileError('invalid_metadata', file, undefined, 'splits', `expected a non-empty JSON array of split names, got ${show(raw)}`);
  }
  const names: SplitName[] = [];
  for (const s of parsed) {
    if (typeof s !== 'string' || !(SPLITS as readonly string[]).includes(s)) {
      throw new DatasetFileError('invalid_metadata', file, undefined, 'splits', `unknown split ${show(s)} (expected ${SPLITS.join(', ')})`);
    }
    if (names.includes(s as SplitName)) throw new DatasetFileError('invalid_metadata', file, undefined, 'splits', `split ${show(s)} listed twice`);
    names.push(s as SplitName);
  }
  return names;
}

function parseIds(file: string, split: SplitName, metadata: Record<string, string>, count: number): string[] {
  const key = idsKey(split);
  const raw = metadata[key];
  if (raw === undefined) throw new DatasetFileError('invalid_ids', file, split, key, `missing (expected a JSON array of ${count} id strings)`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DatasetFileError('invalid_ids', file, split, key, `is not JSON (expected a JSON array of ${count} id strings)`);
  }
  if (!Array.isArray(parsed)) throw new DatasetFileError('invalid_ids', file, split, key, `expected a JSON array of ${count} id strings, got ${show(parsed)}`);
  if (parsed.length !== count) throw new DatasetFileError('invalid_ids', file, split, key, `has ${parsed.length} ids, expected ${count} (the split's N)`);
  for (let i = 0; i < parsed.length; i++) {
    if (typeof parsed[i] !== 'string') throw new DatasetFileError('invalid_ids', file, split, key, `id ${i} is ${show(parsed[i])}, expected a string`);
  }
  return parsed as string[];
}

function validateLayout(file: string, entries: ReadonlyMap<string, Entry>, metadata: Record<string, string>): Layout {
  const splitNames = checkMetadataHead(file, metadata);

  // every tensor must be one the format defines, for a listed split
  const expected = new Map<string, SplitName>();
  for (const s of SPLITS) {
    expected.set(labelsKey(s), s);
    for (const m of MODALITIES) {
      expected.set(featuresKey(s, m), s);
      expected.set(lengthsKey(s, m), s);
    }
  }
  for (const name of entries.keys()) {
    const s = expected.get(name);
    if (s === undefined) throw new DatasetFileError('unexpected_tensor', file, undefined, name, 'is not a tensor of the merclip dataset format (expected {split}.{modality}.features / .lengths, {split}.labels)');
    if (!splitNames.includes(s)) throw new DatasetFileError('unexpected_tensor', file, s, name, `belongs to split ${JSON.stringify(s)}, which the "splits" metadata (${show(splitNames)}) does not list`);
  }

  const splits: Partial<Record<SplitName, SplitLayout>> = {};
  const dims = {} as Partial<Record<ModalityName, { dim: number; split: SplitName }>>;
  for (const s of splitNames) {
    const names = [labelsKey(s), ...MODALITIES.flatMap((m) => [featuresKey(s, m), lengthsKey(s, m)])];
    if (names.every((n) => !entries.has(n))) {
      throw new DatasetFileError('missing_split', file, s, 'splits', `listed in the "splits" metadata but the file has none of its tensors (${names.join(', ')})`);
    }
    for (const n of names) {
      if (!entries.has(n)) throw new DatasetFileError('missing_tensor', file, s, n, 'missing tensor');
    }
    const labels = entries.get(labelsKey(s))!;
    const lk = labelsKey(s);
    if (!FLOAT_DTYPES.has(labels.dtype)) throw new DatasetFileError('wrong_dtype', file, s, lk, `dtype ${labels.dtype}, expected F32 (or F16/BF16/F64)`);
    if (labels.shape.length !== 1) throw new DatasetFileError('wrong_shape', file, s, lk, `shape ${fmtShape(labels.shape)} has rank ${labels.shape.length}, expected [N]`);
    const count = labels.shape[0]!;
    const modalities = {} as Record<ModalityName, DatasetModalityInfo>;
    for (const m of MODALITIES) {
      const fk = featuresKey(s, m);
      const f = entries.get(fk)!;
      if (!FLOAT_DTYPES.has(f.dtype)) throw new DatasetFileError('wrong_dtype', file, s, fk, `dtype ${f.dtype}, expected F32 (or F16/BF16/F64)`);
      if (f.shape.length !== 3) throw new DatasetFileError('wrong_shape', file, s, fk, `shape ${fmtShape(f.shape)} has rank ${f.shape.length}, expected [N, L, D]`);
      const [n, L, D] = f.shape as [number, number, number];
      if (n !== count) throw new DatasetFileError('count_mismatch', file, s, fk, `shape ${fmtShape(f.shape)} has N = ${n}, but ${lk} has N = ${count}`);
      if (D < 1) throw new DatasetFileError('wrong_shape', file, s, fk, `shape ${fmtShape(f.shape)} has feature dimension D = 0 (expected ≥ 1)`);
      const prev = dims[m];
      if (prev && prev.dim !== D) {
        throw new DatasetFileError('dim_mismatch', file, s, fk, `feature dimension D = ${D} differs from split ${JSON.stringify(prev.split)}'s D = ${prev.dim}`);
      }
      dims[m] ??= { dim: D, split: s };
      const lek = lengthsKey(s, m);
      const le = entries.get(lek)!;
      if (!INT_DTYPES.has(le.dtype)) throw new DatasetFileError('wrong_dtype', file, s, lek, `dtype ${le.dtype}, expected I32 (or I64)`);
      if (le.shape.length !== 1) throw new DatasetFileError('wrong_shape', file, s, lek, `shape ${fmtShape(le.shape)} has rank ${le.shape.length}, expected [N]`);
      if (le.shape[0] !== count) throw new DatasetFileError('count_mismatch', file, s, lek, `shape ${fmtShape(le.shape)} has N = ${le.shape[0]}, but ${lk} has N = ${count}`);
      modalities[m] = { length: L, dim: D, dtype: f.dtype };
    }
    const ids = parseIds(file, s, metadata, count);
    splits[s] = { count, ids, modalities };
  }
  return { splitNames, splits };
}

// ---------------------------------------------------------------------------------------------
// Value validation (one pass over the data)

/** The first non-finite label, or -1. */
function firstNonFinite(a: Float32Array): number {
  let acc = 0;
  for (let i = 0; i < a.length; i++) acc += a[i]! * 0; // NaN once any value is NaN or ±Inf
  if (acc === 0) return -1;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

/** Checks lengths ∈ [0, L] and features finite at valid positions; returns lengths as Int32Array. */
function checkModality(
  file: string, split: SplitName, m: ModalityName, ids: readonly string[],
  features: Float32Array, rawLengths: Int32Array | BigInt64Array, L: number, D: number,
): Int32Array {
  const n = rawLengths.length;
  const lek = lengthsKey(split, m);
  let lengths: Int32Array;
  if (rawLengths instanceof Int32Array) {
    lengths = rawLengths;
    for (let i = 0; i < n; i++) {
      const len = lengths[i]!;
      if (len < 0 || len > L) throw new DatasetFileError('length_out_of_range', file, split, lek, `lengths[${i}] (id ${show(ids[i])}) = ${len} is outside [0, ${L}]`);
    }
  } else {
    lengths = new Int32Array(n);
    const bigL = BigInt(L);
    for (let i = 0; i < n; i++) {
      const len = rawLengths[i]!;
      if (len < 0n || len > bigL) throw new DatasetFileError('length_out_of_range', file, split, lek, `lengths[${i}] (id ${show(ids[i])}) = ${len} is outside [0, ${L}]`);
      lengths[i] = Number(len);
    }
  }
  const row = L * D;
  for (let i = 0; i < n; i++) {
    const from = i * row;
    const to = from + lengths[i]! * D;
    let acc = 0;
    for (let k = from; k < to; k++) acc += features[k]! * 0;
    if (acc !== 0) {
      for (let k = from; k < to; k++) {
        const v = features[k]!;
        if (!Number.isFinite(v)) {
          const t = Math.floor((k - from) / D);
          const d = (k - from) % D;
          throw new DatasetFileError('non_finite', file, split, featuresKey(split, m),
            `value ${v} at sample ${i} (id ${show(ids[i])}), position ${t}, dim ${d} — a valid position (length ${lengths[i]}); only padding may hold non-finite values`);
        }
      }
    }
  }
  return lengths;
}

function decodeDataset(file: string, st: SafetensorsFile): Dataset {
  const layout = validateLayout(file, st.tensors, st.metadata);
  const splits: DatasetSplits = {};
  for (const s of layout.splitNames) {
    const sl = layout.splits[s]!;
    const labels = st.tensors.get(labelsKey(s))!.data as Float32Array; // floats arrive as Float32Array
    const bad = firstNonFinite(labels);
    if (bad >= 0) {
      throw new DatasetFileError('non_finite', file, s, labelsKey(s), `label ${bad} (id ${show(sl.ids[bad])}) is ${labels[bad]}`);
    }
    const mods = {} as Record<ModalityName, ModalityData>;
    for (const m of MODALITIES) {
      const { length: L, dim: D } = sl.modalities[m];
      const features = st.tensors.get(featuresKey(s, m))!.data as Float32Array;
      const raw = st.tensors.get(lengthsKey(s, m))!.data as Int32Array | BigInt64Array;
      const lengths = checkModality(file, s, m, sl.ids, features, raw, L, D);
      mods[m] = { features, lengths, length: L, dim: D };
    }
    splits[s] = { count: sl.count, ids: sl.ids, labels, text: mods.text, audio: mods.audio, vision: mods.vision };
  }
  return { splits, metadata: st.metadata };
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Reads and validates a dataset file. Tensors are zero-copy views into one buffer holding the
 * file (as written by writeDataset); F16/BF16/F64 floats and I64 lengths are converted copies.
 * Throws DatasetFileError (or SafetensorsError for a corrupt container) before returning anything.
 */
export async function readDataset(file: string): Promise<Dataset> {
  return decodeDataset(file, await readSafetensors(file));
}

export function readDatasetSync(file: string): Dataset {
  return decodeDataset(file, readSafetensorsSync(file));
}

function infoFrom(file: string, h: { tensors: Array<{ name: string; dtype: SafetensorsDtype; shape: number[] }>; metadata: Record<string, string>; fileSize: number }): DatasetInfo {
  const entries = new Map<string, Entry>(h.tensors.map((t) => [t.name, { dtype: t.dtype, shape: t.shape }]));
  const layout = validateLayout(file, entries, h.metadata);
  const splits: Partial<Record<SplitName, DatasetSplitInfo>> = {};
  for (const s of layout.splitNames) {
    const sl = layout.splits[s]!;
    splits[s] = { count: sl.count, text: sl.modalities.text, audio: sl.modalities.audio, vision: sl.modalities.vision };
  }
  return {
    file,
    fileSize: h.fileSize,
    version: Number(DATASET_VERSION),
    source: h.metadata.source ?? '',
    splitNames: layout.splitNames,
    splits,
    metadata: h.metadata,
  };
}

/**
 * A cheap summary from the header alone (no tensor data read): splits, counts, per-modality L, D
 * and dtype, metadata. Checks the structure (everything but the values) as readDataset does.
 */
export async function readDatasetInfo(file: string): Promise<DatasetInfo> {
  return infoFrom(file, await readSafetensorsHeader(file));
}

export function readDatasetInfoSync(file: string): DatasetInfo {
  return infoFrom(file, readSafetensorsHeaderSync(file));
}

// ---------------------------------------------------------------------------------------------
// Writing

interface WritePlan {
  tensors: Record<string, WritableTensor>;
  metadata: Record<string, string>;
}

function planDataset(file: string, splits: DatasetSplits, metadata: Record<string, string> | undefined): WritePlan {
  if (splits === null || typeof splits !== 'object') {
    throw new DatasetFileError('invalid_split', file, undefined, undefined, `expected an object of split name → split, got ${show(splits)}`);
  }
  for (const k of Object.keys(splits)) {
    if (!(SPLITS as readonly string[]).includes(k)) {
      throw new DatasetFileError('invalid_split', file, k, undefined, `unknown split name (expected ${SPLITS.join(', ')})`);
    }
  }
  const names = SPLITS.filter((s) => splits[s] !== undefined);
  if (names.length === 0) throw new DatasetFileError('invalid_split', file, undefined, undefined, 'no split to write (expected at least one of train, valid, test)');

  const meta: Record<string, string> = {};
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new DatasetFileError('invalid_metadata', file, undefined, undefined, `expected metadata to be an object of string → string, got ${show(metadata)}`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (RESERVED_KEYS.has(k) || k.startsWith('ids.')) {
        throw new DatasetFileError('invalid_metadata', file, undefined, k, 'is reserved for the dataset format and cannot be set by the caller');
      }
      if (typeof v !== 'string') throw new DatasetFileError('invalid_metadata', file, undefined, k, `expected a string value, got ${show(v)}`);
      meta[k] = v;
    }
  }
  meta.format = DATASET_FORMAT;
  meta.version = DATASET_VERSION;
  meta.splits = JSON.stringify(names);
  meta.source ??= '';

  const tensors: Record<string, WritableTensor> = {};
  const dims = {} as Partial<Record<ModalityName, { dim: number; split: SplitName }>>;
  for (const s of names) {
    const sp = splits[s]!;
    try {
      validateSplit(sp, s);
    } catch (err) {
      throw new DatasetFileError('invalid_split', file, s, undefined, (err as Error).message, { cause: err });
    }
    const ids = sp.ids;
    for (let i = 0; i < ids.length; i++) {
      if (typeof ids[i] !== 'string') throw new DatasetFileError('invalid_ids', file, s, idsKey(s), `id ${i} is ${show(ids[i])}, expected a string`);
    }
    if (!(sp.labels instanceof Float32Array)) throw new DatasetFileError('wrong_dtype', file, s, labelsKey(s), 'labels must be a Float32Array');
    const bad = firstNonFinite(sp.labels);
    if (bad >= 0) throw new DatasetFileError('non_finite', file, s, labelsKey(s), `label ${bad} (id ${show(ids[bad])}) is ${sp.labels[bad]}`);
    tensors[labelsKey(s)] = { dtype: 'F32', shape: [sp.count], data: sp.labels };
    for (const m of MODALITIES) {
      const md = sp[m];
      if (!(md.features instanceof Float32Array)) throw new DatasetFileError('wrong_dtype', file, s, featuresKey(s, m), 'features must be a Float32Array');
      if (!(md.lengths instanceof Int32Array)) throw new DatasetFileError('wrong_dtype', file, s, lengthsKey(s, m), 'lengths must be an Int32Array');
      const prev = dims[m];
      if (prev && prev.dim !== md.dim) {
        throw new DatasetFileError('dim_mismatch', file, s, featuresKey(s, m), `feature dimension D = ${md.dim} differs from split ${JSON.stringify(prev.split)}'s D = ${prev.dim}`);
      }
      dims[m] ??= { dim: md.dim, split: s };
      checkModality(file, s, m, ids, md.features, md.lengths, md.length, md.dim);
      tensors[featuresKey(s, m)] = { dtype: 'F32', shape: [sp.count, md.length, md.dim], data: md.features };
      tensors[lengthsKey(s, m)] = { dtype: 'I32', shape: [sp.count], data: md.lengths };
    }
    meta[idsKey(s)] = JSON.stringify(ids);
  }
  return { tensors, metadata: meta };
}

/**
 * Writes `splits` (any non-empty subset of train/valid/test) as a dataset file, atomically (temp
 * file + rename). Each split is validated (validateSplit, then the reader's rules) before the
 * disk is touched. `metadata`: extra string → string entries (e.g. `source`); the format's own
 * keys (format, version, splits, ids.*) are reserved.
 */
export async function writeDataset(file: string, splits: DatasetSplits, metadata?: Record<string, string>): Promise<void> {
  const plan = planDataset(file, splits, metadata);
  await writeSafetensors(file, plan.tensors, plan.metadata);
}

export function writeDatasetSync(file: string, splits: DatasetSplits, metadata?: Record<string, string>): void {
  const plan = planDataset(file, splits, metadata);
  writeSafetensorsSync(file, plan.tensors, plan.metadata);
}
