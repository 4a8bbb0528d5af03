// lib/serve/protocol.ts — the KServe v2 / Open Inference Protocol for a MER-CLIP model: model
// metadata, an infer request parsed into predict() samples, predictions into an infer response.
//
// Inputs (names are the model's modalities, config.modalityOrder):
//   <m>          FP32  [B, L, D] or [L, D] (B = 1); D must be the model's feature size for m.
//                     `data` in row-major order, flat (nested arrays are flattened), or — with
//                     the binary data extension — `parameters.binary_data_size` bytes of
//                     little-endian float32 after the JSON header.
//   <m>_lengths  INT32 or INT64 [B]: each sample's true length (default L); 0 = m absent for it.
//   Raw inputs (BYTES), where the model's source for the modality takes them (config.ts):
//   text   BYTES [B]     transcripts (UTF-8; text source 'clip'); an empty one = text absent.
//   audio  BYTES [B]     WAV file bytes (audio source 'logmel'); empty = absent.
//   vision BYTES [B, F]  encoded images (PNG, JPEG, WebP …; vision source 'clip'), F frames per
//                        sample; vision_lengths [B] gives fewer (0 = absent).
//   A BYTES element is a JSON string (text only — a string is never read as a file path) or
//   {"b64": "<base64>"} (TF Serving's convention for bytes in JSON), or, with the binary data
//   extension, a little-endian uint32 byte count and the bytes, element after element.
//   A modality not given is absent for every sample; each sample needs at least one.
// Request parameters: `labels` (strings) and `values` (numbers, one per label) ask about another
//   label set (predict()'s options); each may be an array or a comma-separated string.
// Outputs: probs FP32 [B, C] (its parameters name the labels), score FP32 [B] (omitted when the
//   label set has no values), label BYTES [B]; `outputs: [{ name }]` in the request picks some.
//   Binary outputs (the binary data extension, as Triton answers them): request parameter
//   `binary_data_output: true` sends every output as bytes, an output's own
//   `parameters.binary_data` (true / false) overrides that for it. A binary output has
//   `parameters.binary_data_size` instead of `data`; its bytes follow the JSON header in output
//   order (FP32: little-endian float32; BYTES: per element a little-endian uint32 byte count and
//   the UTF-8 bytes), and the response's Inference-Header-Content-Length gives the header's size.
// Every problem is a ProtocolError (HTTP 400) whose message names the input and what is wrong.
import { endianness } from 'node:os';

import type { MerClipConfig, Modality } from '../model/config.js';
import type { Prediction, PredictOptions, Sample } from '../model/predict.js';

const LITTLE_ENDIAN = endianness() === 'LE';

export class ProtocolError extends Error {
  readonly statusCode: number;
  constructor(message: string, statusCode = 400) {
    super(message);
    this.name = 'ProtocolError';
    this.statusCode = statusCode;
  }
}

export const OUTPUT_NAMES = ['probs', 'score', 'label'] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  parameters: Record<string, unknown>;
}

