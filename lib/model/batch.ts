// lib/model/batch.ts — what the model reads (ModelBatch: per modality a PackedSequence) and what
// predict() is given (Sample), and packSamples, which turns samples into batches.
//
// A sample holds each modality's features [L, D] (a Float32Array in row-major order, or an array
// of rows) and optionally its true length; a modality may be absent (null/undefined/length 0):
// its cross-attention step is then skipped for that sample. A sample must have at least one of
// the model's modalities (config.modalityOrder): with none there is nothing to predict from (a
// RangeError names the sample). packSamples copies the valid rows of each sample into one
// PackedSequence per modality and batch (lib/tensor/packed.ts): no padding is made.
//
// Raw inputs (a modality with source 'clip', config.ts): a transcript string, or { frames } (each
// an RgbFrame — image files and encoded bytes are decoded before packing, by decodeSamples in
// raw.ts). packSamples tokenizes the text (CLIP BPE, SOT … EOT, cut to maxLength with the end
// token kept unless truncate is false) and copies the frames (they are then transferred to the
// predict worker, never the caller's arrays); they travel in ModelBatch.raw and MerClip.forward
// runs the towers. The modality's PackedSequence still describes the whole batch (lengths =
// tokens / frames of each raw sample); the rows of a raw sample are left zero and never read —
// forward takes that sample's rows from the tower's output instead (towers.ts mergeTowerRows).
// A 'clip' modality also takes features of its dim.
// Raw audio (source 'logmel': a .wav path, WAV bytes, { waveform, sampleRate }) is turned into
// log-mel features before packing (decodeSamples), so here it is an error.

import type { AudioInput } from '../audio/index.js';
import { defaultTokenizer } from '../clip/assets.js';
import { isRgbFrame, type FrameInput } from '../clip/frames.js';
import { checkFrame, type RgbFrame } from '../clip/image.js';
import { type ClipTokenizer, TokenizerError } from '../clip/tokenizer.js';
import { MODALITIES, type PackedSequence } from '../data/batch.js';
import { layoutOf } from '../tensor/packed.js';
import { type Modality, type MerClipConfig, textClipSource } from './config.js';

export type { FrameInput } from '../clip/frames.js';

/** Transcripts of a batch's raw text samples: token ids packed in sample order (SOT … EOT each). */
export interface RawTokens {
  ids: Int32Array;
  /** [B] tokens of sample b (0: not raw). */
  lengths: Int32Array;
}

/** Frames of a batch's raw vision samples, in sample order (owned by the batch). */
export interface RawFrames {
  frames: RgbFrame[];
  /** [B] frames of sample b (0: not raw). */
  lengths: Int32Array;
}

/** Raw inputs of a batch, for the modalities whose source is 'clip'. */
export interface RawInputs {
  text?: RawTokens | null;
  vision?: RawFrames | null;
}

/** A batch as the model reads it (lib/data's Batch is one). */
export interface ModelBatch {
  count: number;
  labels?: Float32Array;
  /** Absent or null: no sample of the batch has the modality. */
  text?: PackedSequence | null;
  audio?: PackedSequence | null;
  vision?: PackedSequence | null;
  /** Raw inputs the towers turn into rows of text / vision (absent: every row is a feature row). */
  raw?: RawInputs;
}

export interface SampleModality {
  /** [L, D] row-major, or L rows of D numbers. */
  features: Float32Array | ArrayLike<number>[];
  /** True length (default: all L rows). */
  length?: number;
}

export type SampleInput = Float32Array | SampleModality | null | undefined;

/** Video frames for a vision modality with source 'clip' (one CLIP embedding per frame). */
export interface FramesInput {
  frames: readonly FrameInput[];
  /** Frames per second (informational: the model reads the frame order, not the time). */
  fps?: number;
}

/** One sample given to predict(). */
export interface Sample {
  /** Features, or (source 'clip') a transcript. */
  text?: SampleInput | string;
  /** Features, or (source 'logmel') a .wav path, WAV bytes or { waveform, sampleRate }. */
  audio?: SampleInput | AudioInput;
  /** Features, or (source 'clip') frames. */
  vision?: SampleInput | FramesInput;
}