/** GET /v2/models/{name}: -1 marks a variable dimension. */
export function modelMetadata(name: string, config: MerClipConfig, maxBatchSize: number): ModelMetadata {
  const inputs: TensorMetadata[] = [];
  const raw = rawForms(config);
  for (const m of config.modalityOrder) {
    inputs.push({ name: m, datatype: 'FP32', shape: [-1, -1, config.modalities[m].dim] });
    inputs.push({ name: `${m}_lengths`, datatype: 'INT32', shape: [-1] });
  }
  return {
    name,
    versions: ['1'],
    platform: 'merclip',
    inputs,
    outputs: [
      { name: 'probs', datatype: 'FP32', shape: [-1, config.labels.length] },
      { name: 'score', datatype: 'FP32', shape: [-1] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
    parameters: {
      labels: [...config.labels],
      values: [...config.labelValues],
      max_lengths: Object.fromEntries(config.modalityOrder.map((m) => [m, config.modalities[m].maxLength])),
      max_batch_size: maxBatchSize,
      ...(Object.keys(raw).length ? { raw_inputs: raw } : {}),
    },
  };
}

/** Per modality: the source that takes raw BYTES, what an element is, and the tensor's shape. */
const RAW_FORMS: Record<Modality, { source: string; what: string; shape: string }> = {
  text: { source: 'clip', what: 'transcripts', shape: 'BYTES [B]: transcripts (UTF-8)' },
  vision: { source: 'clip', what: 'encoded images', shape: 'BYTES [B, F]: encoded images, F frames per sample (vision_lengths: fewer)' },
  audio: { source: 'logmel', what: 'WAV bytes', shape: 'BYTES [B]: WAV file bytes' },
};

/** The raw forms this model takes, by modality (its sources decide). */
function rawForms(config: MerClipConfig): Record<string, string> {
  return Object.fromEntries(config.modalityOrder
    .filter((m) => config.modalities[m].source === RAW_FORMS[m].source)
    .map((m) => [m, RAW_FORMS[m].shape]));
}

/** null when the model's source for m takes BYTES, else the message saying why not. */
function rawSourceError(m: Modality, config: MerClipConfig): string | null {
  const src = config.modalities[m].source ?? 'features';
  const { source, what } = RAW_FORMS[m];
  if (src === source) return null;
  return `input ${m}: BYTES (${what}) needs modalities.${m}.source "${source}"; this model's ${m} source is "${src}" (send FP32 features of dim ${config.modalities[m].dim})`;
}

export interface ParsedInfer {
  id: string | undefined;
  samples: Sample[];
  options: PredictOptions;
  /** Requested outputs (null: the defaults). */
  outputs: OutputName[] | null;
  /** Binary outputs: an output's own parameters.binary_data, else `all` (binary_data_output). */
  binary: { all: boolean; per: Map<OutputName, boolean> };
}

interface RawInput {
  name: unknown;
  datatype: unknown;
  shape: unknown;
  data?: unknown;
  parameters?: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Infinity) : data;
}

function parseShape(where: string, shape: unknown, ranks: number[]): number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new ProtocolError(`${where}: shape must be an array of non-negative integers, received ${JSON.stringify(shape)}`);
  }
  if (!ranks.includes(shape.length)) throw new ProtocolError(`${where}: shape ${JSON.stringify(shape)} has rank ${shape.length}; expected ${ranks.map((r) => `rank ${r}`).join(' or ')}`);
  return shape as number[];
}

/** The tensor's values: `data` (JSON) or its slice of the binary section. */
function tensorValues(where: string, input: RawInput, count: number, kind: 'float' | 'int', binary: BinaryCursor | null): Float32Array | Int32Array {
  const size = input.parameters?.binary_data_size;
  if (size !== undefined) {
    if (!binary) throw new ProtocolError(`${where}: parameters.binary_data_size needs the binary data extension (an Inference-Header-Content-Length header)`);
    const width = kind === 'float' ? 4 : input.datatype === 'INT64' ? 8 : 4;
    if (typeof size !== 'number' || !Number.isInteger(size) || size !== count * width) {
      throw new ProtocolError(`${where}: binary_data_size ${String(size)} does not match ${count} elements of ${width} bytes`);
    }
    const bytes = binary.take(where, size);
    if (kind === 'float') {
      const out = new Float32Array(count);
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(bytes); // one copy (also aligns the data)
      else for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(4 * i);
      for (let i = 0; i < count; i++) if (!Number.isFinite(out[i]!)) throw new ProtocolError(`${where}: element ${i} is ${out[i]} (only finite values)`);
      return out;
    }
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const v = width === 8 ? Number(bytes.readBigInt64LE(8 * i)) : bytes.readInt32LE(4 * i);
      if (v < 0 || v > 2 ** 31 - 1) throw new ProtocolError(`${where}: element ${i} is ${v} (lengths are non-negative)`);
      out[i] = v;
    }
    return out;
  }
  if (!Array.isArray(input.data)) throw new ProtocolError(`${where}: data must be an array of numbers (row-major)`);
  const data = flatten(input.data);
  if (data.length !== count) throw new ProtocolError(`${where}: shape ${JSON.stringify(input.shape)} holds ${count} elements but data has ${data.length}`);
  const out = kind === 'float' ? new Float32Array(count) : new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ProtocolError(`${where}: element ${i} is ${JSON.stringify(v)}, expected a finite number`);
    if (kind === 'int' && (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1)) throw new ProtocolError(`${where}: element ${i} is ${v}, expected a non-negative integer`);
    out[i] = v;
  }
  return out;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A BYTES tensor's elements: JSON strings (when `strings` — transcripts) or {"b64": …} objects,
 * or its slice of the binary section as (uint32 LE length, bytes) elements.
 */