/** One sample's raw input, parsed: token ids or frames (copied), or null when it brings features. */
type Raw = { ids: Int32Array } | { frames: RgbFrame[] } | null;

function sourceMismatch(where: string, what: string, m: Modality, config: MerClipConfig): RangeError {
  if (m === 'audio') return new RangeError(`${where}: ${what} is not an audio input (this model reads audio as features [L, ${config.modalities.audio.dim}])`);
  if ((m === 'text') !== (what === 'a string')) return new RangeError(`${where}: ${what} ${m === 'text' ? 'are' : 'is'} not a ${m} input (${m === 'text' ? 'a transcript string' : '{ frames }'} or features)`);
  return new RangeError(`${where}: ${what} needs modalities.${m}.source "clip" (this model reads ${m} as features [L, ${config.modalities[m].dim}]); ` +
    'build the model with withClipSources, or give features');
}

/** A raw input (string / { frames }) as token ids or frames; null when the input is features. */
/** A raw audio input (a .wav path, WAV bytes, { waveform, sampleRate }) rather than features. */
export function isRawAudio(v: unknown): v is AudioInput {
  return typeof v === 'string' || v instanceof Uint8Array || (typeof v === 'object' && v !== null && 'waveform' in v);
}

// Token ids of transcripts already encoded, per tokenizer and sample object: the dynamic batcher
// validates each call (validateSamples) and packs the coalesced batch afterwards, and the second
// pass reuses the first's ids when the sample still holds the same string for the same
// context length and truncation. Entries go with their sample (WeakMap).
interface CachedIds { text: string; contextLength: number; truncate: boolean; ids: Int32Array }
const encodedIds = new WeakMap<ClipTokenizer, WeakMap<object, CachedIds>>();