function bytesValues(where: string, input: RawInput, count: number, strings: boolean, binary: BinaryCursor | null): Buffer[] {
  const size = input.parameters?.binary_data_size;
  if (size !== undefined) {
    if (!binary) throw new ProtocolError(`${where}: parameters.binary_data_size needs the binary data extension (an Inference-Header-Content-Length header)`);
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 4 * count) {
      throw new ProtocolError(`${where}: binary_data_size ${String(size)} cannot hold ${count} BYTES elements (4 bytes of length each, at least)`);
    }
    const bytes = binary.take(where, size);
    const out: Buffer[] = [];
    let o = 0;
    for (let i = 0; i < count; i++) {
      if (o + 4 > bytes.length) throw new ProtocolError(`${where}: element ${i}'s length runs past binary_data_size ${size}`);
      const n = bytes.readUInt32LE(o);
      if (o + 4 + n > bytes.length) throw new ProtocolError(`${where}: element ${i} has ${n} bytes but only ${bytes.length - o - 4} remain of binary_data_size ${size}`);
      out.push(bytes.subarray(o + 4, o + 4 + n));
      o += 4 + n;
    }
    if (o !== bytes.length) throw new ProtocolError(`${where}: ${bytes.length - o} bytes are left over after its ${count} elements (binary_data_size ${size})`);
    return out;
  }
  if (!Array.isArray(input.data)) throw new ProtocolError(`${where}: data must be an array of ${strings ? 'strings or ' : ''}{"b64": …} elements`);
  const data = flatten(input.data);
  if (data.length !== count) throw new ProtocolError(`${where}: shape ${JSON.stringify(input.shape)} holds ${count} elements but data has ${data.length}`);
  return data.map((v, i) => {
    if (typeof v === 'string') {
      if (!strings) throw new ProtocolError(`${where}: element ${i} is a string; send bytes as {"b64": "<base64>"} or with the binary data extension`);
      return Buffer.from(v, 'utf8');
    }
    if (isObject(v) && typeof v.b64 === 'string' && Object.keys(v).length === 1) {
      if (v.b64.length % 4 !== 0 || !BASE64.test(v.b64)) throw new ProtocolError(`${where}: element ${i}: b64 is not valid base64`);
      return Buffer.from(v.b64, 'base64');
    }
    throw new ProtocolError(`${where}: element ${i} is ${JSON.stringify(v)?.slice(0, 40)}, expected ${strings ? 'a string or ' : ''}{"b64": "<base64>"}`);
  });
}

/** Walks the binary section of a binary-extension request, input by input. */
export class BinaryCursor {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}
  take(where: string, n: number): Buffer {
    if (this.offset + n > this.bytes.length) throw new ProtocolError(`${where}: needs ${n} bytes of binary data but only ${this.bytes.length - this.offset} remain`);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
}

function stringList(name: string, v: unknown): string[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || !s.trim())) {
    throw new ProtocolError(`parameters.${name}: expected non-empty strings (an array, or one comma-separated string)`);
  }
  return list as string[];
}

function numberList(name: string, v: unknown): number[] {
  const list = typeof v === 'string' ? v.split(',').map((s) => (s.trim() === '' ? Number.NaN : Number(s))) : v;
  if (!Array.isArray(list) || list.length === 0 || list.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new ProtocolError(`parameters.${name}: expected finite numbers (an array, or one comma-separated string)`);
  }
  return list as number[];
}