/** copy: false leaves frame data in place (validation only: nothing is kept). */
function rawOf(m: Modality, i: number, input: unknown, config: MerClipConfig, tokenizer: () => ClipTokenizer, owner: object, copy = true): Raw {
  const where = `predict: sample ${i} ${m}`;
  const { maxLength, source } = config.modalities[m];
  if (m === 'audio' && isRawAudio(input)) {
    if (source === 'logmel') throw new TypeError(`${where}: raw audio must be turned into log-mel features first (predict() and featurize() do it: decodeSamples in decode.ts)`);
    throw new RangeError(`${where}: raw audio (a .wav path, WAV bytes or { waveform, sampleRate }) needs modalities.audio.source "logmel"; ` +
      `this model's audio source is "${source ?? 'features'}" (give it features of dim ${config.modalities.audio.dim})`);
  }
  if (typeof input === 'string') {
    if (m !== 'text' || source !== 'clip') throw sourceMismatch(where, 'a string', m, config);
    const { truncate } = textClipSource(config)!;
    const tok = tokenizer();
    let byOwner = encodedIds.get(tok);
    const hit = byOwner?.get(owner);
    if (hit && hit.text === input && hit.contextLength === maxLength && hit.truncate === truncate) return { ids: hit.ids };
    try {
      const ids = Int32Array.from(tok.encodeFitted(input, { contextLength: maxLength, truncate }, `${where}:`));
      if (!byOwner) encodedIds.set(tok, (byOwner = new WeakMap()));
      byOwner.set(owner, { text: input, contextLength: maxLength, truncate, ids });
      return { ids };
    } catch (err) {
      if (err instanceof TokenizerError && err.code === 'TOO_LONG') {
        throw new RangeError(`${err.message} (the model's modalities.text.maxLength is ${maxLength}; modalities.text.clip.truncate false)`);
      }
      throw err;
    }
  }
  if (typeof input === 'object' && input !== null && 'frames' in input) {
    if (m !== 'vision' || source !== 'clip') throw sourceMismatch(where, 'frames', m, config);
    const { frames, fps } = input as FramesInput;
    if (!Array.isArray(frames)) throw new TypeError(`${where}: frames must be an array`);
    if (fps !== undefined && !(typeof fps === 'number' && fps > 0 && Number.isFinite(fps))) throw new RangeError(`${where}: fps must be a positive number, received ${JSON.stringify(fps)}`);
    if (frames.length > maxLength) throw new RangeError(`${where}: ${frames.length} frames exceed the model's maxLength ${maxLength}`);
    return {
      frames: frames.map((f: FrameInput, j) => {
        const at = `${where} frame ${j}`;
        if (!isRgbFrame(f)) throw new TypeError(`${at}: an image file or encoded bytes must be decoded first (predict() and featurize() do it; decodeSamples in raw.ts)`);
        checkFrame(f, j, at);
        return { data: copy ? f.data.slice() : f.data, width: f.width, height: f.height, channels: 3 };
      }),
    };
  }
  return null;
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

/**
 * Validates samples and packs them into batches of at most batchSize (a PackedSequence per
 * modality; raw inputs tokenized / copied into batch.raw). The tokenizer (for transcripts)
 * defaults to the bundled CLIP vocabulary, loaded only when a transcript is given.
 */
export function packSamples(samples: readonly Sample[], config: MerClipConfig, batchSize = 32, opts: { tokenizer?: ClipTokenizer } = {}): ModelBatch[] {
  return packOrValidate(samples, config, batchSize, opts, true);
}

/**
 * The checks packSamples makes, without building the batch: no feature rows or frames are copied
 * (transcripts are tokenized, and their ids kept for the packSamples call that follows). Throws
 * what packSamples would throw. The dynamic batcher's per-call validation.
 */
export function validateSamples(samples: readonly Sample[], config: MerClipConfig, opts: { tokenizer?: ClipTokenizer } = {}): void {
  packOrValidate(samples, config, Array.isArray(samples) ? Math.max(1, samples.length) : 1, opts, false);
}

/**
 * The sample ranges [b0, b1) that split a batch into pieces holding at most `rowBudget` rows of
 * each modality (a sample longer than the budget is a piece of its own), in order, covering every
 * sample once. predict()'s worker runs a batch piece by piece so its activations stay bounded by
 * the budget rather than by the batch (every op of the model's forward is per sample, so the
 * pieces' results are the batch's).
 */
export function batchPieces(batch: ModelBatch, rowBudget: number): [number, number][] {
  if (!Number.isInteger(rowBudget) || rowBudget < 1) throw new RangeError(`batchPieces: rowBudget must be a positive integer, received ${rowBudget}`);
  const seqs = MODALITIES.map((m) => batch[m]).filter((q): q is PackedSequence => !!q);
  const pieces: [number, number][] = [];
  let b0 = 0;
  for (let b = 1; b <= batch.count; b++) {
    // extend [b0, b) by sample b − 1 … unless that passes the budget of a modality
    const over = seqs.some((q) => q.offsets[b]! - q.offsets[b0]! > rowBudget);
    if (over && b - 1 > b0) {
      pieces.push([b0, b - 1]);
      b0 = b - 1;
    }
  }
  if (batch.count > b0) pieces.push([b0, batch.count]);
  return pieces;
}

/**
 * Samples [b0, b1) of a batch as a batch of their own: views of its rows (nothing copied but the
 * rebased offsets; the batch itself when the range is all of it); a modality none of them has becomes null, as packSamples leaves it.
 */
export function sliceBatch(batch: ModelBatch, b0: number, b1: number): ModelBatch {
  if (!Number.isInteger(b0) || !Number.isInteger(b1) || b0 < 0 || b1 > batch.count || b0 >= b1) {
    throw new RangeError(`sliceBatch: expected 0 ≤ b0 < b1 ≤ ${batch.count}, received [${b0}, ${b1})`);
  }
  if (b0 === 0 && b1 === batch.count) return batch; // the whole batch: nothing to rebase
  const out: ModelBatch = { count: b1 - b0 };
  if (batch.labels) out.labels = batch.labels.subarray(b0, b1);
  for (const m of MODALITIES) {
    const q = batch[m];
    if (q === undefined) continue;
    if (q === null || q.offsets[b1] === q.offsets[b0]) {
      out[m] = null;
      continue;
    }
    const lengths = q.lengths.subarray(b0, b1);
    const offsets = q.offsets.slice(b0, b1 + 1).map((o) => o - q.offsets[b0]!);
    out[m] = { rows: q.rows.subarray(q.offsets[b0]! * q.dim, q.offsets[b1]! * q.dim), dim: q.dim, lengths, offsets, maxLength: Math.max(...lengths) };
  }
  const raw = batch.raw;
  if (raw) {
    const span = (lengths: Int32Array): [number, number] => {
      let lo = 0;
      for (let b = 0; b < b0; b++) lo += lengths[b]!;
      let hi = lo;
      for (let b = b0; b < b1; b++) hi += lengths[b]!;
      return [lo, hi];
    };
    const r: RawInputs = {};
    if (raw.text) {
      const [lo, hi] = span(raw.text.lengths);
      if (hi > lo) r.text = { ids: raw.text.ids.subarray(lo, hi), lengths: raw.text.lengths.subarray(b0, b1) };
    }
    if (raw.vision) {
      const [lo, hi] = span(raw.vision.lengths);
      if (hi > lo) r.vision = { frames: raw.vision.frames.slice(lo, hi), lengths: raw.vision.lengths.subarray(b0, b1) };
    }
    if (r.text || r.vision) out.raw = r;
  }
  return out;
}

const NO_ROWS = new Float32Array(0);

function packOrValidate(samples: readonly Sample[], config: MerClipConfig, batchSize: number, opts: { tokenizer?: ClipTokenizer }, build: boolean): ModelBatch[] {
  const tokenizer = (): ClipTokenizer => opts.tokenizer ?? defaultTokenizer();
  if (!Array.isArray(samples)) throw new TypeError('predict: expected an array of samples');
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`predict: batchSize must be a positive integer, received ${batchSize}`);
  const batches: ModelBatch[] = [];
  for (let s = 0; s < samples.length; s += batchSize) {
    const chunk = samples.slice(s, s + batchSize);
    const B = chunk.length;
    const batch: ModelBatch = { count: B };
    for (const m of MODALITIES) {
      const { dim, maxLength } = config.modalities[m];
      const raws: Raw[] = [];
      const parsed = chunk.map((x, r) => {
        if (typeof x !== 'object' || x === null) throw new TypeError(`predict: sample ${s + r} must be an object with text / audio / vision`);
        const raw = rawOf(m, s + r, x[m], config, tokenizer, x, build);
        raws.push(raw);
        return raw ? null : rowsOf(m, s + r, x[m] as SampleInput, dim, maxLength);
      });
      const rawLength = (q: Raw): number => (!q ? 0 : 'ids' in q ? q.ids.length : q.frames.length);
      const layout = layoutOf(parsed.map((p, r) => (p ? p.length / dim : rawLength(raws[r]!))), undefined, `predict ${m} lengths`);
      if (layout.offsets[B] === 0) {
        batch[m] = null;
        continue;
      }
      if (!build) { // validation: the lengths are all the last check needs
        batch[m] = { rows: NO_ROWS, dim, ...layout };
        continue;
      }
      const rows = new Float32Array(layout.offsets[B]! * dim); // a raw sample's rows stay zero: forward reads the tower's instead
      parsed.forEach((p, r) => {
        if (p) rows.set(p, layout.offsets[r]! * dim);
      });
      batch[m] = { rows, dim, ...layout };
      if (raws.some((q) => q && rawLength(q) > 0)) {
        const lengths = Int32Array.from(raws, rawLength);
        batch.raw ??= {};
        if (m === 'text') {
          const ids = new Int32Array(lengths.reduce((a, b) => a + b, 0));
          let o = 0;
          for (const q of raws) if (q && 'ids' in q) (ids.set(q.ids, o), (o += q.ids.length));
          batch.raw.text = { ids, lengths };
        } else if (m === 'vision') {
          batch.raw.vision = { frames: raws.flatMap((q) => (q && 'frames' in q ? q.frames : [])), lengths };
        }
      }
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