/** POST /v2/models/{name}/infer body → samples (zero-copy views of one buffer per modality). */
export function parseInferRequest(body: unknown, config: MerClipConfig, binary: Buffer | null = null): ParsedInfer {
  if (!isObject(body)) throw new ProtocolError('the request body must be a JSON object with an "inputs" array');
  const { id, inputs, outputs, parameters } = body;
  if (id !== undefined && typeof id !== 'string') throw new ProtocolError('id must be a string');
  if (!Array.isArray(inputs) || inputs.length === 0) throw new ProtocolError('inputs must be a non-empty array of tensors ({ name, shape, datatype, data })');
  const known = config.modalityOrder.flatMap((m) => [m, `${m}_lengths`]);
  const byName = new Map<string, RawInput>();
  inputs.forEach((raw, i) => {
    if (!isObject(raw) || typeof raw.name !== 'string') throw new ProtocolError(`inputs[${i}]: expected an object with a string name`);
    if (!known.includes(raw.name)) throw new ProtocolError(`inputs[${i}]: unknown input "${raw.name}"; this model takes ${known.join(', ')}`);
    if (byName.has(raw.name)) throw new ProtocolError(`input ${raw.name} is given twice`);
    if (raw.parameters !== undefined && !isObject(raw.parameters)) throw new ProtocolError(`input ${raw.name}: parameters must be an object`);
    byName.set(raw.name, raw as unknown as RawInput);
  });
  // Pass 1, in the order of `inputs` (the binary section follows that order): datatype, shape, values.
  const cursor = binary ? new BinaryCursor(binary) : null;
  const tensors = new Map<string, { shape: number[]; values: Float32Array | Int32Array }>();
  const rawTensors = new Map<Modality, { shape: number[]; values: Buffer[] }>();
  for (const raw of byName.values()) {
    const name = raw.name as string;
    const where = `input ${name}`;
    const isLengths = name.endsWith('_lengths');
    if (!isLengths && raw.datatype === 'BYTES') {
      const m = name as Modality;
      const why = rawSourceError(m, config);
      if (why) throw new ProtocolError(why);
      const shape = parseShape(where, raw.shape, m === 'vision' ? [2] : [1]);
      const count = shape.reduce((a, d) => a * d, 1);
      rawTensors.set(m, { shape, values: bytesValues(where, raw, count, m === 'text', cursor) });
      continue;
    }
    if (isLengths) {
      if (raw.datatype !== 'INT32' && raw.datatype !== 'INT64') throw new ProtocolError(`${where}: datatype must be INT32 or INT64, received ${JSON.stringify(raw.datatype)}`);
    } else if (raw.datatype !== 'FP32') throw new ProtocolError(`${where}: datatype must be FP32${rawSourceError(name as Modality, config) ? '' : ' or BYTES'}, received ${JSON.stringify(raw.datatype)}`);
    const shape = parseShape(where, raw.shape, isLengths ? [1] : [2, 3]);
    const count = shape.reduce((a, d) => a * d, 1);
    tensors.set(name, { shape, values: tensorValues(where, raw, count, isLengths ? 'int' : 'float', cursor) });
  }
  if (cursor && cursor.remaining !== 0) throw new ProtocolError(`${cursor.remaining} bytes of binary data are left over after the inputs`);

  // Pass 2: the model's sizes, one batch size, lengths within each modality's L.
  const feats = new Map<Modality, { values: Float32Array; B: number; L: number; D: number }>();
  let batch: { B: number; from: string } | null = null;
  for (const m of config.modalityOrder) {
    const t = tensors.get(m);
    if (!t) continue;
    const where = `input ${m}`;
    const [B, L, D] = t.shape.length === 3 ? t.shape as [number, number, number] : [1, t.shape[0]!, t.shape[1]!];
    const want = config.modalities[m].dim;
    if (D !== want) throw new ProtocolError(`${where}: the last dimension is ${D}, the model's ${m} features have ${want}`);
    if (B < 1) throw new ProtocolError(`${where}: the batch dimension is 0 (send at least one sample)`);
    if (batch && batch.B !== B) throw new ProtocolError(`${where}: batch size ${B} differs from ${batch.from}'s ${batch.B}`);
    batch ??= { B, from: where };
    feats.set(m, { values: t.values as Float32Array, B, L, D });
  }
  for (const m of config.modalityOrder) {
    const t = rawTensors.get(m);
    if (!t) continue;
    const where = `input ${m}`;
    const B = t.shape[0]!;
    if (B < 1) throw new ProtocolError(`${where}: the batch dimension is 0 (send at least one sample)`);
    if (batch && batch.B !== B) throw new ProtocolError(`${where}: batch size ${B} differs from ${batch.from}'s ${batch.B}`);
    batch ??= { B, from: where };
    const F = t.shape[1]; // vision only ([B, F])
    if (F !== undefined && F > config.modalities.vision.maxLength) throw new ProtocolError(`${where}: ${F} frames per sample exceed the model's maxLength ${config.modalities.vision.maxLength}`);
  }
  if (!batch) throw new ProtocolError(`no modality input: give at least one of ${config.modalityOrder.join(', ')}`);
  const B = (batch as { B: number }).B;
  const lengths = new Map<Modality, Int32Array>();
  for (const m of config.modalityOrder) {
    const name = `${m}_lengths`;
    const t = tensors.get(name);
    if (!t) continue;
    const where = `input ${name}`;
    const f = feats.get(m);
    const r = rawTensors.get(m);
    if (r && m !== 'vision') throw new ProtocolError(`${where}: ${m} is BYTES here (one element per sample; an empty one is absent), so it takes no lengths`);
    if (!f && !r) throw new ProtocolError(`${where}: given without the ${m} input`);
    if (t.shape[0] !== B) throw new ProtocolError(`${where}: shape [${t.shape[0]}] must be [${B}], one length per sample`);
    const v = t.values as Int32Array;
    // Features: steps of L; raw frames: F per sample.
    const most = f ? f.L : r!.shape[1]!;
    v.forEach((len, b) => {
      if (len > most) throw new ProtocolError(f ? `${where}: sample ${b} has length ${len} but ${m} has only ${most} steps` : `${where}: sample ${b} has ${len} frames but vision has only ${most} per sample`);
    });
    lengths.set(m, v);
  }
  const samples: Sample[] = Array.from({ length: B }, () => ({}));
  for (const [m, f] of feats) {
    const step = f.L * f.D;
    const lens = lengths.get(m);
    for (let b = 0; b < B; b++) {
      samples[b]![m] = { features: f.values.subarray(b * step, (b + 1) * step), length: lens ? lens[b]! : f.L };
    }
  }
  for (const [m, r] of rawTensors) {
    for (let b = 0; b < B; b++) {
      const sample = samples[b]!;
      if (m === 'text') {
        const text = r.values[b]!.toString('utf8');
        sample.text = text.length ? text : null;
      } else if (m === 'audio') {
        const wav = r.values[b]!;
        sample.audio = wav.length ? new Uint8Array(wav.buffer, wav.byteOffset, wav.length) : null;
      } else {
        const F = r.shape[1]!;
        const n = lengths.get('vision')?.[b] ?? F;
        const frames = r.values.slice(b * F, b * F + n).map((f, j) => {
          if (f.length === 0) throw new ProtocolError(`input vision: sample ${b} frame ${j} is empty (send fewer frames with vision_lengths)`);
          return new Uint8Array(f.buffer, f.byteOffset, f.length);
        });
        sample.vision = n > 0 ? { frames } : null;
      }
    }
  }

  const options: PredictOptions = {};
  if (parameters !== undefined) {
    if (!isObject(parameters)) throw new ProtocolError('parameters must be an object');
    if (parameters.labels !== undefined) options.labels = stringList('labels', parameters.labels);
    if (parameters.values !== undefined) {
      if (!options.labels) throw new ProtocolError('parameters.values was given without parameters.labels');
      options.values = numberList('values', parameters.values);
      if (options.values.length !== options.labels.length) throw new ProtocolError(`parameters.values has ${options.values.length} numbers for ${options.labels.length} labels`);
    }
  }
  const binaryOut: ParsedInfer['binary'] = { all: false, per: new Map() };
  if (isObject(parameters) && parameters.binary_data_output !== undefined) {
    if (typeof parameters.binary_data_output !== 'boolean') throw new ProtocolError(`parameters.binary_data_output must be true or false, received ${JSON.stringify(parameters.binary_data_output)}`);
    binaryOut.all = parameters.binary_data_output;
  }
  let picked: OutputName[] | null = null;
  if (outputs !== undefined) {
    if (!Array.isArray(outputs)) throw new ProtocolError('outputs must be an array of { name }');
    picked = outputs.map((o, i) => {
      const n = isObject(o) ? o.name : undefined;
      if (typeof n !== 'string' || !(OUTPUT_NAMES as readonly string[]).includes(n)) {
        throw new ProtocolError(`outputs[${i}]: unknown output ${JSON.stringify(n)}; this model gives ${OUTPUT_NAMES.join(', ')}`);
      }
      const params = (o as Record<string, unknown>).parameters;
      if (params !== undefined) {
        if (!isObject(params)) throw new ProtocolError(`outputs[${i}] (${n}): parameters must be an object`);
        if (params.binary_data !== undefined) {
          if (typeof params.binary_data !== 'boolean') throw new ProtocolError(`outputs[${i}] (${n}): parameters.binary_data must be true or false, received ${JSON.stringify(params.binary_data)}`);
          binaryOut.per.set(n as OutputName, params.binary_data);
        }
      }
      return n as OutputName;
    });
    if (new Set(picked).size !== picked.length) throw new ProtocolError(`outputs names an output twice (${picked.join(', ')})`);
    if (picked.includes('score') && options.labels && !options.values) throw new ProtocolError('output score needs parameters.values (one number per label) for a custom label set');
  }
  return { id: id as string | undefined, samples, options, outputs: picked, binary: binaryOut };
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; data?: Array<number | string>; parameters?: Record<string, unknown> }>;
}

/** An infer response: the JSON header and, with binary outputs, their bytes in output order. */
export interface EncodedInfer {
  header: InferResponse;
  /** Empty when every output is JSON. */
  blobs: Buffer[];
}

/** FP32 values as little-endian bytes. */
function fp32Bytes(values: number[]): Buffer {
  const f = Float32Array.from(values);
  const out = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  if (!LITTLE_ENDIAN) out.swap32();
  return out;
}

/** BYTES elements as the binary extension frames them: a little-endian uint32 length, then UTF-8. */
function bytesTensor(values: string[]): Buffer {
  const parts = values.map((v) => Buffer.from(v, 'utf8'));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, o);
    p.copy(out, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** Predictions → the response's output tensors (JSON data, or binary blobs where asked for). */
export function inferResponse(modelName: string, parsed: ParsedInfer, preds: Prediction[], labels: readonly string[]): EncodedInfer {
  const B = preds.length;
  const hasScore = preds.every((p) => p.score !== null);
  const names = parsed.outputs ?? (hasScore ? ['probs', 'score', 'label'] : ['probs', 'label']);
  const blobs: Buffer[] = [];
  const outputs: InferResponse['outputs'] = names.map((n) => {
    const asBinary = parsed.binary.per.get(n) ?? parsed.binary.all;
    const t = n === 'probs'
      ? { name: n, datatype: 'FP32', shape: [B, labels.length], data: preds.flatMap((p) => p.probs) as Array<number | string>, parameters: { labels: [...labels] } as Record<string, unknown> }
      : n === 'score'
        ? { name: n, datatype: 'FP32', shape: [B], data: preds.map((p) => p.score!) as Array<number | string> }
        : { name: n, datatype: 'BYTES', shape: [B], data: preds.map((p) => p.label) as Array<number | string> };
    if (!asBinary) return t;
    const blob = t.datatype === 'BYTES' ? bytesTensor(t.data as string[]) : fp32Bytes(t.data as number[]);
    blobs.push(blob);
    const { data: _data, ...meta } = t;
    return { ...meta, parameters: { ...('parameters' in t ? t.parameters : {}), binary_data_size: blob.length } };
  });
  return { header: { model_name: modelName, model_version: '1', ...(parsed.id !== undefined ? { id: parsed.id } : {}), outputs }, blobs };
}
